// The balancer in front of real local HTTP servers: a failing endpoint is
// ejected so the client stops seeing failures, and an endpoint removed
// mid-load drains without failing a single request. No retries anywhere:
// every failure the balancer lets through is a failure the client sees.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Balancer } from './balancer.js';

interface Backend {
  readonly name: string;
  readonly server: http.Server;
  readonly port: number;
  hits: number;
}

const servers: http.Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function backend(name: string, status: number, delayMs = 0): Promise<Backend> {
  const b = { name, hits: 0 } as Backend;
  const server = http.createServer((req, res) => {
    b.hits++;
    req.resume();
    const reply = (): void => void res.writeHead(status, { 'content-type': 'text/plain' }).end(name);
    if (delayMs > 0) setTimeout(reply, delayMs);
    else setImmediate(reply);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(b, { server, port: (server.address() as AddressInfo).port });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
after(() => agent.destroy());

function get(port: number, path = '/'): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0)); // connection failure
  });
}

/** Runs `total` requests with `concurrency` workers through the balancer. */
async function load(
  b: Balancer<Backend>,
  total: number,
  concurrency: number,
  onResult: (r: { backend: Backend | undefined; ok: boolean; pickedAt: number; index: number }) => void,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const index = next++;
      const pickedAt = performance.now();
      const lease = b.pick();
      if (!lease) {
        onResult({ backend: undefined, ok: false, pickedAt, index });
        continue;
      }
      const status = await get(lease.endpoint.port);
      const ok = status >= 200 && status < 500;
      lease.done(ok);
      onResult({ backend: lease.endpoint, ok, pickedAt, index });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

test('an endpoint failing every request is ejected quickly; after ejection the client sees no failures', async () => {
  const good = await backend('good', 200);
  const bad = await backend('bad', 500);
  const consecutiveFailures = 5;
  const concurrency = 8;
  let probes = 0;
  let ejectedAt = Infinity;
  const b = new Balancer<Backend>({
    // A short backoff so the run goes through several ejection → probe → re-ejection cycles.
    failureAccrual: { consecutiveFailures, minBackoffMs: 20, maxBackoffMs: 40 },
    probe: async (ep) => {
      probes++;
      const s = await get(ep.port, '/healthz');
      return s >= 200 && s < 500;
    },
  });
  b.add({ key: 'good', weight: 1, endpoint: good });
  b.add({ key: 'bad', weight: 1, endpoint: bad });
  let failures = 0;
  let failuresPickedAfterEjection = 0;
  await load(b, 2000, concurrency, (r) => {
    if (ejectedAt === Infinity && b.status().find((s) => s.key === 'bad')!.state !== 'healthy') ejectedAt = performance.now();
    if (!r.ok) {
      failures++;
      if (r.pickedAt > ejectedAt) failuresPickedAfterEjection++;
    }
  });
  assert.ok(ejectedAt < Infinity, 'the failing endpoint was ejected');
  assert.equal(failuresPickedAfterEjection, 0, 'no request picked after the ejection failed');
  // Only requests already dispatched to it before it was ejected can fail.
  assert.ok(failures <= consecutiveFailures + concurrency, `failures before ejection: ${failures}`);
  assert.ok(probes >= 1, 'the ejected endpoint was probed out of band');
  assert.ok(good.hits >= 2000 - failures);
});

test('removing an endpoint mid-load fails zero requests; it drains and is then closed', async () => {
  const backends = [await backend('a', 200, 2), await backend('b', 200, 2), await backend('c', 200, 2)];
  let drainedAt = Infinity;
  let removedAt = Infinity;
  const c = backends[2]!;
  const b = new Balancer<Backend>({
    onDrained: (ep) => {
      drainedAt = performance.now();
      // The owner closes the endpoint's connections only now: nothing is in flight.
      ep.server.closeAllConnections();
      ep.server.close();
    },
  });
  for (const be of backends) b.add({ key: be.name, weight: 1, endpoint: be });
  let failures = 0;
  let done = 0;
  let pickedCAfterRemoval = 0;
  await load(b, 2000, 16, (r) => {
    if (!r.ok) failures++;
    if (r.backend === c && r.pickedAt > removedAt) pickedCAfterRemoval++;
    if (++done === 500) {
      removedAt = performance.now();
      b.remove('c');
    }
  });
  assert.ok(removedAt < Infinity);
  assert.equal(failures, 0, 'zero failed requests');
  assert.equal(pickedCAfterRemoval, 0, 'no new request went to the removed endpoint');
  assert.ok(drainedAt >= removedAt && drainedAt < Infinity, 'the removed endpoint drained');
  assert.ok(c.hits > 0, 'the removed endpoint served traffic before removal');
});

test('connection-level balancing over real TCP: long-lived connections spread evenly and a closed one frees its slot', async (t) => {
  const net = await import('node:net');
  const accepted = new Map<string, number>();
  const tcpServers = await Promise.all(
    ['x', 'y'].map(async (name) => {
      const s = net.createServer((sock) => {
        accepted.set(name, (accepted.get(name) ?? 0) + 1);
        sock.on('error', () => undefined);
        sock.pipe(sock);
      });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return { name, server: s, port: (s.address() as AddressInfo).port };
    }),
  );
  const sockets: import('node:net').Socket[] = [];
  t.after(() => {
    for (const s of sockets) s.destroy();
    for (const s of tcpServers) s.server.close();
  });
  // A high starting estimate keeps loopback connect-time jitter (microseconds to
  // a few ms) from outweighing the open-connection count this test is about.
  const b = new Balancer<(typeof tcpServers)[number]>({ defaultLatencyMs: 1000 });
  for (const s of tcpServers) b.add({ key: s.name, weight: 1, endpoint: s });
  const open = async () => {
    const lease = b.pick()!;
    const sock = net.connect(lease.endpoint.port, '127.0.0.1');
    sockets.push(sock);
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    lease.connected();
    sock.once('close', () => lease.done(true));
    return { lease, sock };
  };
  const conns = [];
  for (let i = 0; i < 10; i++) conns.push(await open());
  assert.deepEqual([...accepted.entries()].sort(), [['x', 5], ['y', 5]], 'open connections are the load');
  // Close two connections on x: the next two connections go to x.
  const onX = conns.filter((c) => c.lease.key === 'x').slice(0, 2);
  for (const c of onX) {
    const closed = new Promise((r) => c.sock.once('close', r));
    c.sock.destroy();
    await closed;
  }
  const next = [await open(), await open()];
  assert.deepEqual(next.map((c) => c.lease.key), ['x', 'x']);
});
