// Gateway API routes through real proxies: HTTPRoutes are translated by the
// real destination (in-memory Kubernetes objects) and read over its real
// GetProfile stream; a client proxy and a server proxy (mTLS) carry the
// traffic to two applications. Per-rule weighted backends (measured over
// 4,000 requests), query-parameter and header matches, request and response
// header modifiers, URL rewrite, redirect, route_kind in the route metrics,
// and a route change applied live.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { createLogger } from '@weft/common/log';
import { MemorySource } from '@weft/destination/sources/memory';
import { startTestDestination, type TestDestination } from '@weft/destination/testing/serve';
import { service } from '@weft/destination/testing/fixtures';
import { startMesh, metricValue, SERVER_ID, type Mesh } from './testing/mesh.js';
import { endpoint } from './discovery/discovery.js';
import { DestinationProfiles } from './discovery/profiles.js';

const WEB = 'web.demo.svc.cluster.local:80';
const V2 = 'web-v2.demo.svc.cluster.local:80';
const parentRefs = [{ group: '', kind: 'Service', name: 'web', port: 80 }];

const source = new MemorySource();
const apps: http.Server[] = [];
let dest: TestDestination;
let profiles: DestinationProfiles;
let mesh: Mesh;
let agent: http.Agent;

interface Echo {
  app: string;
  path: string;
  host: string;
  headers: http.IncomingHttpHeaders;
}

/** An application that answers with its name and what it received. */
async function app(name: string): Promise<number> {
  const s = http.createServer((req, res) => {
    const body: Echo = { app: name, path: req.url ?? '', host: req.headers.host ?? '', headers: req.headers };
    res.writeHead(200, { 'content-type': 'application/json', 'x-debug-app': name }).end(JSON.stringify(body));
  });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  apps.push(s);
  return (s.address() as AddressInfo).port;
}

function httpRoute(name: string, rules: unknown[]) {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace: 'demo', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { parentRefs, rules },
  };
}

before(async () => {
  const [p1, p2] = [await app('web'), await app('web-v2')];
  mesh = await startMesh();
  const inboundPort = mesh.server.ports.inbound;
  mesh.discovery.set(WEB, [endpoint('127.0.0.1', p1, { identity: SERVER_ID, inboundPort })]);
  mesh.discovery.set(V2, [endpoint('127.0.0.1', p2, { identity: SERVER_ID, inboundPort })]);

  source.apply('Service', service('web', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80 }] }));
  source.apply('Service', service('web-v2', { clusterIP: '10.96.0.11', ports: [{ name: 'http', port: 80 }] }));
  source.apply(
    'HTTPRoute',
    httpRoute('web-routes', [
      {
        name: 'canary',
        matches: [{ path: { type: 'PathPrefix', value: '/split' } }],
        backendRefs: [
          { name: 'web', port: 80, weight: 75 },
          { name: 'web-v2', port: 80, weight: 25 },
        ],
      },
      {
        name: 'beta',
        matches: [{ path: { type: 'PathPrefix', value: '/q' }, queryParams: [{ name: 'v', value: '2' }] }],
        backendRefs: [{ name: 'web-v2', port: 80 }],
      },
      {
        name: 'tester',
        matches: [{ path: { type: 'PathPrefix', value: '/q' }, headers: [{ name: 'x-tester', value: 'yes' }] }],
        backendRefs: [{ name: 'web-v2', port: 80 }],
      },
      {
        name: 'api',
        matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
        filters: [
          {
            type: 'RequestHeaderModifier',
            requestHeaderModifier: {
              set: [{ name: 'x-version', value: '2' }],
              add: [{ name: 'x-tag', value: 'mesh' }],
              remove: ['x-debug'],
            },
          },
          {
            type: 'ResponseHeaderModifier',
            responseHeaderModifier: { set: [{ name: 'x-served-by', value: 'weft' }], remove: ['x-debug-app'] },
          },
          { type: 'URLRewrite', urlRewrite: { hostname: 'api.internal', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } } },
        ],
      },
      {
        name: 'moved',
        matches: [{ path: { type: 'Exact', value: '/moved' } }],
        filters: [
          {
            type: 'RequestRedirect',
            requestRedirect: {
              scheme: 'https',
              hostname: 'new.example',
              statusCode: 301,
              path: { type: 'ReplaceFullPath', replaceFullPath: '/here' },
            },
          },
        ],
      },
    ]) as never,
  );
  const log = createLogger('gateway-routes-test', 'silent');
  dest = await startTestDestination(source, log);
  const client = dest.client();
  profiles = new DestinationProfiles(() => client, '{"ns":"demo"}', log);
  // The proxies read their profiles from destination's GetProfile stream, as in a pod.
  profiles.watch(WEB).subscribe((p) => mesh.profiles.set(WEB, p));
  await waitUntil(() => (profiles.watch(WEB).current()?.routes.length ?? 0) >= 5);
  agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
});

