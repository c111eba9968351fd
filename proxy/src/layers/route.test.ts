// Per-route metrics through real proxies: both the client proxy (outbound)
// and the server proxy (inbound, what `weft viz routes` reads) count
// requests, responses and latency by `rt_route`, classified by the route's
// response classes; a route change applies to the next request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import { startMesh, metricValue, SERVER_ID, type Mesh } from '../testing/mesh.js';
import { endpoint } from '../discovery/discovery.js';

const WEB = 'web.test.svc:80';
let mesh: Mesh;
let app: http.Server;

before(async () => {
  app = http.createServer((req, res) => res.writeHead(req.url!.startsWith('/missing') ? 404 : 200).end('ok'));
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  mesh = await startMesh();
  mesh.discovery.set(WEB, [endpoint('127.0.0.1', (app.address() as AddressInfo).port, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);
  mesh.profiles.set(
    WEB,
    create(destination.DestinationProfileSchema, {
      routes: [
        { name: 'GET /books/{id}', matches: [{ method: 'GET', path: { kind: { case: 'regex', value: '^/books/\\d+$' } } }], metricsLabels: { route: 'GET /books/{id}' } },
        { name: 'missing', matches: [{ path: { kind: { case: 'prefix', value: '/missing' } } }], responseClasses: [{ status: { min: 404, max: 404 }, isFailure: true }] },
      ],
    }),
  );
});

after(async () => {
  await mesh?.close();
  app?.close();
});

function get(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: mesh.client.ports.outbound, path, headers: { host: WEB }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      })
      .on('error', reject);
  });
}

const scrape = async (p: { ports: { admin: number } }) => (await fetch(`http://127.0.0.1:${p.ports.admin}/metrics`)).text();

test('requests are counted per route on both sides, with latency, classified by the route', { timeout: 60_000 }, async () => {
  for (let i = 0; i < 3; i++) assert.equal(await get(`/books/${i}`), 200);
  assert.equal(await get('/missing/x'), 404);
  assert.equal(await get('/other'), 200);
  for (const [proxy, direction] of [[mesh.client, 'outbound'], [mesh.server, 'inbound']] as const) {
    const text = await scrape(proxy);
    const books = { direction, authority: WEB, rt_route: 'GET /books/{id}' };
    assert.equal(metricValue(text, 'route_request_total', books), 3, direction);
    assert.equal(metricValue(text, 'route_response_total', { ...books, classification: 'success', status_code: '200' }), 3, direction);
    assert.equal(metricValue(text, 'route_response_latency_ms_count', { ...books, status_code: '200' }), 3, direction);
    assert.equal(metricValue(text, 'route_response_total', { direction, rt_route: 'missing', classification: 'failure', status_code: '404' }), 1, direction);
    // Requests matching no route are not given a route series.
    assert.ok(!text.includes('/other'));
  }
});

test('a route change applies to the next request', { timeout: 60_000 }, async () => {
  mesh.profiles.set(WEB, create(destination.DestinationProfileSchema, { routes: [{ name: 'other', matches: [{ path: { kind: { case: 'exact', value: '/other' } } }] }] }));
  assert.equal(await get('/other'), 200);
  assert.equal(await get('/books/1'), 200);
  const text = await scrape(mesh.server);
  assert.equal(metricValue(text, 'route_request_total', { direction: 'inbound', rt_route: 'other' }), 1);
  assert.equal(metricValue(text, 'route_request_total', { direction: 'inbound', rt_route: 'GET /books/{id}' }), 3, 'the old route is gone');
});
