// A proxy with more than one thread (WEFT_PROXY_WORKERS; workers/): every thread listens on the same ports through
// SO_REUSEPORT, and the workers see the control plane through the main thread. Each test opens many fresh
// connections so that the kernel gives some to each thread (40 connections all hashed to one of two sockets: 2^-39),
// and checks that the workers, not only the main thread, did the work.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import { policy, tap } from '@weft/api';
import { createGrpcClient } from '@weft/common/grpc';
import { createLogger } from '@weft/common/log';
import { startProxy, type Proxy } from './proxy.js';
import { StaticDiscovery, endpoint } from './discovery/discovery.js';
import { StaticPolicies } from './policy/policies.js';
import { defaultPolicy } from './policy/server-policy.js';
import { TestMeshPki, testConfig, startMesh, metricValue, SERVER_ID, CLIENT_ID, TAP_ID } from './testing/mesh.js';

const CONNECTIONS = 40;
const pki = new TestMeshPki();
after(() => pki.dispose());

interface App {
  readonly port: number;
  readonly name: string;
  close(): void;
}

async function app(name: string): Promise<App> {
  const server = http.createServer((req, res) => res.end(name));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, name, close: () => server.close() };
}

/** One request on a connection of its own (so the kernel picks a listening socket for each). */
function get(port: number, host = 'web.test.svc'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent: false, headers: { host } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

function many(port: number, host?: string): Promise<Array<{ status: number; body: string }>> {
  return Promise.all(Array.from({ length: CONNECTIONS }, () => get(port, host)));
}

/** A proxy with two threads, explicit (no original destination), started and not yet ready (`ready` waits for every thread). */
function twoThreads(
  id: string,
  o: {
    inboundAppPort?: number;
    identity?: Parameters<typeof startProxy>[0]['identity'];
    discovery?: StaticDiscovery;
    policies?: StaticPolicies;
  } = {},
): Promise<Proxy> {
  return startProxy({
    config: testConfig(id, { workers: 2, ...(o.inboundAppPort === undefined ? {} : { inboundAppPort: o.inboundAppPort }) }),
    identity: o.identity ?? pki.identity(id),
    discovery: o.discovery ?? new StaticDiscovery(),
    ...(o.policies ? { policies: o.policies } : {}),
    originalDst: null,
    log: createLogger('t', 'silent'),
    drainMs: 200,
  });
}

/** Until every thread listens (the workers start after `startProxy` returns). */
async function ready(proxy: Proxy): Promise<void> {
  for (let i = 0; proxy.notReadyReason() !== undefined; i++) {
    if (i > 600) assert.fail(`never ready: ${proxy.notReadyReason()}`);
    await sleep(50);
  }
}

/** Retries `check` until it passes (a change travels to the workers as a message), failing with its last error. */
async function eventually(check: () => Promise<void>): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      return await check();
    } catch (err) {
      if (i > 100) throw err;
      await sleep(50);
    }
  }
}

/** request_total in one worker's own registry (threadMetrics) for `direction`. */
function workerRequests(json: unknown[], direction: string): number {
  const family = (json as Array<{ name: string; values: Array<{ value: number; labels: Record<string, string> }> }>).find(
    (m) => m.name === 'request_total',
  );
  return (family?.values ?? []).filter((v) => v.labels.direction === direction).reduce((sum, v) => sum + v.value, 0);
}

async function ownRequests(proxy: Proxy, direction: string): Promise<number> {
  return metricValue(await proxy.registry.metrics(), 'request_total', { direction });
}

test(
  'two threads: connections are spread over both, through the mesh, and /metrics adds up both threads',
  { timeout: 120_000 },
  async () => {
    const web = await app('web');
    const mesh = await startMesh({ appPort: web.port, clientConfig: { workers: 2 }, serverConfig: { workers: 2 } });
    try {
      mesh.discovery.set('web.test.svc:80', [
        endpoint('127.0.0.1', web.port, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound }),
      ]);
      await Promise.all([ready(mesh.client), ready(mesh.server)]);
      assert.match(await (await fetch(`http://127.0.0.1:${mesh.client.ports.admin}/ready`)).text(), /ready/);

      const answers = await many(mesh.client.ports.outbound);
      assert.deepEqual(new Set(answers.map((a) => `${a.status} ${a.body}`)), new Set(['200 web']));
      const [worker] = await mesh.client.workers!.threadMetrics();
      const byWorker = workerRequests(worker!, 'outbound');
      const byMain = await ownRequests(mesh.client, 'outbound');
      assert.ok(byWorker > 0 && byMain > 0, `both threads served (main ${byMain}, worker ${byWorker})`);
      assert.equal(byWorker + byMain, CONNECTIONS);
      const scraped = await (await fetch(`http://127.0.0.1:${mesh.client.ports.admin}/metrics`)).text();
      assert.equal(metricValue(scraped, 'request_total', { direction: 'outbound', tls: 'true' }), CONNECTIONS);
      assert.equal(metricValue(scraped, 'response_total', { direction: 'outbound', status_code: '200' }), CONNECTIONS);
      // The process-wide families come once, from the main thread.
      assert.equal(scraped.match(/^process_start_time_seconds/gm)?.length, 1);

      // Plaintext straight to the server's inbound: its threads too.
      const direct = await many(mesh.server.ports.inbound);
      assert.ok(direct.every((a) => a.status === 200));
      const [serverWorker] = await mesh.server.workers!.threadMetrics();
      assert.ok(workerRequests(serverWorker!, 'inbound') > 0, 'the server proxy worker served inbound requests');
      const serverScrape = await (await fetch(`http://127.0.0.1:${mesh.server.ports.admin}/metrics`)).text();
      assert.equal(metricValue(serverScrape, 'request_total', { direction: 'inbound' }), 2 * CONNECTIONS);
    } finally {
      await mesh.close();
      web.close();
    }
  },
);