after(async () => {
  agent?.destroy();
  profiles?.close();
  await dest?.close();
  await mesh?.close();
  for (const s of apps) s.close();
});

async function waitUntil(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 600 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

function get(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: mesh.client.ports.outbound, path, headers: { host: WEB, ...headers }, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

const echo = async (path: string, headers?: Record<string, string>): Promise<Echo> => {
  const r = await get(path, headers);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Echo;
};

test("a rule's weighted backendRefs split its traffic 75/25 within ±3 % over 4,000 requests", { timeout: 180_000 }, async () => {
  const counts = { web: 0, 'web-v2': 0, failed: 0 };
  let left = 4000;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (left-- > 0) {
        const r = await get('/split');
        if (r.status !== 200) counts.failed++;
        else counts[(JSON.parse(r.body) as Echo).app as 'web' | 'web-v2']++;
      }
    }),
  );
  const share = counts['web-v2'] / (counts.web + counts['web-v2']);
  console.log(
    `# gateway routes: split web/web-v2 = ${counts.web}/${counts['web-v2']} (web-v2 ${(share * 100).toFixed(1)} %, want 25 ± 3), failed ${counts.failed}`,
  );
  assert.equal(counts.failed, 0);
  assert.ok(Math.abs(share - 0.25) <= 0.03, `web-v2 share ${share}`);
  // Other paths are not split: the rule's backends belong to the rule.
  for (let i = 0; i < 20; i++) assert.equal((await echo('/other')).app, 'web');
});

test('query-parameter and header matches pick their rule', async () => {
  assert.equal((await echo('/q?v=2')).app, 'web-v2');
  assert.equal((await echo('/q?v=1')).app, 'web');
  assert.equal((await echo('/q?x=1&v=2')).app, 'web-v2');
  assert.equal((await echo('/q', { 'x-tester': 'yes' })).app, 'web-v2');
  assert.equal((await echo('/q', { 'x-tester': 'no' })).app, 'web');
  console.log('# gateway routes: match ?v=2 and x-tester: yes → web-v2, others → web');
});

test('header modifiers and URL rewrite change what the application receives and what the client gets back', async () => {
  const r = await get('/api/books?id=7', { 'x-debug': '1', 'x-tag': 'app', 'x-version': '1' });
  assert.equal(r.status, 200);
  const e = JSON.parse(r.body) as Echo;
  assert.equal(e.path, '/v2/books?id=7', 'prefix /api replaced by /v2, query kept');
  assert.equal(e.host, 'api.internal');
  assert.equal(e.headers['x-version'], '2', 'set replaces');
  assert.equal(e.headers['x-tag'], 'app, mesh', 'add appends');
  assert.equal(e.headers['x-debug'], undefined, 'remove drops');
  assert.equal(r.headers['x-served-by'], 'weft');
  assert.equal(r.headers['x-debug-app'], undefined);
});

test('a redirect is answered by the client proxy without reaching an application', async () => {
  const served = async () =>
    metricValue(await (await fetch(`http://127.0.0.1:${mesh.server.ports.admin}/metrics`)).text(), 'request_total', {
      direction: 'inbound',
    });
  const before = await served();
  const r = await get('/moved?x=1');
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, 'https://new.example/here?x=1');
  assert.equal(await served(), before, 'the server proxy saw no request');
  console.log(`# gateway routes: redirect /moved → ${r.status} ${String(r.headers.location)}`);
});

test('route metrics name the HTTPRoute rule and its kind', async () => {
  const text = await (await fetch(`http://127.0.0.1:${mesh.client.ports.admin}/metrics`)).text();
  assert.ok(
    metricValue(text, 'route_request_total', { direction: 'outbound', rt_route: 'web-routes/canary', route_kind: 'HTTPRoute' }) >= 4000,
  );
  assert.equal(
    metricValue(text, 'route_request_total', { direction: 'outbound', rt_route: 'web-routes/moved', route_kind: 'HTTPRoute' }),
    1,
  );
});

test('a changed route applies to the next requests', async () => {
  source.apply(
    'HTTPRoute',
    httpRoute('web-routes', [
      { name: 'canary', matches: [{ path: { type: 'PathPrefix', value: '/split' } }], backendRefs: [{ name: 'web-v2', port: 80 }] },
    ]) as never,
  );
  await waitUntil(() => profiles.watch(WEB).current()?.routes.length === 1, 'the changed HTTPRoute');
  for (let i = 0; i < 20; i++) assert.equal((await echo('/split')).app, 'web-v2');
  assert.equal((await get('/moved')).status, 200, 'the removed redirect no longer applies');
});
