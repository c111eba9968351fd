/**
 * The tap API (`weft.tap.v1.Tap/Observe`) on port 4190, gRPC over mTLS with
 * the pod certificate: streams matching TapEvents until the limit or the
 * caller cancels. Tap shows request paths and identities, so only the viz
 * tap identity (WEFT_PROXY_TAP_CLIENT_ID) may call it; any other mesh
 * identity gets PERMISSION_DENIED. Streams per proxy and events queued per
 * stream are bounded: slow callers lose events rather than slowing requests
 * or growing memory.
 */
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { tap } from '@weft/api';
import { peerCertificate, startGrpcServer, type GrpcServer } from '@weft/common/grpc';
import type { TapHub } from './tap-hub.js';
import type { TlsCredentials } from '../identity/local-identity.js';
import { identityOfSans } from '../transport/tls.js';

export interface TapLimits {
  /** Concurrent Observe streams per proxy. */
  readonly maxStreams: number;
  /** Events held per stream for a slow reader before new ones are dropped. */
  readonly maxQueue: number;
  /** Largest request limit a caller may ask for. */
  readonly maxLimit: number;
}

export const DEFAULT_TAP_LIMITS: TapLimits = { maxStreams: 8, maxQueue: 1000, maxLimit: 10_000 };
const DEFAULT_LIMIT = 100;

export function tapGrpcService(hub: TapHub, clientId: string, limits: TapLimits = DEFAULT_TAP_LIMITS): (router: ConnectRouter) => void {
  let streams = 0;
  return (router) =>
    router.service(tap.Tap, {
      async *observe(req, ctx) {
        const caller = identityOfSans(peerCertificate(ctx)?.subjectAltName);
        if (caller !== clientId) throw new ConnectError(`tap: ${caller ?? 'a caller without a mesh identity'} may not tap this proxy (only ${clientId})`, Code.PermissionDenied);
        if (streams >= limits.maxStreams) throw new ConnectError(`tap: ${limits.maxStreams} tap streams already open on this proxy`, Code.ResourceExhausted);
        streams++;
        const limit = Math.min(req.limit || DEFAULT_LIMIT, limits.maxLimit);
        const queue: tap.TapEvent[] = [];
        let wake: (() => void) | undefined;
        const sub = {
          match: { method: req.match?.method ?? '', pathPrefix: req.match?.pathPrefix ?? '', authority: req.match?.authority ?? '' },
          remaining: limit,
          push(e: tap.TapEvent) {
            if (queue.length < limits.maxQueue) queue.push(e);
            wake?.();
          },
        };
        const unsubscribe = hub.subscribe(sub);
        const onAbort = (): void => wake?.();
        ctx.signal.addEventListener('abort', onAbort);
        let ended = 0;
        try {
          while (!ctx.signal.aborted) {
            const e = queue.shift();
            if (e) {
              yield e;
              if (e.event.case === 'responseEnd' && ++ended >= limit) return;
              continue;
            }
            await new Promise<void>((r) => (wake = r));
            wake = undefined;
          }
        } finally {
          streams--;
          unsubscribe();
          ctx.signal.removeEventListener('abort', onAbort);
        }
      },
    });
}

export function startTapServer(hub: TapHub, host: string, port: number, creds: TlsCredentials, anchors: string, clientId: string, limits?: TapLimits): Promise<GrpcServer> {
  return startGrpcServer({ host, port, tls: { ca: anchors, cert: creds.cert, key: creds.key }, requireClientCert: true, routes: tapGrpcService(hub, clientId, limits) });
}
