// viz against a real Prometheus scraping fixture proxies that carry real HTTP
// traffic sent by this test (the real proxy is being built in parallel; see
// testing/fixture-proxy.ts): stat numbers match the traffic, edges carry the
// identities, routes are counted, tap streams matching requests, and bad
// input gets a clear error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestMesh, sendThrough, identityOf, expectedP50Bucket, type TestMesh } from './testing/test-mesh.js';
import { poll } from './testing/prometheus.js';
import { startViz, type Viz } from './viz.js';
import { StaticTargetSource } from './targets.js';
import { TokenAuthorizer } from './tap/authorizer.js';
import type { StatResult } from './metrics/stat.js';
import type { Edge } from './metrics/edges.js';
import type { RouteRow } from './metrics/routes.js';
import type { TimeSeries } from './metrics/timeseries.js';
import type { TapLine } from './tap/aggregator.js';

let mesh: TestMesh;
const booksLatencies: number[] = [];

async function get<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(mesh.viz.apiUrl + path);
  return { status: res.status, body: (await res.json()) as T };
}

before(async () => {
  mesh = await startTestMesh();
  const paths = [...Array.from({ length: 90 }, (_, i) => `/books/${i}`), ...Array.from({ length: 10 }, (_, i) => `/books/fail/${i}`)];
  const statuses = await sendThrough(mesh.web, mesh.books, paths, 8, booksLatencies);
  assert.equal(statuses.filter((s) => s === 200).length, 90);
  await sendThrough(mesh.web, mesh.authors, Array.from({ length: 40 }, (_, i) => `/authors/${i}`));
  await mesh.prometheus.scrapedAfter(new Date());
});

after(async () => {
  await mesh?.close();
});

test('stat deploy reports the requests, success rate and latency bucket of the traffic sent', async () => {
  const { status, body } = await get<StatResult>('/api/v1/stat?resource=deploy&namespace=shop&window=5m');
  assert.equal(status, 200);
  const row = (n: string) => body.rows.find((r) => r.name === n)!;
  assert.equal(row('books').requests, 100);
  assert.ok(Math.abs(row('books').successRate! - 0.9) <= 0.01, `success rate ${row('books').successRate}`);
  // The app answers after 120 ms: the median falls in the (100, 200] ms bucket (a later one only on a very loaded machine).
  const { above, atMost } = expectedP50Bucket(booksLatencies, 120);
  assert.ok(row('books').latencyMsP50! > above && row('books').latencyMsP50! <= atMost, `p50 ${row('books').latencyMsP50} not in (${above}, ${atMost}]`);
  assert.equal(row('authors').requests, 40);
  assert.equal(row('authors').successRate, 1);
  assert.equal(row('books').meshedPods, 1);
  // web only sends: it is listed (its proxy is scraped) with no inbound requests.
  assert.equal(row('web').requests, 0);
  assert.equal(row('web').meshedPods, 1);
});

test('stat --from reads the client side and --to narrows to one destination', async () => {
  const from = await get<StatResult>('/api/v1/stat?resource=deploy&namespace=shop&from=deploy/web&fromNamespace=shop&window=5m');
  assert.deepEqual(from.body.rows.map((r) => [r.name, r.requests]), [['authors', 40], ['books', 100]]);
  const to = await get<StatResult>('/api/v1/stat?resource=deploy/web&namespace=shop&to=deploy/books&toNamespace=shop&window=5m');
  assert.deepEqual(to.body.rows.map((r) => [r.name, r.requests, r.successRate]), [['web', 100, 0.9]]);
});

test('stat of services and namespaces aggregates the same traffic', async () => {
  const svc = await get<StatResult>('/api/v1/stat?resource=svc/books&namespace=shop&window=5m');
  assert.equal(svc.body.rows[0]!.requests, 100);
  const ns = await get<StatResult>('/api/v1/stat?resource=ns&window=5m');
  assert.equal(ns.body.rows.find((r) => r.name === 'shop')!.requests, 140);
  assert.equal(ns.body.rows.find((r) => r.name === 'shop')!.meshedPods, 3);
});

test('edges show client and server mTLS identities and the success rate the client saw', async () => {
  const { body } = await get<{ edges: Edge[] }>('/api/v1/edges?kind=deployment&namespace=shop&window=5m');
  const e = body.edges.find((x) => x.src.name === 'web' && x.dst.name === 'books')!;
  assert.ok(e, JSON.stringify(body.edges));
  assert.equal(e.clientId, identityOf('web', 'shop'));
  assert.equal(e.serverId, identityOf('books', 'shop'));
  assert.equal(e.mtls, true);
  assert.equal(e.requests, 100);
  // The client saw 10 of its 100 requests to books fail, none of those to authors.
  assert.ok(Math.abs(e.successRate! - 0.9) <= 0.01, `web → books success ${e.successRate}`);
  assert.equal(body.edges.find((x) => x.dst.name === 'authors')!.successRate, 1);
  assert.equal(body.edges.length, 2);
});