test(
  'two threads: discovery changes and the certificate reach the worker, which asks the main thread for authorities',
  { timeout: 120_000 },
  async () => {
    const [a, b] = [await app('a'), await app('b')];
    const discovery = new StaticDiscovery();
    const identity = pki.identity(CLIENT_ID, false);
    const proxy = await twoThreads(CLIENT_ID, { identity, discovery });
    try {
      // Without a certificate no thread is ready; the workers get the certificate when the main thread does.
      assert.match(proxy.notReadyReason() ?? '', /no certificate yet/);
      identity.set(pki.leaf(CLIENT_ID));
      await ready(proxy);

      // Unknown to discovery in every thread: 502/503 from each, never a hang.
      const unknown = await many(proxy.ports.outbound, 'nowhere.test.svc');
      assert.ok(
        unknown.every((u) => u.status >= 500),
        `statuses ${[...new Set(unknown.map((u) => u.status))]}`,
      );

      discovery.set('web.test.svc:80', [endpoint('127.0.0.1', a.port)]);
      assert.deepEqual(new Set((await many(proxy.ports.outbound)).map((r) => r.body)), new Set(['a']));
      discovery.set('web.test.svc:80', [endpoint('127.0.0.1', b.port)]);
      await eventually(async () => assert.deepEqual(new Set((await many(proxy.ports.outbound)).map((r) => r.body)), new Set(['b'])));
      const [worker] = await proxy.workers!.threadMetrics();
      assert.ok(workerRequests(worker!, 'outbound') > 0, 'the worker served some of them');
    } finally {
      await proxy.shutdown();
      a.close();
      b.close();
    }
  },
);

test(
  'two threads: an inbound policy set in the main thread is enforced by the worker too, and so is its removal',
  { timeout: 120_000 },
  async () => {
    const web = await app('web');
    const policies = new StaticPolicies(defaultPolicy('all-unauthenticated', SERVER_ID));
    const proxy = await twoThreads(SERVER_ID, { inboundAppPort: web.port, policies });
    try {
      await ready(proxy);
      assert.ok((await many(proxy.ports.inbound)).every((r) => r.status === 200));
      // A Server with no authorization: every connection to the port is refused, in every thread.
      policies.set(web.port, create(policy.ServerSchema, { labels: { name: 'web-locked', kind: 'server' }, authorizations: [] }));
      await eventually(async () => {
        const denied = await many(proxy.ports.inbound);
        assert.ok(
          denied.every((r) => r.status === 403),
          `statuses ${[...new Set(denied.map((r) => r.status))]}`,
        );
      });
      const [worker] = await proxy.workers!.threadMetrics();
      const workerDenials = (worker as Array<{ name: string; values: Array<{ value: number; labels: Record<string, string> }> }>)
        .find((m) => m.name === 'inbound_http_authz_deny_total')
        ?.values.reduce((sum, v) => sum + v.value, 0);
      assert.ok((workerDenials ?? 0) > 0, 'the worker denied some');
      policies.clear(web.port);
      await eventually(async () => assert.ok((await many(proxy.ports.inbound)).every((r) => r.status === 200)));
    } finally {
      await proxy.shutdown();
      web.close();
    }
  },
);

