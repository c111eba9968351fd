// The `weft` binary (as a subprocess) against viz, a real Prometheus and
// fixture proxies carrying real HTTP traffic sent by this test (see
// viz/src/testing/fixture-proxy.ts; the real proxy is exercised by the demo
// test): stat numbers agree with the traffic, edges show the mTLS
// identities, tap streams matching requests, and exit codes are meaningful.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestMesh, sendThrough, identityOf, expectedP50Bucket, type TestMesh } from '@weft/viz/testing/test-mesh';
import type { StatResult } from '@weft/viz';

const WEFT = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
let mesh: TestMesh;
const booksLatencies: number[] = [];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `weft`; `until` ends it (SIGINT, like Ctrl-C) once its output satisfies a condition. */
function weft(args: readonly string[], opts: { until?: (stdout: string) => boolean; whileWaiting?: () => Promise<void>; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WEFT, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WEFT_VIZ_API_ADDR: mesh.viz.apiUrl, WEFT_VIZ_TAP_ADDR: mesh.viz.tapUrl, WEFT_VIZ_WEB_ADDR: mesh.viz.webUrl } });
    let stdout = '';
    let stderr = '';
    let done = false;
    const safety = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (opts.until?.(stdout) && !done) {
        done = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(safety);
      resolve({ code, stdout, stderr });
    });
    if (opts.whileWaiting) {
      void (async () => {
        while (!done && child.exitCode === null) await opts.whileWaiting!();
      })();
    }
  });
}

before(async () => {
  mesh = await startTestMesh();
  const paths = [...Array.from({ length: 190 }, (_, i) => `/books/${i}`), ...Array.from({ length: 10 }, (_, i) => `/books/fail/${i}`)];
  await sendThrough(mesh.web, mesh.books, paths, 8, booksLatencies);
  await sendThrough(mesh.web, mesh.authors, Array.from({ length: 30 }, (_, i) => `/authors/${i}`));
  await mesh.prometheus.scrapedAfter(new Date());
});

after(async () => {
  await mesh?.close();
});

test('weft viz stat deploy agrees with the traffic sent', async () => {
  const json = await weft(['viz', 'stat', 'deploy', '-n', 'shop', '-t', '5m', '-o', 'json']);
  assert.equal(json.code, 0, json.stderr);
  const rows = (JSON.parse(json.stdout) as StatResult).rows;
  const books = rows.find((r) => r.name === 'books')!;
  assert.equal(books.requests, 200);
  assert.ok(Math.abs(books.successRate! - 0.95) <= 0.01, `success ${books.successRate}`);
  const { above, atMost } = expectedP50Bucket(booksLatencies, 120);
  assert.ok(books.latencyMsP50! > above && books.latencyMsP50! <= atMost, `p50 ${books.latencyMsP50} not in the (${above}, ${atMost}] ms bucket of a 120 ms app`);
  assert.equal(rows.find((r) => r.name === 'authors')!.requests, 30);

  const table = await weft(['viz', 'stat', 'deploy/books', '-n', 'shop', '-t', '5m', '-o', 'wide']);
  assert.equal(table.code, 0, table.stderr);
  const [header, line] = table.stdout.trim().split('\n');
  assert.match(header!, /^NAMESPACE\s+NAME\s+MESHED\s+SUCCESS\s+RPS\s+LATENCY_P50\s+LATENCY_P95\s+LATENCY_P99\s+TCP_CONN\s+REQUESTS$/);
  assert.match(line!, /^shop\s+books\s+1\/1\s+95\.00%\s+\S+rps\s+\d+ms\s+\d+ms\s+\d+ms\s+\d+\s+200$/);
});

test('weft viz stat --from and yaml output', async () => {
  const r = await weft(['viz', 'stat', 'deploy', '-n', 'shop', '--from', 'deploy/web', '-t', '5m', '-o', 'yaml']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /name: books\n(.*\n)*?\s+requests: 200/);
  assert.match(r.stdout, /name: authors\n(.*\n)*?\s+requests: 30/);
});