test('routes are listed busiest first with per-route success', async () => {
  const { body } = await get<{ routes: RouteRow[] }>('/api/v1/routes?resource=deploy/books&namespace=shop&window=5m');
  assert.deepEqual(body.routes.map((r) => [r.route, r.kind, r.requests, r.successRate]), [['GET /books', 'ServiceProfile', 100, 0.9]]);
});

test('tap streams only the requests that match the filter', async (t) => {
  const abort = new AbortController();
  const res = await fetch(`${mesh.viz.tapUrl}/api/v1/tap?resource=deploy/books&namespace=shop&path=/books/tapped&method=GET`, { signal: abort.signal });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const lines: TapLine[] = [];
  let buf = '';
  const reading = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buf += Buffer.from(value).toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buf.slice(0, i)) as TapLine);
        buf = buf.slice(i + 1);
      }
    }
  })().catch(() => undefined);
  const started = Date.now();
  // The proxies' streams open asynchronously: keep sending until events arrive.
  const ends = await poll('tap events', async () => {
    await sendThrough(mesh.web, mesh.books, ['/books/tapped/1', '/books/other']);
    const done = lines.filter((l) => 'type' in l && l.type === 'end');
    return done.length >= 2 ? done : undefined;
  }, 30_000);
  t.diagnostic(`first matching events after ${Date.now() - started} ms`);
  abort.abort();
  await reading;
  const requests = lines.filter((l) => 'type' in l && l.type === 'request');
  assert.ok(requests.length >= 2);
  for (const r of requests) assert.ok('path' in r && r.path!.startsWith('/books/tapped'), `unexpected ${JSON.stringify(r)}`);
  const inbound = lines.find((l) => 'type' in l && l.type === 'end' && l.direction === 'inbound');
  assert.ok(inbound && 'clientId' in inbound);
  assert.equal(inbound.clientId, identityOf('web', 'shop'));
  assert.equal(inbound.tls, true);
  assert.ok(ends.every((e) => 'responseBytes' in e && e.responseBytes! > 0));
});

