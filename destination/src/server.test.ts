// Destination and Inbound over real gRPC with mutual TLS (openssl-issued
// certificates): streams deliver snapshots and live diffs, bad requests get
// INVALID_ARGUMENT, clients without a certificate are refused, cancelled
// streams release their watches, a client that stops reading costs a bounded
// backlog and catches up to the current endpoints.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Code, ConnectError } from '@connectrpc/connect';
import { createGrpcClient } from '@weft/common';
import { destination, policy } from '@weft/api';
import type { DestinationController } from './destination.js';
import { MemorySource } from './sources/memory.js';
import { pod, service, settle, slice } from './testing/fixtures.js';
import { startTestDestination, type TestDestination } from './testing/serve.js';

const log = pino({ level: 'silent' });
const WEB_ID = 'web.demo.serviceaccount.identity.weft.cluster.local';
let dest: TestDestination;
let controller: DestinationController;
const source = new MemorySource();

before(async () => {
  source.apply('Service', service('web', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 8080 }] }));
  source.apply(
    'Pod',
    pod('web-1', { ip: '10.1.0.1', meshed: true, serviceAccount: 'web', owner: 'deployment/web', labels: { app: 'web' } }),
  );
  source.apply('EndpointSlice', slice('web-a', 'web', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.1', pod: 'web-1' }]));
  source.apply('ServiceProfile', {
    metadata: { name: 'web.demo.svc.cluster.local', namespace: 'demo' },
    spec: { routes: [{ name: 'all', matches: [{ path: { prefix: '/' } }], timeout: '2s' }] },
  });
  dest = await startTestDestination(source, log);
  controller = dest.controller;
});

after(async () => {
  await dest?.close();
});

