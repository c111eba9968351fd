/**
 * viz's HTTP JSON API (metrics-api, port 8085) and tap stream (port 8088).
 * The dashboard server mounts the same routes so one port-forward is enough.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@weft/common/log';
import { InvalidArgumentError, PermissionDeniedError } from '../errors.js';
import { queryEdges } from '../metrics/edges.js';
import { checkWindow, type ScopedRef } from '../metrics/promql.js';
import { queryRoutes } from '../metrics/routes.js';
import type { Querier } from '../metrics/stat.js';
import { queryTimeSeries, type RangeQuerier } from '../metrics/timeseries.js';
import { StatService } from '../metrics/stat.js';
import { fetchPresentedCertificate, fetchProxyMetrics } from '../proxy-admin.js';
import { isNamespaceName, parseKind, parseResource, type ResourceRef } from '../resource.js';
import type { TapAggregator, TapClientTls } from '../tap/aggregator.js';
import type { TapAuthorizer } from '../tap/authorizer.js';
import { tapScope } from '../tap/scope.js';
import { findPod, type TargetSource } from '../targets.js';
import type { AllowedHosts } from './allowed-hosts.js';
import { sendError, sendJson } from './respond.js';

export type Route = (req: IncomingMessage, res: ServerResponse, params: URLSearchParams) => Promise<void>;

export interface VizDeps {
  readonly prometheus: Querier & RangeQuerier & { ready(): Promise<boolean> };
  readonly targets: TargetSource;
  readonly tap: TapAggregator;
  readonly tapTls: TapClientTls;
  readonly authorizer: TapAuthorizer;
  readonly version: string;
  readonly log: Logger;
}

function namespaceParam(p: URLSearchParams, key = 'namespace'): string | undefined {
  const v = p.get(key) || undefined;
  if (v !== undefined && !isNamespaceName(v)) throw new InvalidArgumentError(`${key} "${v}" is not a valid namespace name`);
  return v;
}

function required(p: URLSearchParams, key: string): string {
  const v = p.get(key);
  if (!v) throw new InvalidArgumentError(`query parameter "${key}" is required`);
  return v;
}

function scoped(p: URLSearchParams, key: 'from' | 'to'): ScopedRef | undefined {
  const raw = p.get(key);
  if (!raw) return undefined;
  return { ...parseResource(raw), namespace: namespaceParam(p, `${key}Namespace`) };
}

function window(p: URLSearchParams): string {
  return checkWindow(p.get('window') || '1m');
}

function limit(p: URLSearchParams, fallback: number): number {
  const raw = p.get('limit');
  if (!raw) return fallback;
  if (!/^\d{1,9}$/.test(raw)) throw new InvalidArgumentError(`limit "${raw}" is not a non-negative integer`);
  return Number(raw);
}

export function apiRoutes(d: VizDeps): Map<string, Route> {
  const stat = new StatService(d.prometheus);
  return new Map<string, Route>([
    ['/api/v1/stat', async (_q, res, p) => {
      const resource: ResourceRef = parseResource(required(p, 'resource'));
      sendJson(res, 200, await stat.stat({ resource, namespace: namespaceParam(p), from: scoped(p, 'from'), to: scoped(p, 'to'), window: window(p) }));
    }],
    ['/api/v1/timeseries', async (_q, res, p) => {
      const resource = parseResource(required(p, 'resource'));
      sendJson(res, 200, await queryTimeSeries(d.prometheus, { resource, namespace: namespaceParam(p), window: window(p) }));
    }],
    ['/api/v1/edges', async (_q, res, p) => {
      const w = window(p);
      sendJson(res, 200, { window: w, edges: await queryEdges(d.prometheus, { kind: parseKind(p.get('kind') || 'deployment'), namespace: namespaceParam(p), window: w }) });
    }],
    ['/api/v1/routes', async (_q, res, p) => {
      const w = window(p);
      const rows = await queryRoutes(d.prometheus, { resource: parseResource(p.get('resource') || 'deployment'), namespace: namespaceParam(p), window: w, limit: limit(p, 0) || undefined });
      sendJson(res, 200, { window: w, routes: rows });
    }],
    ['/api/v1/proxies', async (_q, res, p) => {
      const ns = namespaceParam(p);
      sendJson(res, 200, { proxies: (await d.targets.list()).filter((t) => !ns || t.namespace === ns) });
    }],
    ['/api/v1/proxy-metrics', async (_q, res, p) => {
      const t = await findPod(d.targets, namespaceParam(p) ?? 'default', required(p, 'pod'));
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(await fetchProxyMetrics(t));
    }],
    ['/api/v1/identity', async (_q, res, p) => {
      const t = await findPod(d.targets, namespaceParam(p) ?? 'default', required(p, 'pod'));
      sendJson(res, 200, { namespace: t.namespace, pod: t.name, identity: t.identity, certificate: await fetchPresentedCertificate(t, d.tapTls) });
    }],
    ['/api/v1/version', async (_q, res) => {
      sendJson(res, 200, { viz: d.version, prometheusReady: await d.prometheus.ready() });
    }],
  ]);
}

export function tapHttpRoutes(d: VizDeps): Map<string, Route> {
  return new Map<string, Route>([
    ['/api/v1/tap', async (req, res, p) => {
      // One scope for both authorization and proxy selection: what is authorized is what is tapped.
      const scope = tapScope(parseResource(required(p, 'resource')), namespaceParam(p));
      const who = await d.authorizer.authorize({ remoteAddress: req.socket.remoteAddress, headers: req.headers, scope });
      const tapReq = {
        scope,
        match: { method: p.get('method') || undefined, pathPrefix: p.get('path') || undefined, authority: p.get('authority') || undefined },
        limit: limit(p, 0),
      };
      const proxies = await d.tap.resolve(tapReq);
      d.log.info({ who, resource: p.get('resource'), namespace: scope.namespace ?? '*', proxies: proxies.length }, 'tap started');
      const abort = new AbortController();
      res.on('close', () => abort.abort());
      res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      res.flushHeaders();
      for await (const line of d.tap.observe(tapReq, proxies, abort.signal)) {
        if (!res.write(JSON.stringify(line) + '\n')) await new Promise((r) => res.once('drain', r));
      }
      res.end();
    }],
  ]);
}

/**
 * Dispatches to a route; unknown paths are 404, errors become JSON with their
 * status. A Host viz does not answer to is 403 before anything else runs.
 */
export function dispatch(routes: ReadonlyMap<string, Route>, hosts: AllowedHosts, fallback?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://viz.local');
    const route = routes.get(url.pathname);
    const run = async () => {
      if (!hosts.allows(req.headers.host)) {
        throw new PermissionDeniedError(`Host "${req.headers.host ?? ''}" is not a name viz answers to (DNS rebinding defence); add it to WEFT_VIZ_ALLOWED_HOSTS`);
      }
      if (route) {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          sendJson(res, 405, { error: { code: 'INVALID_ARGUMENT', message: `${req.method} is not allowed; use GET` } });
          return;
        }
        return route(req, res, url.searchParams);
      }
      if (url.pathname === '/live' || url.pathname === '/ready') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`${url.pathname.slice(1)}\n`);
        return;
      }
      if (fallback && (await fallback(req, res))) return;
      sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${url.pathname}` } });
    };
    run().catch((err: unknown) => sendError(res, err));
  };
}
