import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import tlsModule from 'node:tls';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { create } from '@bufbuild/protobuf';
import { tap } from '@weft/api';
import { createGrpcClient } from '@weft/common/grpc';
import { createLogger } from '@weft/common/log';
import { Code, ConnectError } from '@connectrpc/connect';
import { startProxy } from './proxy.js';
import { DEFAULT_TAP_LIMITS } from './tap/tap-server.js';
import { StaticDiscovery, endpoint } from './discovery/discovery.js';
import { TestMeshPki, testConfig, startMesh, SERVER_ID, CLIENT_ID, TAP_ID } from './testing/mesh.js';

const pki = new TestMeshPki();
after(() => pki.dispose());

test('/ready is 503 until the proxy holds a certificate, then 200; /live is always 200', { timeout: 60_000 }, async () => {
  const identity = pki.identity(SERVER_ID, false);
  const proxy = await startProxy({ config: testConfig(SERVER_ID), identity, discovery: new StaticDiscovery(), originalDst: null, log: createLogger('t', 'silent'), drainMs: 100 });
  try {
    const admin = `http://127.0.0.1:${proxy.ports.admin}`;
    const notReady = await fetch(`${admin}/ready`);
    assert.equal(notReady.status, 503);
    assert.match(await notReady.text(), /no certificate yet/);
    assert.equal((await fetch(`${admin}/live`)).status, 200);
    identity.set(pki.leaf(SERVER_ID));
    assert.equal((await fetch(`${admin}/ready`)).status, 200);
    // The tap API comes up with the certificate.
    assert.ok((await proxy.tapPort) > 0);
  } finally {
    await proxy.shutdown();
  }
});

test('POST /shutdown is refused (403) unless enabled by config, and the proxy keeps serving', { timeout: 60_000 }, async () => {
  const proxy = await startProxy({ config: testConfig(SERVER_ID), identity: pki.identity(SERVER_ID), discovery: new StaticDiscovery(), originalDst: null, log: createLogger('t', 'silent'), drainMs: 100 });
  try {
    const res = await fetch(`http://127.0.0.1:${proxy.ports.admin}/shutdown`, { method: 'POST' });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /disabled/);
    assert.equal((await fetch(`http://127.0.0.1:${proxy.ports.admin}/ready`)).status, 200);
  } finally {
    await proxy.shutdown();
  }
});

test('POST /shutdown, when enabled, drains and closes the proxy for a loopback caller', { timeout: 60_000 }, async () => {
  const proxy = await startProxy({ config: testConfig(SERVER_ID, { shutdownEndpoint: true }), identity: pki.identity(SERVER_ID), discovery: new StaticDiscovery(), originalDst: null, log: createLogger('t', 'silent'), drainMs: 100 });
  assert.equal((await fetch(`http://127.0.0.1:${proxy.ports.admin}/shutdown`)).status, 405);
  const res = await fetch(`http://127.0.0.1:${proxy.ports.admin}/shutdown`, { method: 'POST' });
  assert.equal(res.status, 202);
  await proxy.closed;
  await assert.rejects(fetch(`http://127.0.0.1:${proxy.ports.outbound}/`));
});

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false, headers: { host: 'web.test.svc' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      })
      .on('error', reject);
  });
}

/** An app on loopback behind a client and a server proxy (mTLS between them), reachable as web.test.svc. */
async function meshedApp(handler: http.RequestListener): Promise<{ mesh: Awaited<ReturnType<typeof startMesh>>; close(): Promise<void> }> {
  const app = http.createServer(handler);
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const appPort = (app.address() as AddressInfo).port;
  const mesh = await startMesh({ appPort });
  mesh.discovery.set('web.test.svc:80', [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);
  return {
    mesh,
    async close() {
      await mesh.close();
      app.close();
    },
  };
}

test('tap.Observe over mTLS streams matching request events with method, path and status', { timeout: 60_000 }, async () => {
  const served = await meshedApp((req, res) => res.end('ok'));
  const { mesh } = served;
  try {
    const tapPort = await mesh.server.tapPort;
    const viewer = mesh.pki.leaf(TAP_ID);
    const client = createGrpcClient(tap.Tap, { baseUrl: `https://127.0.0.1:${tapPort}`, ca: mesh.pki.root.cert, cert: viewer.cert, key: viewer.key, serverName: SERVER_ID });
    const ac = new AbortController();
    const events: tap.TapEvent[] = [];
    const stream = client.observe(create(tap.ObserveRequestSchema, { limit: 1, match: { pathPrefix: '/tapped' } }), { signal: ac.signal });
    const done = (async () => {
      for await (const e of stream) events.push(e);
    })();
    // The subscription is live once the server registered it; send until an event shows up.
    for (let i = 0; i < 500 && events.length === 0; i++) {
      await get(mesh.client.ports.outbound, '/other');
      await get(mesh.client.ports.outbound, '/tapped/x');
      await new Promise((r) => setTimeout(r, 10));
    }
    // Safety net only: a subscription that never saw the request must not hang the suite.
    const timer = setTimeout(() => ac.abort(), 10_000);
    await done.catch(() => undefined);
    clearTimeout(timer);
    const kinds = events.map((e) => e.event.case);
    assert.deepEqual(kinds, ['requestInit', 'responseInit', 'responseEnd']);
    const init = events[0]!.event.value as tap.RequestInit;
    assert.equal(init.path, '/tapped/x');
    assert.equal(init.method, 'GET');
    assert.equal((events[1]!.event.value as tap.ResponseInit).httpStatus, 200);
    assert.equal(events[0]!.direction, tap.TapEvent_Direction.INBOUND);
    assert.equal(events[0]!.clientIdentity, CLIENT_ID);
    assert.equal(events[0]!.tls, true);
  } finally {
    await served.close();
  }
});

test('shutdown lets an in-flight request finish, and accepts no new connections', { timeout: 60_000 }, async () => {
  let arrived: () => void = () => undefined;
  const gotRequest = new Promise<void>((r) => (arrived = r));
  let release: () => void = () => undefined;
  const released = new Promise<void>((r) => (release = r));
  const served = await meshedApp((req, res) => {
    arrived();
    void released.then(() => res.end('finished'));
  });
  const { mesh } = served;
  try {
    const response = new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: mesh.client.ports.outbound, path: '/slow', agent: false, headers: { host: 'web.test.svc' } }, (res) => {
          let b = '';
          res.on('data', (d: Buffer) => (b += d.toString()));
          res.on('end', () => resolve(`${res.statusCode} ${b}`));
        })
        .on('error', reject);
    });
    await gotRequest;
    const closing = mesh.client.shutdown();
    await assert.rejects(get(mesh.client.ports.outbound, '/new'));
    release();
    assert.equal(await response, '200 finished');
    await closing;
  } finally {
    release();
    await served.close();
  }
});

