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
import { newest } from '../keep-shapes.js';

/**
 * Another pick from the same balancer, avoiding the given endpoints (`ip:port`) while another is available;
 * undefined when none is available. One per Concrete, not per request.
 */
export type Repick = (avoid: ReadonlySet<string>) => EndpointLease | undefined;

/** The service below the balancer: one request (or connection) on one pick. */
export type LeasedService<Req, Rsp> = (lease: EndpointLease, req: Req) => Promise<Rsp>;

/** The leased service of one Concrete, given that Concrete's `repick` (for a request that was not delivered). */
export type NewLeased<Req, Rsp> = (repick: Repick) => LeasedService<Req, Rsp>;

export interface BalanceOptions {
  readonly discovery: Discovery;
  readonly newBalancer: NewEndpointBalancer;
  /** First and longest wait before asking discovery again about an authority it did not know. */
  readonly retryMs?: { readonly first: number; readonly max: number };
}

const RETRY = { first: 1000, max: 60_000 };

/** The stage boundary Concrete → Endpoint: discovery and the balancer's pick. */
export function balance<Req, Rsp>(opts: BalanceOptions): (inner: NewLeased<Req, Rsp>) => NewService<Concrete, Req, Rsp> {
  const retry = opts.retryMs ?? RETRY;
  return (newInner) => (concrete) => {
    let balancer: EndpointBalancer | undefined;
    let resolving: Promise<EndpointBalancer> | undefined;
    let unsubscribe: (() => void) | undefined;
    let passthrough: EndpointLease | undefined;
    let retryAt = 0;
    let backoff = retry.first;
    const inner = newInner((avoid) => balancer?.pick(avoid));
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
      if (lease === undefined) return Promise.reject(new NoEndpointsError(concrete.authority));
      newest.lease = lease;
      return inner(lease, req);
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
  /** Requests that were not delivered are sent again on another endpoint (HTTP: `httpRedispatch`). */
  readonly redispatch?: Redispatch<Req, Rsp>;
}

/**
 * Re-sending a request that never reached an application. Not the route's retry policy: it applies to every
 * route and method, and does not draw on the retry budget (a request that was not delivered costs the
 * endpoints nothing); failure accrual still counts the endpoint's failure, so a dead endpoint is soon ejected.
 */
export interface Redispatch<Req, Rsp> {
  /** Attempts after the first, at most, for one request. */
  readonly max: number;
  /** Whether the attempt's error, or its response (`err` undefined), says the request was not delivered to `endpoint`. */
  notDelivered(endpoint: Endpoint, rsp: Rsp | undefined, err: unknown): boolean;
  /** The request to send again, or undefined when it cannot be (body not replayable, deadline passed, client gone). */
  again(req: Req): Req | undefined;
  /** Drops a not-delivered response that is replaced by another attempt. */
  discard(rsp: Rsp): void;
  /** Counts one redispatch (metrics). */
  counted?(req: Req): void;
}

/** The balancer key of an endpoint (outbound/p2c.ts keys by `ip:port`). */
function endpointKey(ep: Endpoint): string {
  return `${ep.addr.ip}:${ep.addr.port}`;
}

/**
 * Reports each pick's outcome to the balancer: its latency (peak-EWMA) and whether it failed. Consecutive failures
 * eject the endpoint from picks for a backoff, then one request probes it (proxy/src/balance/failure-accrual.ts).
 */
export function failureAccrual<Req, Rsp>(o: FailureAccrualOptions<Req, Rsp>): (inner: NewService<Endpoint, Req, Rsp>) => NewLeased<Req, Rsp> {
  const rd = o.redispatch;
  return (inner) => (repick) => {
    /** After a not-delivered attempt on `lease`: more attempts on other picks (allocated only now, off the first attempt's path). */
    const redispatch = async (lease: EndpointLease, req: Req, rsp: Rsp | undefined, err: unknown): Promise<Rsp> => {
      const avoid = new Set<string>();
      for (let attempt = 1; ; attempt++) {
        const next = again(lease, req, repick, avoid);
        if (next === undefined) {
          if (rsp === undefined) throw err;
          return rsp;
        }
        if (rsp !== undefined) rd!.discard(rsp);
        [lease, req] = next;
        try {
          rsp = await inner(lease.endpoint)(req);
          err = undefined;
        } catch (e) {
          lease.done(o.clientGone?.(req) ?? false);
          if (attempt >= rd!.max || !rd!.notDelivered(lease.endpoint, undefined, e)) throw e;
          rsp = undefined;
          err = e;
          continue;
        }
        const ok = !(o.isFailure?.(rsp) ?? false) || (o.clientGone?.(req) ?? false);
        lease.done(ok);
        if (ok || attempt >= rd!.max || !rd!.notDelivered(lease.endpoint, rsp, undefined)) return rsp;
      }
    };
    // The first attempt's path is the same as without redispatch: the failure handling lives outside it.
    const afterError = (lease: EndpointLease, req: Req, err: unknown): Promise<Rsp> => {
      lease.done(o.clientGone?.(req) ?? false);
      if (rd !== undefined && rd.max > 0 && rd.notDelivered(lease.endpoint, undefined, err)) return redispatch(lease, req, undefined, err);
      throw err;
    };
    const afterFailure = (lease: EndpointLease, req: Req, rsp: Rsp): Rsp | Promise<Rsp> => {
      lease.done(false);
      return rd !== undefined && rd.max > 0 && rd.notDelivered(lease.endpoint, rsp, undefined) ? redispatch(lease, req, rsp, undefined) : rsp;
    };
    // Two reactions on the attempt's promise rather than an async function: an async frame (its promise, the
    // await's, the suspended state) was among the largest allocations of a proxied request.
    return (lease, req) => {
      let pending: Promise<Rsp>;
      try {
        pending = inner(lease.endpoint)(req);
      } catch (err) {
        return Promise.reject(err);
      }
      if (o.connectionLevel) lease.connected();
      return pending.then(
        (rsp) => {
          if (!(o.isFailure?.(rsp) ?? false) || (o.clientGone?.(req) ?? false)) {
            lease.done(true);
            return rsp;
          }
          return afterFailure(lease, req, rsp);
        },
        (err: unknown) => afterError(lease, req, err),
      );
    };
  };

  function again(failed: EndpointLease, req: Req, repick: Repick, avoid: Set<string>): [EndpointLease, Req] | undefined {
    const next = rd!.again(req);
    if (next === undefined) return undefined;
    avoid.add(endpointKey(failed.endpoint));
    const lease = repick(avoid);
    if (lease === undefined) return undefined;
    rd!.counted?.(next);
    return [lease, next];
  }
}