function clients(withCert = true) {
  const opts = dest.clientTls(withCert ? WEB_ID : null);
  return {
    dst: createGrpcClient(destination.Destination, { ...opts, baseUrl: `https://127.0.0.1:${controller.destinationPort}` }),
    pol: createGrpcClient(policy.Inbound, { ...opts, baseUrl: `https://127.0.0.1:${controller.policyPort}` }),
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('Get streams the snapshot then live diffs over mTLS', async () => {
  const { dst } = clients();
  const ac = new AbortController();
  const it = dst.get({ scheme: 'k8s', path: 'web.demo.svc.cluster.local:80' }, { signal: ac.signal })[Symbol.asyncIterator]();
  const first = (await it.next()).value as destination.Update;
  assert.equal(first.update.case, 'add');
  const set = first.update.value as destination.WeightedAddrSet;
  assert.deepEqual(
    set.addrs.map((a) => `${a.addr!.ip}:${a.addr!.port}`),
    ['10.1.0.1:8080'],
  );
  assert.equal(set.addrs[0]!.tlsIdentity?.dnsName, 'web.demo.serviceaccount.identity.weft.cluster.local');
  assert.equal(set.addrs[0]!.protocolHint?.protocol.case, 'h2');

  source.apply(
    'EndpointSlice',
    slice('web-a', 'web', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.1', pod: 'web-1' }, { ip: '10.1.0.2' }]),
  );
  const second = (await it.next()).value as destination.Update;
  assert.equal(second.update.case, 'add');
  assert.deepEqual(
    (second.update.value as destination.WeightedAddrSet).addrs.map((a) => a.addr!.ip),
    ['10.1.0.2'],
  );

  source.apply('EndpointSlice', slice('web-a', 'web', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.2' }]));
  const third = (await it.next()).value as destination.Update;
  assert.equal(third.update.case, 'remove');
  assert.deepEqual(
    (third.update.value as destination.AddrSet).addrs.map((a) => a.ip),
    ['10.1.0.1'],
  );
  ac.abort();
  await until('the cancelled stream to release its watch', () => controller.discovery.watches === 0);
});

test('Get of an unknown authority answers no_endpoints over the wire', async () => {
  const { dst } = clients();
  const ac = new AbortController();
  const it = dst.get({ path: 'nope.demo.svc.cluster.local:80' }, { signal: ac.signal })[Symbol.asyncIterator]();
  const first = (await it.next()).value as destination.Update;
  assert.equal(first.update.case, 'noEndpoints');
  ac.abort();
});

test('GetProfile and Inbound.Watch stream their first message', async () => {
  const { dst, pol } = clients();
  const ac = new AbortController();
  const profile = (await dst.getProfile({ path: '10.96.0.10:80' }, { signal: ac.signal })[Symbol.asyncIterator]().next())
    .value as destination.DestinationProfile;
  assert.equal(profile.fullyQualifiedName, 'web.demo.svc.cluster.local');
  assert.equal(profile.routes[0]!.timeout?.seconds, 2n);
  const server = (await pol.watch({ workload: 'demo:web-1', port: 8080 }, { signal: ac.signal })[Symbol.asyncIterator]().next())
    .value as policy.Server;
  assert.equal(server.labels.kind, 'default');
  assert.equal(server.authorizations[0]!.authentication?.permit.case, 'unauthenticated');
  ac.abort();
});

test('a malformed request fails with INVALID_ARGUMENT and the server stays up', async () => {
  const { dst, pol } = clients();
  await assert.rejects(
    async () => {
      for await (const _ of dst.get({ path: 'web.demo.svc.cluster.local:notaport' })) break;
    },
    (err: unknown) => err instanceof ConnectError && err.code === Code.InvalidArgument && /not a port/.test(err.message),
  );
  await assert.rejects(
    async () => {
      for await (const _ of pol.watch({ workload: 'no-colon', port: 80 })) break;
    },
    (err: unknown) => err instanceof ConnectError && err.code === Code.InvalidArgument,
  );
  const ac = new AbortController();
  const ok = (await dst.get({ path: 'web.demo.svc.cluster.local:80' }, { signal: ac.signal })[Symbol.asyncIterator]().next())
    .value as destination.Update;
  assert.equal(ok.update.case, 'add');
  ac.abort();
});

test('garbage instead of a TLS handshake is dropped and the server keeps serving', async () => {
  const net = await import('node:net');
  await new Promise<void>((resolve) => {
    const sock = net.connect(controller.destinationPort, '127.0.0.1', () => sock.end('GET / HTTP/1.1\r\n\r\n\x00\xff garbage'));
    sock.on('error', () => resolve());
    sock.on('close', () => resolve());
    sock.resume();
  });
  const { dst } = clients();
  const ac = new AbortController();
  const ok = (await dst.get({ path: 'web.demo.svc.cluster.local:80' }, { signal: ac.signal })[Symbol.asyncIterator]().next())
    .value as destination.Update;
  assert.equal(ok.update.case, 'add');
  ac.abort();
});

test('a client without a certificate is refused', async () => {
  const { dst } = clients(false);
  await assert.rejects(async () => {
    for await (const _ of dst.get({ path: 'web.demo.svc.cluster.local:80' })) break;
  });
});

test('the admin server reports ready and exposes destination metrics', async () => {
  const ready = await fetch(`http://127.0.0.1:${controller.adminPort}/ready`);
  assert.equal(ready.status, 200);
  const metrics = await (await fetch(`http://127.0.0.1:${controller.adminPort}/metrics`)).text();
  assert.match(metrics, /destination_cache_objects\{kind="Service"\} 1/);
  assert.match(metrics, /destination_stream_updates_total\{api="get"\} \d+/);
});

test(
  'a client that stops reading during 2,000 changes gets a bounded catch-up and ends with the current endpoints',
  { timeout: 120_000 },
  async (t) => {
    const CHANGES = 2000;
    source.apply('Service', service('churn', { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, targetPort: 8080 }] }));
    // Generation g: 50 endpoints no other generation shares, so every change is a 50-remove + 50-add diff.
    const generation = (g: number) => Array.from({ length: 50 }, (_, i) => ({ ip: `172.${16 + (g >> 8)}.${g & 255}.${i + 1}` }));
    const apply = (g: number) => source.apply('EndpointSlice', slice('churn-a', 'churn', [{ name: 'http', port: 8080 }], generation(g)));
    apply(0);
    const { dst } = clients();
    const ac = new AbortController();
    const it = dst.get({ path: 'churn.demo.svc.cluster.local:80' }, { signal: ac.signal })[Symbol.asyncIterator]();
    const held = new Set<string>();
    const fold = (u: destination.Update) => {
      if (u.update.case === 'add') for (const a of u.update.value.addrs) held.add(`${a.addr!.ip}:${a.addr!.port}`);
      else if (u.update.case === 'remove') for (const a of u.update.value.addrs) held.delete(`${a.ip}:${a.port}`);
      else if (u.update.case === 'noEndpoints') held.clear();
    };
    fold((await it.next()).value as destination.Update);
    assert.equal(held.size, 50);
    const supersededBefore = await superseded();

    // The client reads nothing while the endpoints change, each change flushed to the stream on its own.
    for (let g = 1; g <= CHANGES; g++) {
      apply(g);
      await settle();
    }
    const want = generation(CHANGES)
      .map((e) => `${e.ip}:8080`)
      .sort();
    let messages = 0;
    while (JSON.stringify([...held].sort()) !== JSON.stringify(want)) {
      const r = await it.next();
      assert.ok(!r.done, 'the stream ended before the current endpoints arrived');
      fold(r.value as destination.Update);
      messages++;
    }
    ac.abort();
    t.diagnostic(`${messages} messages to catch up after ${CHANGES} changes`);
    // Unbounded, every change would be delivered: 2 messages each. What is left is what HTTP/2 flow control let through before the client stopped, plus one catch-up diff.
    assert.ok(messages < CHANGES / 4, `${messages} messages for ${CHANGES} changes`);
    assert.ok((await superseded()) - supersededBefore > CHANGES / 2, 'the changes the client missed were superseded, not queued');
    await until('the stream to release its watch', () => controller.discovery.watches === 0);
  },
);

async function superseded(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${controller.adminPort}/metrics`)).text();
  return Number(/^destination_stream_superseded_total\{api="get"\} (\d+)/m.exec(text)?.[1] ?? 0);
}
