// The local demo end to end, through the CLI: `weft demo` brings up the mesh,
// `weft viz stat` sees traffic on all three services with the configured
// failure rate, `weft viz edges` shows mTLS on every edge, and Ctrl-C tears
// everything down. As root the demo uses network namespaces + iptables;
// otherwise loopback. The dashboard's time series of books carry its traffic
// and failure rate, and (with Chromium) the namespace and workload pages are
// screenshotted into viz/test-artifacts/demo-<mode>-*.png.
import { test, type TestContext } from 'node:test';
import { existsSync } from 'node:fs';
import { waitFor } from '@weft/common/poll';
import { CHROMIUM, screenshotDashboard } from '@weft/viz/testing/dashboard-screenshots';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';
import { canListen, unusedPort } from '@weft/common/testing/ports';
import { startDemo, WEFT_BIN } from '../testing/demo-process.js';

const FAILURE_RATE = 0.25;
const isRoot = process.getuid?.() === 0;

function weft(args: string[]): unknown {
  return JSON.parse(execFileSync(process.execPath, [WEFT_BIN, ...args], { encoding: 'utf8', timeout: 30_000 }));
}

/**
 * What a demo could leave behind: its network namespaces and iptables rules
 * (named after its pod network, `tag`), and demo processes.
 */
function footprint(tag: string | undefined): { netns: string[]; iptables: string[]; processes: string } {
  const run = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' });
    } catch {
      return '';
    }
  };
  const mine = (text: string): string[] => (tag ? text.split('\n').filter((l) => l.includes(tag)) : []);
  return {
    netns: mine(run('ip', ['netns', 'list'])),
    iptables: isRoot ? mine(run('iptables-save', [])) : [],
    processes: run('pgrep', ['-af', 'demo/apps/main.js|prometheus --config.file=/tmp/weft-demo']),
  };
}

interface Edge {
  src: { name: string };
  dst: { name: string };
  mtls: boolean;
  clientId: string;
  serverId: string;
}

interface StatRow {
  name: string;
  requests: number;
  rps: number;
  successRate: number | null;
}

test('the local demo (network namespaces + iptables) serves traffic on all three services over mTLS and tears down cleanly', { timeout: 300_000, skip: isRoot ? false : 'needs root for network namespaces and iptables (CI runs as root)' }, (t) => runDemo('netns', t));

test('the local demo on loopback (not root) serves traffic on all three services over mTLS and tears down cleanly', { timeout: 300_000 }, (t) => runDemo('loopback', t));