test('before it holds a certificate, the inbound proxy refuses mesh TLS instead of passing it to the app', { timeout: 60_000 }, async () => {
  const received: Buffer[] = [];
  const app = net.createServer((s) => s.on('data', (d: Buffer) => received.push(d)));
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const proxy = await startProxy({
    config: testConfig(SERVER_ID, { inboundAppPort: (app.address() as AddressInfo).port }),
    identity: pki.identity(SERVER_ID, false),
    discovery: new StaticDiscovery(),
    originalDst: null,
    log: createLogger('t', 'silent'),
    drainMs: 100,
  });
  try {
    const peer = pki.leaf(CLIENT_ID);
    const closed = await new Promise<boolean>((resolve) => {
      const s = tlsModule.connect({ port: proxy.ports.inbound, host: '127.0.0.1', servername: SERVER_ID, ca: pki.root.cert, cert: peer.cert, key: peer.key, ALPNProtocols: ['weft.h2'] });
      s.on('secureConnect', () => resolve(false));
      s.on('error', () => resolve(true));
      s.on('close', () => resolve(true));
    });
    assert.equal(closed, true);
    assert.equal(received.length, 0);
  } finally {
    await proxy.shutdown();
    app.close();
  }
});

test('tap refuses every mesh identity but the viz tap identity, and bounds concurrent streams', { timeout: 60_000 }, async () => {
  const mesh = await startMesh({ appPort: 1 });
  try {
    const tapPort = await mesh.server.tapPort;
    const tapClient = (id: string) => {
      const leaf = mesh.pki.leaf(id);
      return createGrpcClient(tap.Tap, { baseUrl: `https://127.0.0.1:${tapPort}`, ca: mesh.pki.root.cert, cert: leaf.cert, key: leaf.key, serverName: SERVER_ID });
    };
    const firstError = async (client: ReturnType<typeof tapClient>, signal?: AbortSignal): Promise<ConnectError | undefined> => {
      try {
        for await (const _ of client.observe(create(tap.ObserveRequestSchema, { limit: 1 }), { signal })) break;
      } catch (err) {
        return ConnectError.from(err);
      }
      return undefined;
    };
    // A valid mesh identity that is not viz's: another workload must not read this pod's traffic.
    for (const id of [CLIENT_ID, 'weft-viz.default.serviceaccount.identity.weft.cluster.local']) {
      const err = await firstError(tapClient(id));
      assert.equal(err?.code, Code.PermissionDenied, `${id}: ${err?.message}`);
    }
    // The viz identity may open streams up to the bound; one more is refused while the others stay open.
    const viz = tapClient(TAP_ID);
    const ac = new AbortController();
    const open = Array.from({ length: DEFAULT_TAP_LIMITS.maxStreams }, () => firstError(viz, ac.signal));
    let extra: ConnectError | undefined;
    // The streams register asynchronously on the server; retry until the extra one meets a full table.
    for (let i = 0; i < 200 && extra?.code !== Code.ResourceExhausted; i++) {
      extra = await firstError(viz);
      if (extra?.code !== Code.ResourceExhausted) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(extra?.code, Code.ResourceExhausted, extra?.message);
    ac.abort();
    await Promise.all(open);
    // Closed streams free their slots.
    const again = new AbortController();
    const reopened = firstError(viz, again.signal);
    let settled = false;
    void reopened.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(settled, false, 'a stream opened after the others closed stays open');
    again.abort();
    await reopened;
  } finally {
    await mesh.close();
  }
});

test('/ready turns 503 when the certificate has expired', { timeout: 60_000 }, async () => {
  const identity = pki.identity(SERVER_ID, false);
  const proxy = await startProxy({ config: testConfig(SERVER_ID), identity, discovery: new StaticDiscovery(), originalDst: null, log: createLogger('t', 'silent'), drainMs: 100 });
  try {
    identity.set(pki.pki.cert({ subject: `/CN=${SERVER_ID}`, dns: [SERVER_ID], issuer: pki.root, days: -1 }));
    const res = await fetch(`http://127.0.0.1:${proxy.ports.admin}/ready`);
    assert.equal(res.status, 503);
    assert.match(await res.text(), /expired/);
  } finally {
    await proxy.shutdown();
  }
});
