// WEFT_PROXY_MESH_HTTP1=mux between real proxies: requests that were not delivered still go to another endpoint
// (a peer proxy whose port refuses; a peer proxy that drains, as in a rolling restart, while the client still has
// it as an endpoint), and the client's identity reaches the application. The wire and bodies are in
// mesh-http1.test.ts, the session itself in transport/mux.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { startMesh, testConfig, metricValue, CLIENT_ID, SERVER_ID } from './testing/mesh.js';
import { startProxy } from './proxy.js';
import { endpoint } from './discovery/discovery.js';
import { unusedPort } from '@weft/common/testing/ports';
import { createLogger } from '@weft/common/log';

/** An application answering `<method> <path> <client id>` after `delayMs`; counts requests per path. */
async function app(delayMs: number): Promise<{ port: number; seen: Map<string, number>; close(): void }> {
  const seen = new Map<string, number>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.set(req.url!, (seen.get(req.url!) ?? 0) + 1);
      setTimeout(() => res.end(`${req.method} ${req.url} ${req.headers['weft-client-id']}\n`), delayMs);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, seen, close: () => server.close() };
}

function send(port: number, authority: string, method: string, path: string, agent: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: { host: authority } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? 'hello' : undefined);
  });
}

test('mux: a peer proxy port that refuses is not delivered to: every POST of a non-retryable route succeeds on the other endpoint, once', { timeout: 60_000 }, async (t) => {
  // The live application answers slowly, so the balancer prefers the endpoint that fails fast, as in a rolling restart.
  const live = await app(60);
  t.after(() => live.close());
  const mesh = await startMesh({ appPort: live.port, clientConfig: { meshHttp1: 'mux' } });
  t.after(() => mesh.close());
  const closed = await unusedPort();
  mesh.discovery.set('refused.test.svc:80', [
    endpoint('127.0.0.1', closed, { identity: SERVER_ID, inboundPort: closed }),
    endpoint('127.0.0.1', live.port, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound }),
  ]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  for (let i = 0; i < 6; i++) {
    const r = await send(mesh.client.ports.outbound, 'refused.test.svc', 'POST', `/refused/${i}`, agent);
    assert.deepEqual(r, { status: 200, body: `POST /refused/${i} ${CLIENT_ID}\n` });
    assert.equal(live.seen.get(`/refused/${i}`), 1);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${mesh.client.ports.admin}/metrics`)).text();
  assert.ok(
    metricValue(metrics, 'request_total', { direction: 'outbound', authority: 'refused.test.svc', target_addr: `127.0.0.1:${closed}` }) >= 1,
    'the refusing endpoint was picked, and each request sent again',
  );
});

test('mux: a peer proxy that drains while the client still sends to it (a rolling restart): no request fails, the rest go to the other endpoint', { timeout: 60_000 }, async (t) => {
  const backend = await app(2);
  t.after(() => backend.close());
  const mesh = await startMesh({ appPort: backend.port, clientConfig: { meshHttp1: 'mux' } });
  t.after(() => mesh.close());
  // A second server proxy for the same application.
  const other = await startProxy({
    config: testConfig(SERVER_ID, { inboundAppPort: backend.port }),
    identity: mesh.pki.identity(SERVER_ID),
    discovery: mesh.discovery,
    profiles: mesh.profiles,
    originalDst: null,
    log: createLogger('proxy-test', 'silent'),
    drainMs: 500,
    headersTimeoutMs: 2000,
  });
  t.after(() => other.shutdown());
  // The client keeps both endpoints for the whole test, as a caller that has not yet seen the removal.
  mesh.discovery.set('drain.test.svc:80', [
    endpoint('127.0.0.1', backend.port, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound }),
    endpoint('127.0.0.1', backend.port, { identity: SERVER_ID, inboundPort: other.ports.inbound }),
  ]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.after(() => agent.destroy());
  const results: { status: number; body: string }[] = [];
  let stopping: Promise<void> | undefined;
  // 8 callers, 40 requests each; the first server proxy shuts down once a quarter of them are done.
  await Promise.all(
    Array.from({ length: 8 }, async (_, c) => {
      for (let i = 0; i < 40; i++) {
        results.push(await send(mesh.client.ports.outbound, 'drain.test.svc', i % 2 === 0 ? 'GET' : 'POST', `/drain/${c}/${i}`, agent));
        if (results.length === 80) stopping = mesh.server.shutdown();
      }
    }),
  );
  await stopping;
  assert.equal(results.length, 320);
  assert.deepEqual(
    results.filter((r) => r.status !== 200),
    [],
  );
  // Each request reached the application once.
  assert.equal(backend.seen.size, 320);
  assert.ok([...backend.seen.values()].every((n) => n === 1));
});

test('mux: garbage on a weft.mux connection to the inbound port ends that connection only; the proxy serves the next request', { timeout: 60_000 }, async (t) => {
  const backend = await app(0);
  t.after(() => backend.close());
  const mesh = await startMesh({ appPort: backend.port, clientConfig: { meshHttp1: 'mux' } });
  t.after(() => mesh.close());
  mesh.discovery.set('after.test.svc:80', [endpoint('127.0.0.1', backend.port, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);
  // A peer with a valid mesh certificate that speaks nonsense after the handshake.
  const leaf = mesh.pki.leaf(CLIENT_ID);
  const raw = tls.connect({ host: '127.0.0.1', port: mesh.server.ports.inbound, servername: SERVER_ID, ca: mesh.pki.root.cert, cert: leaf.cert, key: leaf.key, ALPNProtocols: ['weft.mux'], minVersion: 'TLSv1.3' });
  raw.on('error', () => undefined);
  await once(raw, 'secureConnect');
  assert.equal(raw.alpnProtocol, 'weft.mux');
  const closed = new Promise((resolve) => raw.once('close', resolve));
  raw.write(Buffer.from('\x07\x00\x00\x00\x01\x00\x00\x00\x00 not a weft.mux frame'));
  await closed;
  const agent = new http.Agent({ keepAlive: true });
  t.after(() => agent.destroy());
  assert.deepEqual(await send(mesh.client.ports.outbound, 'after.test.svc', 'GET', '/after', agent), { status: 200, body: `GET /after ${CLIENT_ID}\n` });
});
