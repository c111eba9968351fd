// Balancer behaviour on a deterministic simulated clock: latency-aware P2C,
// weights, draining, failure accrual state machine, connection balancing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng as seeded } from '@weft/common/testing/mutate';
import { Balancer, type Lease } from './balancer.js';

/** Discrete-event simulation: requests arrive every `intervalMs`, each endpoint answers after its latency. */
function simulate(b: Balancer<string>, clock: { t: number }, requests: number, intervalMs: number, latency: (ep: string) => number): Map<string, number> {
  const counts = new Map<string, number>();
  const inflight: { at: number; lease: Lease<string> }[] = [];
  const completeUntil = (t: number): void => {
    inflight.sort((x, y) => x.at - y.at);
    while (inflight.length && inflight[0]!.at <= t) {
      const { at, lease } = inflight.shift()!;
      clock.t = at;
      lease.done(true);
    }
  };
  for (let i = 0; i < requests; i++) {
    const t = i * intervalMs;
    completeUntil(t);
    clock.t = t;
    const lease = b.pick();
    assert.ok(lease, 'an endpoint is available');
    counts.set(lease.endpoint, (counts.get(lease.endpoint) ?? 0) + 1);
    inflight.push({ at: t + latency(lease.endpoint), lease });
  }
  completeUntil(Infinity);
  return counts;
}

test('sends at least 80 % of 2,000 requests to the endpoint that is 50 ms faster', () => {
  const clock = { t: 0 };
  const b = new Balancer<string>({ now: () => clock.t, random: seeded(1) });
  b.add({ key: 'fast', weight: 1, endpoint: 'fast' });
  b.add({ key: 'slow', weight: 1, endpoint: 'slow' });
  const counts = simulate(b, clock, 2000, 1, (ep) => (ep === 'fast' ? 5 : 55));
  const fast = counts.get('fast') ?? 0;
  assert.ok(fast / 2000 >= 0.8, `fast share ${fast / 2000}`);
  assert.ok((counts.get('slow') ?? 0) > 0, 'the slow endpoint is still probed now and then');
});

test('weight scales capacity: under load at equal latency the share follows the weights (3:1 → about 75 %)', () => {
  const clock = { t: 0 };
  const b = new Balancer<string>({ now: () => clock.t, random: seeded(2) });
  b.add({ key: 'heavy', weight: 3, endpoint: 'heavy' });
  b.add({ key: 'light', weight: 1, endpoint: 'light' });
  // ~20 requests in flight: cost = latency × (pending + 1) / weight balances at pending ≈ 3:1.
  const counts = simulate(b, clock, 4000, 0.5, () => 10);
  const share = (counts.get('heavy') ?? 0) / 4000;
  assert.ok(share > 0.7 && share < 0.8, `heavy share ${share}`);
});

test('when idle, the heavier endpoint is preferred over the lighter one', () => {
  const clock = { t: 0 };
  const b = new Balancer<string>({ now: () => clock.t, random: seeded(5) });
  b.add({ key: 'heavy', weight: 3, endpoint: 'heavy' });
  b.add({ key: 'light', weight: 1, endpoint: 'light' });
  const counts = simulate(b, clock, 1000, 20, () => 10);
  assert.ok((counts.get('heavy') ?? 0) > 900);
});

test('a removed endpoint gets no new picks and drains only after its in-flight requests finish', () => {
  const drained: string[] = [];
  const b = new Balancer<string>({ random: seeded(3), onDrained: (ep) => drained.push(ep) });
  b.add({ key: 'a', weight: 1, endpoint: 'a' });
  b.add({ key: 'b', weight: 1, endpoint: 'b' });
  const held: Lease<string>[] = [];
  for (let i = 0; i < 10; i++) held.push(b.pick()!);
  const onB = held.filter((l) => l.key === 'b');
  assert.ok(onB.length > 0);
  b.remove('b');
  for (let i = 0; i < 100; i++) {
    const l = b.pick()!;
    assert.equal(l.key, 'a');
    l.done(true);
  }
  assert.deepEqual(drained, [], 'not drained while requests are in flight');
  for (const l of onB) l.done(true);
  assert.deepEqual(drained, ['b']);
  assert.deepEqual(b.status().map((s) => s.key), ['a']);
});