test(
  "two threads: tap subscribers in the main thread see the worker's requests, with stream ids no other thread uses",
  { timeout: 120_000 },
  async () => {
    const web = await app('web');
    const proxy = await twoThreads(SERVER_ID, { inboundAppPort: web.port });
    try {
      await ready(proxy);
      const viewer = pki.leaf(TAP_ID);
      const client = createGrpcClient(tap.Tap, {
        baseUrl: `https://127.0.0.1:${await proxy.tapPort}`,
        ca: pki.root.cert,
        cert: viewer.cert,
        key: viewer.key,
        serverName: SERVER_ID,
      });
      const inits: tap.RequestInit[] = [];
      const ac = new AbortController();
      const observed = (async () => {
        for await (const e of client.observe(create(tap.ObserveRequestSchema, { limit: CONNECTIONS }), { signal: ac.signal })) {
          if (e.event.case === 'requestInit') inits.push(e.event.value);
        }
      })();
      // Until the subscription reached both threads, some requests go unseen: send until the stream ends at its limit.
      const sending = (async () => {
        while (inits.length < CONNECTIONS && !ac.signal.aborted) await many(proxy.ports.inbound);
      })();
      const timer = setTimeout(() => ac.abort(), 60_000);
      await observed.catch((err: unknown) => assert.fail(`tap stream failed: ${(err as Error).message}`));
      clearTimeout(timer);
      await sending;
      const ids = inits.map((i) => i.id!.stream);
      assert.ok(ids.length >= CONNECTIONS);
      assert.equal(new Set(ids).size, ids.length, 'no two requests share a stream id');
      // The main thread's ids are odd, the worker's even (each thread counts in steps of the thread count).
      assert.ok(ids.some((id) => id % 2n === 1n) && ids.some((id) => id % 2n === 0n), `ids from both threads: ${ids.join(' ')}`);
    } finally {
      await proxy.shutdown();
      web.close();
    }
  },
);

/** Whether a process running as `uid` may bind 127.0.0.1:`port` with SO_REUSEPORT (Python's sockets: nothing of weft's). */
function joinsPort(port: number, uid: number): { joined: boolean; out: string } {
  const script = [
    'import socket, sys',
    's = socket.socket()',
    's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)',
    'try:',
    `    s.bind(("127.0.0.1", ${port})); s.listen(1); print("joined")`,
    'except OSError as e:',
    '    print("refused", e.errno == 98 and "EADDRINUSE" or e)',
  ].join('\n');
  const r = spawnSync('python3', ['-c', script], { uid, encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}${r.error?.message ?? ''}`.trim();
  return { joined: out === 'joined', out };
}

test(
  "two threads: another UID in the pod cannot join the SO_REUSEPORT group and take the proxy's connections; only the proxy's own UID could",
  { timeout: 60_000 },
  async () => {
    assert.equal(process.getuid?.(), 0, 'this test switches UIDs: it runs as root, as the netns tests do');
    const proxy = await twoThreads(CLIENT_ID);
    try {
      await ready(proxy);
      // An application container running as another user (65534, nobody) binding the outbound or inbound port.
      for (const port of [proxy.ports.outbound, proxy.ports.inbound]) {
        const other = joinsPort(port, 65534);
        assert.equal(other.out, 'refused EADDRINUSE', `uid 65534 on ${port}: ${other.out}`);
      }
      // The kernel's rule is the effective UID: the proxy's own (here root) could join, which is why the proxy runs as
      // a UID of its own (2102) that no application container shares (docs/proxy.md, "More than one core").
      assert.ok(joinsPort(proxy.ports.outbound, 0).joined, 'the same UID joins');
    } finally {
      await proxy.shutdown();
    }
  },
);

test('WEFT_PROXY_WORKERS is validated: 0 and non-integers are refused naming the variable', async () => {
  const { parseProxyEnv } = await import('./config.js');
  const base = {
    WEFT_PROXY_IDENTITY_SVC_ADDR: 'identity:8080',
    WEFT_PROXY_IDENTITY_SVC_NAME: 'identity',
    WEFT_PROXY_DESTINATION_SVC_ADDR: 'destination:8086',
    WEFT_PROXY_DESTINATION_SVC_NAME: 'destination',
    WEFT_PROXY_POLICY_SVC_ADDR: 'destination:8090',
    WEFT_PROXY_IDENTITY_LOCAL_NAME: SERVER_ID,
    WEFT_PROXY_IDENTITY_TRUST_ANCHORS: pki.root.cert,
    WEFT_PROXY_POD_NAMESPACE: 'test',
    WEFT_PROXY_POD_NAME: 'web-0',
  };
  assert.equal(parseProxyEnv(base).workers, 1);
  assert.equal(parseProxyEnv({ ...base, WEFT_PROXY_WORKERS: '2' }).workers, 2);
  for (const bad of ['0', '1.5', 'two', '65'])
    assert.throws(() => parseProxyEnv({ ...base, WEFT_PROXY_WORKERS: bad }), /WEFT_PROXY_WORKERS/);
});
