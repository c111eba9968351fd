/**
 * gRPC wiring: each `Get`, `GetProfile` and `Watch` call becomes a watch on
 * the discovery core whose messages are queued into the server stream until
 * the client goes away.
 */
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import { destination, policy } from '@weft/api';
import { WeftError } from '@weft/common/errors';
import type { Logger } from '@weft/common/log';
import type { Discovery, Unwatch } from './discovery.js';
import type { DestinationMetrics } from './metrics.js';

/**
 * Bridges a push-style watch to the server stream. The watch starts before
 * the stream does, so a bad request fails the call with its own status.
 */
function streamOf<T>(ctx: HandlerContext, start: (push: (m: T) => void) => Unwatch, onSend: () => void): AsyncGenerator<T> {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  let unwatch: Unwatch;
  try {
    unwatch = once(
      start((m) => {
        queue.push(m);
        wake?.();
      }),
    );
  } catch (err) {
    throw toConnectError(err);
  }
  const onAbort = (): void => {
    unwatch();
    wake?.();
  };
  ctx.signal.addEventListener('abort', onAbort);
  return (async function* () {
    try {
      while (!ctx.signal.aborted) {
        if (queue.length === 0) {
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
          continue;
        }
        onSend();
        yield queue.shift()!;
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      unwatch();
    }
  })();
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

function toConnectError(err: unknown): ConnectError {
  if (err instanceof WeftError) return new ConnectError(err.message, err.grpcStatus as Code);
  return new ConnectError(String((err as Error)?.message ?? err), Code.Internal);
}

export function destinationRoutes(discovery: Discovery, metrics: DestinationMetrics, log: Logger): (router: ConnectRouter) => void {
  return (router) => {
    router.service(destination.Destination, {
      get(req, ctx) {
        log.debug({ path: req.path }, 'Get');
        return streamOf(ctx, (push) => track(metrics, 'get', discovery.watchEndpoints(req.path, push)), () => metrics.updates.inc({ api: 'get' }));
      },
      getProfile(req, ctx) {
        log.debug({ path: req.path }, 'GetProfile');
        return streamOf(ctx, (push) => track(metrics, 'profile', discovery.watchProfile(req.path, push)), () => metrics.updates.inc({ api: 'profile' }));
      },
    });
  };
}

export function policyRoutes(discovery: Discovery, metrics: DestinationMetrics, log: Logger): (router: ConnectRouter) => void {
  return (router) => {
    router.service(policy.Inbound, {
      watch(req, ctx) {
        log.debug({ workload: req.workload, port: req.port }, 'Watch');
        return streamOf(ctx, (push) => track(metrics, 'policy', discovery.watchPolicy(req.workload, req.port, push)), () => metrics.updates.inc({ api: 'policy' }));
      },
    });
  };
}

function track(metrics: DestinationMetrics, api: string, unwatch: Unwatch): Unwatch {
  metrics.streams.inc({ api });
  return () => {
    metrics.streams.dec({ api });
    unwatch();
  };
}