async function runDemo(mode: 'netns' | 'loopback', t: TestContext): Promise<void> {
  const before = footprint(undefined);
  const [prometheusPort, apiPort, tapPort, dashboardPort] = [await unusedPort(), await unusedPort(), await unusedPort(), await unusedPort()];
  const demo = await startDemo(['--mode', mode, '--failure-rate', String(FAILURE_RATE), '--latency-ms', '5', '--rps', '25',
    '--prometheus-port', String(prometheusPort), '--api-port', String(apiPort), '--tap-port', String(tapPort), '--dashboard-port', String(dashboardPort)]);
  const out = demo.out();
  try {
    const deadline = Date.now() + 240_000;
    assert.match(out, /SHA-256 [0-9A-F:]{95}/, 'prints the throwaway anchor fingerprint');
    assert.match(out, mode === 'netns' ? /network namespaces \+ iptables interception/ : /loopback, explicit proxy ports/);
    const api = `--api-addr=http://127.0.0.1:${apiPort}`;

    // Wait (polling the real metrics) until books has answered enough requests to judge its failure rate.
    let rows: StatRow[] = [];
    for (;;) {
      rows = (weft(['viz', 'stat', 'deploy', '-n', 'demo', '-o', 'json', '--time-window', '1m', api]) as { rows: StatRow[] }).rows;
      const books = rows.find((r) => r.name === 'books');
      if (books && books.requests >= 400) break;
      assert.ok(Date.now() < deadline, `not enough traffic reached books: ${JSON.stringify(rows)}\n${demo.err()}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    for (const name of ['web', 'authors', 'books']) {
      const row = rows.find((r) => r.name === name);
      assert.ok(row && row.rps > 0, `${name} has no traffic: ${JSON.stringify(rows)}`);
    }
    const books = rows.find((r) => r.name === 'books')!;
    const failure = 1 - (books.successRate ?? 1);
    // 400+ samples: the binomial standard deviation is ≤ 0.022, so 0.1 is > 4 sigma.
    assert.ok(Math.abs(failure - FAILURE_RATE) < 0.1, `books failure rate ${failure} is not within 0.1 of ${FAILURE_RATE}`);

    const { edges } = weft(['viz', 'edges', 'deploy', '-n', 'demo', '-o', 'json', api]) as { edges: Edge[] };
    for (const [src, dst] of [['traffic', 'web'], ['web', 'authors'], ['authors', 'books']]) {
      const edge = edges.find((e) => e.src.name === src && e.dst.name === dst);
      assert.ok(edge, `no edge ${src} → ${dst} in ${JSON.stringify(edges)}`);
      assert.equal(edge.mtls, true, `${src} → ${dst} is not mTLS`);
      assert.equal(edge.clientId, `${src}.demo.serviceaccount.identity.weft.cluster.local`);
      assert.equal(edge.serverId, `${dst}.demo.serviceaccount.identity.weft.cluster.local`);
    }

    // The dashboard's time series of books: points with traffic, and on average the configured failure rate.
    const series = await waitFor(
      'time series of books with traffic',
      async () => {
        const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/timeseries?resource=deployment/books&namespace=demo&window=1m`);
        const body = (await res.json()) as { timestamps: number[]; rps: Array<number | null>; successRate: Array<number | null> };
        return body.rps.filter((v) => v !== null && v > 0).length >= 5 ? body : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 2000 },
    );
    // Every charted point counts, by the requests it stands for: while the success series warms up (no rate yet) the
    // chart has a gap, not 0 %, and a point of the first seconds' few requests (2 requests, 1 failed: 0.5) weighs
    // what those few requests weigh.
    let requests = 0;
    let succeeded = 0;
    series.successRate.forEach((rate, i) => {
      const rps = series.rps[i];
      if (rate === null || rps === null || rps === undefined) return;
      requests += rps;
      succeeded += rate * rps;
    });
    const mean = succeeded / requests;
    const chart = series.timestamps.map((t, i) => `${t}: ${series.successRate[i]} @ ${series.rps[i]} rps`).join('\n  ');
    assert.ok(Math.abs(1 - mean - FAILURE_RATE) < 0.15, `books' charted success rate ${mean} is not near ${1 - FAILURE_RATE}:\n  ${chart}`);
    if (existsSync(CHROMIUM)) {
      const shots = await screenshotDashboard(`http://127.0.0.1:${dashboardPort}`, [
        { name: `demo-${mode}-namespace`, hash: '#/ns/demo' },
        { name: `demo-${mode}-books`, hash: '#/ns/demo/deployment/books' },
      ]);
      for (const path of shots) t.diagnostic(`screenshot: ${path}`);
    } else t.diagnostic(`${CHROMIUM} is not installed: no dashboard screenshots`);
  } finally {
    demo.child.kill('SIGINT');
    const code = await demo.exited;
    assert.equal(code, 0, `weft demo did not stop cleanly:\n${demo.err()}`);
  }
  const err = demo.err();
  assert.match(err, /nothing left behind/);
  const tag = /pod namespaces (\S+)-<pod>/.exec(err)?.[1];
  if (mode === 'netns') assert.ok(tag, `the demo did not name its pod namespaces:\n${err}`);
  assert.deepEqual(footprint(tag), before, 'the demo left namespaces, iptables rules or processes behind');
}

test('a port the demo cannot listen on: it says which, exits 1 at once, and leaves nothing behind', { timeout: 120_000 }, async (t) => {
  const before = footprint(undefined);
  const held = net.createServer().listen(0, '127.0.0.1');
  await once(held, 'listening');
  t.after(() => held.close());
  const apiPort = (held.address() as net.AddressInfo).port;
  const [prometheusPort, tapPort, dashboardPort] = [await unusedPort(), await unusedPort(), await unusedPort()];
  const child = spawn(process.execPath, [WEFT_BIN, 'demo', '--mode', 'loopback', '--rps', '5',
    '--prometheus-port', String(prometheusPort), '--api-port', String(apiPort), '--tap-port', String(tapPort), '--dashboard-port', String(dashboardPort)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 1, err);
  assert.match(err, new RegExp(`weft: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${apiPort}`));
  assert.deepEqual(footprint(undefined), before, 'the demo left processes behind');
  // The ports viz did get were let go with the rest.
  for (const port of [tapPort, dashboardPort]) assert.ok(await canListen(port), `port ${port} is still taken`);
});
