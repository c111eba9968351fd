/**
 * The tap API (`weft.tap.v1.Tap/Observe`) on port 4190, gRPC over mTLS with
 * the pod certificate: streams matching TapEvents until the limit or the
 * caller cancels. Slow callers lose events rather than slowing requests.
 */
import type { ConnectRouter } from '@connectrpc/connect';
import { tap } from '@weft/api';
import { startGrpcServer, type GrpcServer } from '@weft/common/grpc';
import type { TapHub } from './tap-hub.js';
import type { TlsCredentials } from '../identity/local-identity.js';

const MAX_QUEUE = 10_000;
const DEFAULT_LIMIT = 100;

export function tapRoutes(hub: TapHub): (router: ConnectRouter) => void {
  return (router) =>
    router.service(tap.Tap, {
      async *observe(req, ctx) {
        const queue: tap.TapEvent[] = [];
        let wake: (() => void) | undefined;
        const sub = {
          match: { method: req.match?.method ?? '', pathPrefix: req.match?.pathPrefix ?? '', authority: req.match?.authority ?? '' },
          remaining: req.limit || DEFAULT_LIMIT,
          push(e: tap.TapEvent) {
            if (queue.length < MAX_QUEUE) queue.push(e);
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
              if (e.event.case === 'responseEnd' && ++ended >= (req.limit || DEFAULT_LIMIT)) return;
              continue;
            }
            await new Promise<void>((r) => (wake = r));
            wake = undefined;
          }
        } finally {
          unsubscribe();
          ctx.signal.removeEventListener('abort', onAbort);
        }
      },
    });
}

export function startTapServer(hub: TapHub, host: string, port: number, creds: TlsCredentials, anchors: string): Promise<GrpcServer> {
  return startGrpcServer({ host, port, tls: { ca: anchors, cert: creds.cert, key: creds.key }, requireClientCert: true, routes: tapRoutes(hub) });
}
