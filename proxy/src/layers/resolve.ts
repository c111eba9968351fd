/**
 * Outbound: resolves a concrete service into endpoints through discovery,
 * keeps a balancer updated with every discovery change, and sends each
 * request (or connection) to the endpoint the balancer picks. An authority
 * discovery does not know fails fast (503), unless iptables gave an original
 * destination: then the traffic goes there unchanged, as to any unmeshed
 * address outside the cluster.
 */
import type { Balancer, Concrete, Endpoint, NewBalancer, NewService } from '../svc.js';
import type { Discovery } from '../discovery/discovery.js';
import { NoEndpointsError, UnknownAuthorityError } from '../errors.js';

export interface ResolveOptions<Req, Rsp> {
  readonly discovery: Discovery;
  readonly newBalancer: NewBalancer;
  /** Tells the balancer which responses were failures (5xx). */
  readonly isFailure?: (rsp: Rsp) => boolean;
  /** True when the caller went away (HTTP: the request was aborted): not the endpoint's fault, so not a failure. */
  readonly clientGone?: (req: Req) => boolean;
  /** Connection-level (opaque TCP): the service resolves at close, so the lease is marked connected at once. */
  readonly connectionLevel?: boolean;
}

export function resolveEndpoints<Req, Rsp>(opts: ResolveOptions<Req, Rsp>, inner: NewService<Endpoint, Req, Rsp>): NewService<Concrete, Req, Rsp> {
  return (concrete) => {
    let balancer: Balancer | undefined;
    let resolving: Promise<Balancer> | undefined;
    let passthrough: Endpoint | undefined;
    const resolve = (): Promise<Balancer> =>
      (resolving ??= opts.discovery.resolve(concrete.authority).then(
        (set) => {
          const b = opts.newBalancer();
          b.update(set.endpoints);
          set.subscribe((eps) => b.update(eps));
          return (balancer = b);
        },
        (err: unknown) => {
          resolving = undefined;
          throw err;
        },
      ));

    return async (req) => {
      if (passthrough) return inner(passthrough)(req);
      let b = balancer;
      if (!b) {
        try {
          b = await resolve();
        } catch (err) {
          const orig = concrete.logical.origDst;
          if (!(err instanceof UnknownAuthorityError) || !orig) throw err;
          passthrough = { addr: orig, identity: undefined, inboundPort: undefined, hint: 'unknown', labels: {}, weight: 1 };
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
  };
}