test('a pod\'s certificate and proxy metrics are read through viz', async () => {
  const pod = mesh.books.target.name;
  const id = await get<{ certificate: { dnsNames: string[]; uris: string[] } }>(`/api/v1/identity?namespace=shop&pod=${pod}`);
  assert.deepEqual(id.body.certificate.dnsNames, [identityOf('books', 'shop')]);
  assert.deepEqual(id.body.certificate.uris, ['spiffe://cluster.local/ns/shop/sa/books']);
  const res = await fetch(`${mesh.viz.apiUrl}/api/v1/proxy-metrics?namespace=shop&pod=${pod}`);
  assert.match(await res.text(), /^request_total\{.*direction="inbound"/m);
});

test('bad input gets a clear error and viz keeps serving', async () => {
  const kind = await get<{ error: { message: string } }>('/api/v1/stat?resource=bogus');
  assert.equal(kind.status, 400);
  assert.match(kind.body.error.message, /"bogus" is not a resource kind/);
  const win = await get<{ error: { message: string } }>('/api/v1/stat?resource=deploy&window=soon');
  assert.equal(win.status, 400);
  assert.match(win.body.error.message, /"soon" is not a time window/);
  const ns = await get<{ error: { message: string } }>('/api/v1/stat?resource=deploy&namespace=Bad_NS');
  assert.equal(ns.status, 400);
  const both = await get<{ error: { message: string } }>('/api/v1/stat?resource=deploy&from=deploy/a&to=deploy/b');
  assert.match(both.body.error.message, /--from or --to, not both/);
  const missing = await fetch(`${mesh.viz.tapUrl}/api/v1/tap?resource=deploy/nope&namespace=shop`);
  assert.equal(missing.status, 404);
  const pod = await get<{ error: { message: string } }>('/api/v1/identity?namespace=shop&pod=ghost');
  assert.equal(pod.status, 404);
  assert.equal((await get<StatResult>('/api/v1/stat?resource=deploy&namespace=shop')).status, 200);
});

test('tap refuses callers without a valid token when token auth is configured', async (t) => {
  const viz: Viz = await startViz({
    prometheusUrl: 'http://127.0.0.1:9',
    targets: new StaticTargetSource([mesh.books.target]),
    tapTls: { ca: mesh.anchor.cert, cert: '', key: '' },
    authorizer: new TokenAuthorizer('s3cret'),
    api: { host: '127.0.0.1', port: 0 },
    tap: { host: '127.0.0.1', port: 0 },
    web: { host: '127.0.0.1', port: 0 },
  });
  t.after(() => viz.close());
  const none = await fetch(`${viz.tapUrl}/api/v1/tap?resource=deploy/books&namespace=shop`);
  assert.equal(none.status, 401);
  const wrong = await fetch(`${viz.tapUrl}/api/v1/tap?resource=deploy/books&namespace=shop`, { headers: { authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 403);
  assert.match(((await wrong.json()) as { error: { message: string } }).error.message, /not valid/);
  // Prometheus is unreachable here: stat answers 503 naming it.
  const stat = await fetch(`${viz.apiUrl}/api/v1/stat?resource=deploy`);
  assert.equal(stat.status, 503);
  assert.match(((await stat.json()) as { error: { message: string } }).error.message, /cannot reach Prometheus/);
});

test('timeseries draws success rate, rps and latency of a workload over the window from range queries', async () => {
  // rate() needs a series to move between scrapes: traffic keeps flowing (1 in 10 fails) until the charts have it.
  let stop = false;
  const traffic = (async () => {
    for (let i = 0; !stop; i++) {
      await sendThrough(mesh.web, mesh.books, [i % 10 === 0 ? `/books/fail/t${i}` : `/books/t${i}`, `/books/u${i}`]);
      await sendThrough(mesh.web, mesh.authors, [`/authors/t${i}`]);
    }
  })();
  const seen = <T>(xs: Array<T | null>) => xs.filter((x): x is T => x !== null);
  let body: TimeSeries;
  let authors: TimeSeries;
  try {
    // Both workloads' charts must have points with traffic: a counter that went from nothing to its value between two
    // scrapes (authors' burst in before() takes a few ms) has no increase to rate until the loop's requests are scraped.
    [body, authors] = await poll(
      'time series with traffic and failures',
      async () => {
        const { body: b } = await get<TimeSeries>('/api/v1/timeseries?resource=deploy/books&namespace=shop&window=5m');
        const { body: a } = await get<TimeSeries>('/api/v1/timeseries?resource=deploy/authors&namespace=shop&window=5m');
        const booksDrawn = seen(b.rps).some((v) => v > 0) && seen(b.successRate).some((v) => v < 1) && seen(b.latencyMsP50).length > 0;
        return booksDrawn && seen(a.successRate).length > 0 ? ([b, a] as const) : undefined;
      },
      120_000,
    );
  } finally {
    stop = true;
    await traffic;
  }
  // The test Prometheus scrapes every second: 5m in 90-odd points of 4 s.
  assert.equal(body.step, Math.ceil(300 / 90));
  assert.equal(body.rateInterval, `${body.step + 1}s`);
  for (const series of [body.successRate, body.rps, body.latencyMsP50, body.latencyMsP95, body.latencyMsP99]) assert.equal(series.length, body.timestamps.length);
  assert.ok(body.timestamps.every((t, i) => i === 0 || t - body.timestamps[i - 1]! === body.step), 'one shared, evenly spaced axis');
  assert.ok(seen(body.rps).some((v) => v > 0), `no rps: ${JSON.stringify(body.rps)}`);
  const sr = seen(body.successRate);
  assert.ok(sr.length > 0 && sr.every((v) => v >= 0 && v <= 1), `success rates ${sr}`);
  assert.ok(sr.some((v) => v < 1), 'the failures sent show as a dip');
  // The app answers after 120 ms: points with traffic have p50 in the (100, 200] ms bucket.
  assert.ok(seen(body.latencyMsP50).some((v) => v > 100 && v <= 200), `p50 ${body.latencyMsP50}`);
  assert.ok(seen(body.latencyMsP99).every((v) => v >= 100), `p99 ${body.latencyMsP99}`);
  // A namespace and a service work too; authors (always 200) has success rate 1 wherever it has traffic.
  assert.ok(seen(authors.successRate).every((v) => v === 1), `authors success rates ${JSON.stringify(authors.successRate)}`);
  const ns = await get<TimeSeries>('/api/v1/timeseries?resource=namespace/shop&window=5m');
  assert.ok(seen(ns.body.rps).some((v) => v > 0));
});

test('timeseries refuses what it cannot draw with a clear error', async () => {
  const long = await get<{ error: { message: string } }>('/api/v1/timeseries?resource=deploy/books&namespace=shop&window=2d');
  assert.equal(long.status, 400);
  assert.match(long.body.error.message, /longer than a day/);
  const route = await get<{ error: { message: string } }>('/api/v1/timeseries?resource=route/x&namespace=shop');
  assert.equal(route.status, 400);
  const none = await get<{ error: { message: string } }>('/api/v1/timeseries?namespace=shop');
  assert.equal(none.status, 400);
  assert.match(none.body.error.message, /"resource" is required/);
});
