// Traffic split through real proxies: weights of a live profile move
// 100/0 → 50/50 → 0/100 while clients keep sending, and no request fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import { startMesh, metricValue, SERVER_ID, type Mesh } from '../testing/mesh.js';
import { endpoint } from '../discovery/discovery.js';
import { pickBackend } from './split.js';

const WEB = 'web.test.svc:80';
const V1 = 'web-v1.test.svc:80';
const V2 = 'web-v2.test.svc:80';
let mesh: Mesh;
const apps: http.Server[] = [];
let agent: http.Agent;

async function app(name: string): Promise<number> {
  const s = http.createServer((_req, res) => res.writeHead(200).end(name));
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  apps.push(s);
  return (s.address() as AddressInfo).port;
}

function split(v1: number, v2: number) {
  return create(destination.DestinationProfileSchema, { dstOverrides: [{ authority: V1, weight: v1 }, { authority: V2, weight: v2 }] });
}

before(async () => {
  const [p1, p2] = [await app('v1'), await app('v2')];
  mesh = await startMesh();
  const inboundPort = mesh.server.ports.inbound;
  mesh.discovery.set(WEB, [endpoint('127.0.0.1', p1, { identity: SERVER_ID, inboundPort })]);
  mesh.discovery.set(V1, [endpoint('127.0.0.1', p1, { identity: SERVER_ID, inboundPort })]);
  mesh.discovery.set(V2, [endpoint('127.0.0.1', p2, { identity: SERVER_ID, inboundPort })]);
  agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
});

after(async () => {
  agent?.destroy();
  await mesh?.close();
  for (const s of apps) s.close();
});

function get(): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: mesh.client.ports.outbound, path: '/', headers: { host: WEB }, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

test('backends are chosen in proportion to their weights', () => {
  const backends = [{ authority: 'a', weight: 9 }, { authority: 'b', weight: 1 }];
  const counts = { a: 0, b: 0 };
  for (let i = 0; i < 1000; i++) counts[pickBackend(backends, 10, i / 1000).authority as 'a' | 'b']++;
  assert.deepEqual(counts, { a: 900, b: 100 });
});

test('weights changed live 100/0 → 50/50 → 0/100 under load fail no request', { timeout: 120_000 }, async () => {
  /** Responses by phase; a request in flight while the weights changed counts only toward failures. */
  const phases: Array<{ v1: number; v2: number; failed: number }> = [];
  let phase = 0;
  let stop = false;
  let sent = 0;
  const start = (p: number) => {
    phases[p] = { v1: 0, v2: 0, failed: 0 };
    mesh.profiles.set(WEB, p === 0 ? split(100, 0) : p === 1 ? split(50, 50) : split(0, 100));
    phase = p;
  };
  start(0);
  const workers = Array.from({ length: 6 }, async () => {
    while (!stop) {
      const p = phase;
      sent++;
      try {
        const r = await get();
        if (r.status !== 200) phases[p]!.failed++;
        else if (phase === p) phases[p]![r.body as 'v1' | 'v2']++;
      } catch {
        phases[p]!.failed++;
      }
    }
  });
  const waitFor = async (cond: () => boolean) => {
    while (!cond()) await new Promise((r) => setTimeout(r, 10));
  };
  await waitFor(() => phases[0]!.v1 + phases[0]!.v2 >= 100);
  start(1);
  await waitFor(() => phases[1]!.v1 >= 50 && phases[1]!.v2 >= 50);
  start(2);
  await waitFor(() => phases[2]!.v1 + phases[2]!.v2 >= 100);
  stop = true;
  await Promise.all(workers);

  assert.deepEqual(phases.map((p) => p.failed), [0, 0, 0], 'no request failed');
  assert.equal(phases[0]!.v2, 0, '100/0 sends nothing to v2');
  assert.equal(phases[2]!.v1, 0, '0/100 sends nothing to v1');
  const share = phases[1]!.v2 / (phases[1]!.v1 + phases[1]!.v2);
  assert.ok(share > 0.3 && share < 0.7, `50/50 split measured ${share}`);
  const text = await (await fetch(`http://127.0.0.1:${mesh.client.ports.admin}/metrics`)).text();
  assert.equal(metricValue(text, 'response_total', { direction: 'outbound', classification: 'failure' }), 0);
  assert.ok(sent > 0);
});
