/**
 * Outbound, per Concrete: `balance` resolves the concrete service into
 * endpoints through discovery, keeps a balancer (P2C over peak-EWMA) updated
 * with every discovery change, and sends each request (or connection) on the
 * endpoint the balancer picks; `failureAccrual` below it reports each pick's
 * outcome, which is what ejects an endpoint that keeps failing.
 *
 * An authority discovery does not know fails fast (503), unless iptables gave
 * an original destination: then the traffic goes there unchanged, as to any
 * unmeshed address outside the cluster — and discovery is asked again with a
 * bounded backoff, so a pod that becomes known (e.g. an EndpointSlice that
 * lagged) gets mTLS instead of staying plaintext for the life of the process.
 */
import { performance } from 'node:perf_hooks';
import type { Concrete, Endpoint, EndpointBalancer, EndpointLease, NewEndpointBalancer, NewService, Service } from '../svc.js';
import type { Discovery } from '../discovery/discovery.js';
import { NoEndpointsError, UnknownAuthorityError } from '../errors.js';
import type { Disposable } from './cache.js';

/** The service below the balancer: one request (or connection) on one pick. */
export type LeasedService<Req, Rsp> = (lease: EndpointLease, req: Req) => Promise<Rsp>;

export interface BalanceOptions {
  readonly discovery: Discovery;
  readonly newBalancer: NewEndpointBalancer;
  /** First and longest wait before asking discovery again about an authority it did not know. */
  readonly retryMs?: { readonly first: number; readonly max: number };
}

const RETRY = { first: 1000, max: 60_000 };

/** The stage boundary Concrete → Endpoint: discovery and the balancer's pick. */
export function balance<Req, Rsp>(opts: BalanceOptions): (inner: LeasedService<Req, Rsp>) => NewService<Concrete, Req, Rsp> {
  const retry = opts.retryMs ?? RETRY;
  return (inner) => (concrete) => {
    let balancer: EndpointBalancer | undefined;
    let resolving: Promise<EndpointBalancer> | undefined;
    let unsubscribe: (() => void) | undefined;
    let passthrough: EndpointLease | undefined;
    let retryAt = 0;
    let backoff = retry.first;
    const resolve = (): Promise<EndpointBalancer> =>
      (resolving ??= opts.discovery.resolve(concrete.authority).then(
        (set) => {
          const b = opts.newBalancer();
          b.update(set.endpoints);
          unsubscribe = set.subscribe((eps) => b.update(eps));
          passthrough = undefined;
          return (balancer = b);
        },
        (err: unknown) => {
          resolving = undefined;
          throw err;
        },
      ));

    const svc: Service<Req, Rsp> & Disposable = (req) => {
      if (passthrough) {
        const now = performance.now();
        if (now >= retryAt) {
          retryAt = now + backoff;
          backoff = Math.min(backoff * 2, retry.max);
          resolve().catch(() => undefined);
        }
        return inner(passthrough, req);
      }
      const b = balancer;
      if (!b) return resolve().then(() => svc(req), (err: unknown) => passthroughOr(err, req));
      const lease = b.pick();
      return lease ? inner(lease, req) : Promise.reject(new NoEndpointsError(concrete.authority));
    };
    const passthroughOr = (err: unknown, req: Req): Promise<Rsp> => {
      const orig = concrete.logical.origDst;
      if (!(err instanceof UnknownAuthorityError) || !orig) throw err;
      passthrough ??= unbalanced({ addr: orig, identity: undefined, inboundPort: undefined, hint: 'unknown', labels: {}, weight: 1 });
      retryAt = performance.now() + backoff;
      return inner(passthrough, req);
    };
    svc.dispose = () => unsubscribe?.();
    return svc;
  };
}

/** A lease outside any balancer (the original destination of an authority discovery does not know): outcomes go nowhere. */
function unbalanced(endpoint: Endpoint): EndpointLease {
  return { endpoint, connected: () => undefined, done: () => undefined };
}

export interface FailureAccrualOptions<Req, Rsp> {
  /** Which responses were failures (HTTP: 5xx). */
  readonly isFailure?: (rsp: Rsp) => boolean;
  /** True when the caller went away (HTTP: the request was aborted): not the endpoint's fault, so not a failure. */
  readonly clientGone?: (req: Req) => boolean;
  /** Connection-level (opaque TCP): the service resolves at close, so the lease is marked connected at once. */
  readonly connectionLevel?: boolean;
}

/**
 * Reports each pick's outcome to the balancer: its latency (peak-EWMA) and whether it failed. Consecutive failures
 * eject the endpoint from picks for a backoff, then one request probes it (proxy/src/balance/failure-accrual.ts).
 */
export function failureAccrual<Req, Rsp>(o: FailureAccrualOptions<Req, Rsp>): (inner: NewService<Endpoint, Req, Rsp>) => LeasedService<Req, Rsp> {
  return (inner) => async (lease, req) => {
    const pending = inner(lease.endpoint)(req);
    if (o.connectionLevel) lease.connected();
    let rsp: Rsp;
    try {
      rsp = await pending;
    } catch (err) {
      lease.done(o.clientGone?.(req) ?? false);
      throw err;
    }
    lease.done(!(o.isFailure?.(rsp) ?? false) || (o.clientGone?.(req) ?? false));
    return rsp;
  };
}
