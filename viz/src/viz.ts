/**
 * The viz process as a value: metrics-api (8085), tap (8088) and dashboard
 * (8084) servers over one Prometheus and one proxy target list. `main.ts`
 * builds it from the environment; the local demo and tests call `startViz`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { createLogger, type Logger } from '@weft/common/log';
import { PrometheusClient } from './metrics/prometheus.js';
import { TapAggregator, type TapClientTls } from './tap/aggregator.js';
import { AnyOfAuthorizer, LoopbackAuthorizer, TokenAuthorizer, type TapAuthorizer } from './tap/authorizer.js';
import { AllowedHosts } from './http/allowed-hosts.js';
import { apiRoutes, dispatch, tapHttpRoutes, type VizDeps } from './http/routes.js';
import { staticFiles } from './web/static.js';
import type { TargetSource } from './targets.js';

export interface Listen {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
}

export interface VizOptions {
  readonly prometheusUrl: string;
  readonly targets: TargetSource;
  /** viz's client certificate for the proxies' tap servers, and the trust anchors. */
  readonly tapTls: TapClientTls;
  /** Defaults to loopback-only. */
  readonly authorizer?: TapAuthorizer;
  readonly api?: Listen;
  readonly tap?: Listen;
  readonly web?: Listen;
  /** Host names viz answers to besides localhost and IP addresses (its Service names, an ingress host). */
  readonly allowedHosts?: readonly string[];
  readonly log?: Logger;
}

export interface Viz {
  readonly apiUrl: string;
  readonly tapUrl: string;
  readonly webUrl: string;
  close(): Promise<void>;
}

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
export const VIZ_VERSION = version;

async function listen(handler: http.RequestListener, at: Listen): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler);
  // Streams (tap) stay open as long as the caller wants them.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = at.host.includes(':') ? `[${at.host}]` : at.host === '0.0.0.0' ? '127.0.0.1' : at.host;
  return { server, url: `http://${host}:${port}` };
}

export function tokenOrLoopback(token: string | undefined): TapAuthorizer {
  return token ? new AnyOfAuthorizer([new LoopbackAuthorizer(), new TokenAuthorizer(token)]) : new LoopbackAuthorizer();
}

export async function startViz(opts: VizOptions): Promise<Viz> {
  const log = opts.log ?? createLogger('viz', 'warn');
  const deps: VizDeps = {
    prometheus: new PrometheusClient({ url: opts.prometheusUrl }),
    targets: opts.targets,
    tap: new TapAggregator(opts.targets, opts.tapTls, log),
    tapTls: opts.tapTls,
    authorizer: opts.authorizer ?? new LoopbackAuthorizer(),
    version,
    log,
  };
  const api = apiRoutes(deps);
  const tap = tapHttpRoutes(deps);
  const all = new Map([...api, ...tap]);
  const hosts = new AllowedHosts(opts.allowedHosts);
  const started = await Promise.allSettled([
    listen(dispatch(api, hosts), opts.api ?? { host: '127.0.0.1', port: 8085 }),
    listen(dispatch(tap, hosts), opts.tap ?? { host: '127.0.0.1', port: 8088 }),
    listen(dispatch(all, hosts, staticFiles()), opts.web ?? { host: '127.0.0.1', port: 8084 }),
  ]);
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const close = (): Promise<void> => Promise.all(servers.map(({ server }) => closeServer(server))).then(() => undefined);
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    // One port could not be had (in use, not allowed): the ones that listened close too, so nothing keeps the
    // process up half-started.
    await close();
    throw failed.reason;
  }
  return { apiUrl: servers[0]!.url, tapUrl: servers[1]!.url, webUrl: servers[2]!.url, close };
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
