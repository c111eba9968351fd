/**
 * Outbound: resolves a concrete service into endpoints through discovery,
 * keeps a balancer updated with every discovery change, and sends each
 * request (or connection) to the endpoint the balancer picks. An authority
 * discovery does not know fails fast (503), unless iptables gave an original
 * destination: then the traffic goes there unchanged, as to any unmeshed
 * address outside the cluster — and discovery is asked again with a bounded
 * backoff, so a pod that becomes known (e.g. an EndpointSlice that lagged)
 * gets mTLS instead of staying plaintext for the life of the process.
 */
import { performance } from 'node:perf_hooks';
import type { Balancer, Concrete, Endpoint, NewBalancer, NewService, Service } from '../svc.js';
import type { Discovery } from '../discovery/discovery.js';
import { NoEndpointsError, UnknownAuthorityError } from '../errors.js';
import type { Disposable } from './cache.js';

export interface ResolveOptions<Req, Rsp> {
  readonly discovery: Discovery;
  readonly newBalancer: NewBalancer;
  /** Tells the balancer which responses were failures (5xx). */
  readonly isFailure?: (rsp: Rsp) => boolean;
  /** True when the caller went away (HTTP: the request was aborted): not the endpoint's fault, so not a failure. */
  readonly clientGone?: (req: Req) => boolean;
  /** Connection-level (opaque TCP): the service resolves at close, so the lease is marked connected at once. */
  readonly connectionLevel?: boolean;
  /** First and longest wait before asking discovery again about an authority it did not know. */
  readonly retryMs?: { readonly first: number; readonly max: number };
}

const RETRY = { first: 1000, max: 60_000 };

export function resolveEndpoints<Req, Rsp>(opts: ResolveOptions<Req, Rsp>, inner: NewService<Endpoint, Req, Rsp>): NewService<Concrete, Req, Rsp> {
  const retry = opts.retryMs ?? RETRY;
  return (concrete) => {
    let balancer: Balancer | undefined;
    let resolving: Promise<Balancer> | undefined;
    let unsubscribe: (() => void) | undefined;
    let passthrough: Endpoint | undefined;
    let retryAt = 0;
    let backoff = retry.first;
    const resolve = (): Promise<Balancer> =>
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

    const svc: Service<Req, Rsp> & Disposable = async (req) => {
      if (passthrough) {
        const now = performance.now();
        if (now >= retryAt) {
          retryAt = now + backoff;
          backoff = Math.min(backoff * 2, retry.max);
          resolve().catch(() => undefined);
        }
        return inner(passthrough)(req);
      }
      let b = balancer;
      if (!b) {
        try {
          b = await resolve();
        } catch (err) {
          const orig = concrete.logical.origDst;
          if (!(err instanceof UnknownAuthorityError) || !orig) throw err;
          passthrough = { addr: orig, identity: undefined, inboundPort: undefined, hint: 'unknown', labels: {}, weight: 1 };
          retryAt = performance.now() + backoff;
          return inner(passthrough)(req);
        }
      }
      const lease = b.pick();
      if (!lease) throw new NoEndpointsError(concrete.authority);
      const pending = inner(lease.endpoint)(req);
      if (opts.connectionLevel) lease.connected();
      let rsp: Rsp;
      try {
        rsp = await pending;
      } catch (err) {
        lease.done(opts.clientGone?.(req) ?? false);
        throw err;
      }
      lease.done(!(opts.isFailure?.(rsp) ?? false) || (opts.clientGone?.(req) ?? false));
      return rsp;
    };
    svc.dispose = () => unsubscribe?.();
    return svc;
  };
}