test('re-adding a draining endpoint cancels the drain', () => {
  const drained: string[] = [];
  const b = new Balancer<string>({ onDrained: (ep) => drained.push(ep) });
  b.add({ key: 'a', weight: 1, endpoint: 'a' });
  const l = b.pick()!;
  b.remove('a');
  assert.equal(b.pick(), undefined, 'nothing to pick while the only endpoint drains');
  b.add({ key: 'a', weight: 1, endpoint: 'a' });
  l.done(true);
  assert.deepEqual(drained, []);
  assert.equal(b.pick()?.key, 'a');
});

test('replace() adds, updates and drains to match the new set', () => {
  const drained: string[] = [];
  const b = new Balancer<string>({ onDrained: (ep) => drained.push(ep) });
  b.replace([
    { key: 'a', weight: 1, endpoint: 'a' },
    { key: 'b', weight: 1, endpoint: 'b' },
  ]);
  b.replace([
    { key: 'b', weight: 5, endpoint: 'b2' },
    { key: 'c', weight: 1, endpoint: 'c' },
  ]);
  assert.deepEqual(drained, ['a']);
  const st = b.status().sort((x, y) => x.key.localeCompare(y.key));
  assert.deepEqual(st.map((s) => [s.key, s.weight]), [['b', 5], ['c', 1]]);
});

test('failure accrual: N consecutive failures eject; without a probe the first request after the backoff is the probe', () => {
  const clock = { t: 0 };
  const b = new Balancer<string>({
    now: () => clock.t,
    random: () => 0.5, // no jitter
    failureAccrual: { consecutiveFailures: 3, minBackoffMs: 100, maxBackoffMs: 1000 },
  });
  b.add({ key: 'a', weight: 1, endpoint: 'a' });
  for (let i = 0; i < 2; i++) b.pick()!.done(false);
  b.pick()!.done(true); // a success resets the count
  for (let i = 0; i < 3; i++) b.pick()!.done(false);
  assert.equal(b.pick(), undefined, 'ejected: fail fast');
  assert.equal(b.status()[0]!.state, 'ejected');
  clock.t = 99;
  assert.equal(b.pick(), undefined);
  clock.t = 100;
  const probe = b.pick();
  assert.ok(probe, 'probation lets a request through after the backoff');
  assert.equal(b.pick(), undefined, 'only one probe request at a time');
  probe.done(false);
  clock.t = 250;
  assert.equal(b.pick(), undefined, 'a failed probation doubles the backoff (200 ms)');
  clock.t = 300;
  b.pick()!.done(true);
  assert.equal(b.status()[0]!.state, 'healthy');
});

test('with a probe function an ejected endpoint is readmitted only when the probe passes', async () => {
  const clock = { t: 0 };
  let healthy = false;
  let probes = 0;
  const b = new Balancer<string>({
    now: () => clock.t,
    random: () => 0.5,
    failureAccrual: { consecutiveFailures: 1, minBackoffMs: 10, maxBackoffMs: 1000 },
    probe: async () => {
      probes++;
      return healthy;
    },
  });
  b.add({ key: 'a', weight: 1, endpoint: 'a' });
  b.pick()!.done(false);
  clock.t = 10;
  assert.equal(b.pick(), undefined, 'probing: still no traffic');
  await new Promise((r) => setImmediate(r));
  assert.equal(probes, 1);
  assert.equal(b.status()[0]!.state, 'ejected', 'failed probe re-ejects');
  healthy = true;
  clock.t = 30;
  assert.equal(b.pick(), undefined);
  await new Promise((r) => setImmediate(r));
  assert.equal(b.status()[0]!.state, 'healthy');
  assert.ok(b.pick());
});

test('connection-level balancing spreads long-lived connections by open count', () => {
  const clock = { t: 0 };
  const b = new Balancer<string>({ now: () => clock.t, random: seeded(4) });
  b.add({ key: 'a', weight: 1, endpoint: 'a' });
  b.add({ key: 'b', weight: 1, endpoint: 'b' });
  const conns: Lease<string>[] = [];
  for (let i = 0; i < 10; i++) {
    const l = b.pick()!;
    clock.t += 1;
    l.connected(); // 1 ms connect latency on both
    conns.push(l);
  }
  const onA = conns.filter((l) => l.key === 'a').length;
  assert.equal(onA, 5, 'open connections count as pending load');
  assert.deepEqual(b.status().map((s) => s.pending), [5, 5]);
  for (const l of conns) l.done(true);
  assert.deepEqual(b.status().map((s) => s.pending), [0, 0]);
});

test('rejects a non-positive weight', () => {
  const b = new Balancer<string>();
  assert.throws(() => b.add({ key: 'a', weight: 0, endpoint: 'a' }), /weight must be > 0/);
});