test('weft viz edges shows the client and server identities', async () => {
  const r = await weft(['viz', 'edges', 'deploy', '-n', 'shop', '-t', '5m']);
  assert.equal(r.code, 0, r.stderr);
  const line = r.stdout.split('\n').find((l) => /^web\s+books\s/.test(l));
  assert.ok(line, r.stdout);
  assert.ok(line.includes(identityOf('web', 'shop')) && line.includes(identityOf('books', 'shop')), line);
  assert.match(line, /√/);
  assert.equal(r.stdout.trim().split('\n').length, 3, 'a header and two edges');
});

test('weft viz routes lists the routes of a workload', async () => {
  const r = await weft(['viz', 'routes', 'deploy/books', '-n', 'shop', '-t', '5m']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^GET \/books\s+ServiceProfile\s+books\s+95\.00%/m);
});

test('weft viz tap streams matching requests while traffic flows', async () => {
  const r = await weft(['viz', 'tap', 'deploy/books', '-n', 'shop', '--path', '/books/tap', '--max', '3'], {
    // The tap opens asynchronously on each proxy: keep traffic flowing until the CLI is done.
    whileWaiting: async () => {
      await sendThrough(mesh.web, mesh.books, ['/books/tap/1', '/books/other']);
    },
  });
  assert.equal(r.code, 0, r.stderr);
  const reqs = r.stdout.split('\n').filter((l) => l.startsWith('req '));
  assert.ok(reqs.length >= 3, r.stdout);
  for (const l of reqs) assert.match(l, /:method=GET :authority=books\.shop\.svc\.cluster\.local:80 :path=\/books\/tap\/1/);
  assert.ok(r.stdout.split('\n').some((l) => /^end .*proxy=in .*duration=\d+ms response-length=\d+B/.test(l)), r.stdout);
  assert.match(r.stdout, new RegExp(`client_id=${identityOf('web', 'shop').replace(/\./g, '\\.')}`));
});

test('weft viz top aggregates tapped requests by path', async () => {
  const r = await weft(['viz', 'top', 'deploy/authors', '-n', 'shop', '--duration', '3s', '-o', 'json'], {
    whileWaiting: async () => {
      await sendThrough(mesh.web, mesh.authors, ['/authors/top']);
    },
  });
  assert.equal(r.code, 0, r.stderr);
  const top = JSON.parse(r.stdout) as { routes: Array<{ path: string; count: number; source: string }> };
  const row = top.routes.find((x) => x.path === '/authors/top' && x.source === identityOf('web', 'shop'));
  assert.ok(row && row.count >= 1, r.stdout);
});

test('weft identity and diagnostics proxy-metrics read a pod through viz', async () => {
  const id = await weft(['identity', mesh.books.target.name, '-n', 'shop']);
  assert.equal(id.code, 0, id.stderr);
  assert.match(id.stdout, new RegExp(`DNS names:\\s+${identityOf('books', 'shop').replace(/\./g, '\\.')}`));
  assert.match(id.stdout, /URIs:\s+spiffe:\/\/cluster\.local\/ns\/shop\/sa\/books/);
  const m = await weft(['diagnostics', 'proxy-metrics', mesh.books.target.name, '-n', 'shop']);
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /^response_latency_ms_bucket\{/m);
});

test('exit codes: usage 2, unreachable 3, not found 4', async () => {
  const usage = await weft(['viz', 'stat', 'bogus']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /"bogus" is not a resource kind/);
  const unreachable = await weft(['viz', 'stat', 'deploy', '--api-addr', 'http://127.0.0.1:9']);
  assert.equal(unreachable.code, 3);
  assert.match(unreachable.stderr, /cannot reach viz at http:\/\/127\.0\.0\.1:9/);
  const missing = await weft(['viz', 'tap', 'deploy/ghost', '-n', 'shop']);
  assert.equal(missing.code, 4);
  const flag = await weft(['viz', 'stat', 'deploy', '--no-such-flag']);
  assert.equal(flag.code, 2);
});

test('weft viz dashboard prints a reachable URL', async () => {
  const r = await weft(['viz', 'dashboard']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `weft dashboard: ${mesh.viz.webUrl}/`);
  const page = await fetch(`${mesh.viz.webUrl}/`);
  assert.match(await page.text(), /<title>weft viz<\/title>/);
});
