/**
 * gRPC wiring: each `Get`, `GetProfile` and `Watch` call becomes a watch on
 * the discovery core whose latest state is streamed until the client goes
 * away (server-stream.ts: a slow client holds one pending state, not a
 * growing queue).
 */
import type { ConnectRouter } from '@connectrpc/connect';
import { destination, policy } from '@weft/api';
import type { Logger } from '@weft/common/log';
import type { WatchHub, Unwatch } from './watch-hub.js';
import type { DestinationMetrics } from './metrics.js';
import type { EndpointState } from './resolve/endpoints.js';
import { streamOf, type StreamHooks } from './server-stream.js';
import { EndpointTranslator } from './translators/endpoint-translator.js';

/** One translator per stream, run when the client is ready: it diffs what the client holds against the latest state. */
function endpointMessages(): (state: EndpointState) => destination.Update[] {
  let out: destination.Update[] = [];
  const translator = new EndpointTranslator((u) => out.push(u));
  return (state) => {
    out = [];
    translator.update(state);
    return out;
  };
}

/** Profiles and policies are whole messages: the latest one is all a client needs. */
function whole<M>(m: M): readonly M[] {
  return [m];
}

export function destinationRoutes(discovery: WatchHub, metrics: DestinationMetrics, log: Logger): (router: ConnectRouter) => void {
  return (router) => {
    router.service(destination.Destination, {
      get(req, ctx) {
        log.debug({ path: req.path }, 'Get');
        return streamOf(ctx, (push) => track(metrics, 'get', discovery.watchEndpointStates(req.path, push)), endpointMessages(), hooks(metrics, 'get'));
      },
      getProfile(req, ctx) {
        log.debug({ path: req.path }, 'GetProfile');
        return streamOf(ctx, (push) => track(metrics, 'profile', discovery.watchProfile(req.path, push)), whole<destination.DestinationProfile>, hooks(metrics, 'profile'));
      },
    });
  };
}

export function policyRoutes(discovery: WatchHub, metrics: DestinationMetrics, log: Logger): (router: ConnectRouter) => void {
  return (router) => {
    router.service(policy.Inbound, {
      watch(req, ctx) {
        log.debug({ workload: req.workload, port: req.port }, 'Watch');
        return streamOf(ctx, (push) => track(metrics, 'policy', discovery.watchPolicy(req.workload, req.port, push)), whole<policy.Server>, hooks(metrics, 'policy'));
      },
    });
  };
}

function hooks(metrics: DestinationMetrics, api: string): StreamHooks {
  const updates = metrics.updates.labels({ api });
  const superseded = metrics.superseded.labels({ api });
  return { sent: () => updates.inc(), superseded: () => superseded.inc() };
}

function track(metrics: DestinationMetrics, api: string, unwatch: Unwatch): Unwatch {
  metrics.streams.inc({ api });
  return () => {
    metrics.streams.dec({ api });
    unwatch();
  };
}
