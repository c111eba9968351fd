/**
 * A small mesh for viz and CLI tests: namespace `shop` with deployments
 * `web` → `books` (slow: ~120 ms, `/books/fail` answers 500) and
 * `web` → `authors` (fast), each a fixture proxy (see fixture-proxy.ts);
 * a real Prometheus scraping their `/metrics` every second; viz on free
 * loopback ports reading the same proxy list from a file.
 */
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestPki, type CertAndKey } from '@weft/common/testing/pki';
import { LATENCY_BUCKETS_MS } from '@weft/common/metrics';
import { renderScrapeConfig } from '../metrics/scrape-config.js';
import { FileTargetSource } from '../targets.js';
import type { TapAuthorizer } from '../tap/authorizer.js';
import { startViz, type Viz } from '../viz.js';
import { startFixtureProxy, type FixtureProxy } from './fixture-proxy.js';
import { startPrometheus, type TestPrometheus } from './prometheus.js';

export const identityOf = (sa: string, ns: string) => `${sa}.${ns}.serviceaccount.identity.weft.cluster.local`;

export interface TestMesh {
  readonly anchor: CertAndKey;
  readonly web: FixtureProxy;
  readonly books: FixtureProxy;
  readonly authors: FixtureProxy;
  readonly prometheus: TestPrometheus;
  readonly viz: Viz;
  readonly proxiesFile: string;
  close(): Promise<void>;
}

export interface TestMeshOptions {
  readonly authorizer?: TapAuthorizer;
}

export async function startTestMesh(opts: TestMeshOptions = {}): Promise<TestMesh> {
  const pki = new TestPki();
  const dir = mkdtempSync(join(tmpdir(), 'weft-viz-mesh-'));
  const cleanups: Array<() => Promise<void> | void> = [() => pki.dispose(), () => rmSync(dir, { recursive: true, force: true })];
  const close = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const anchor = pki.cert({ subject: '/CN=root.weft.cluster.local', ca: true });
    const issuer = pki.cert({ subject: '/CN=identity.weft.cluster.local', ca: true, issuer: anchor });
    const leaf = (sa: string, ns: string) => {
      const c = pki.cert({ subject: `/CN=${identityOf(sa, ns)}`, issuer, dns: [identityOf(sa, ns)], uri: [`spiffe://cluster.local/ns/${ns}/sa/${sa}`] });
      return { ca: anchor.cert, cert: c.cert + issuer.cert, key: c.key };
    };
    const proxy = async (name: string, app?: (path: string) => { status: number; delayMs: number }) => {
      const p = await startFixtureProxy({
        namespace: 'shop',
        pod: `${name}-7d4b9c-x${name.length}`,
        workload: { kind: 'deployment', name },
        service: name,
        identity: identityOf(name, 'shop'),
        tapTls: leaf(name, 'shop'),
        ...(app ? { app } : {}),
      });
      cleanups.push(() => p.close());
      return p;
    };
    const web = await proxy('web');
    const books = await proxy('books', (path) => ({ status: path.startsWith('/books/fail') ? 500 : 200, delayMs: 120 }));
    const authors = await proxy('authors', () => ({ status: 200, delayMs: 5 }));
    const targets = [web.target, books.target, authors.target];
    const proxiesFile = join(dir, 'proxies.json');
    writeFileSync(proxiesFile, JSON.stringify({ proxies: targets.map((t) => ({ ...t, workload: `${t.workload.kind}/${t.workload.name}` })) }, null, 2));
    const prometheus = await startPrometheus(renderScrapeConfig(targets, { scrapeInterval: '1s' }), targets.length);
    cleanups.push(() => prometheus.stop());
    const vizClient = leaf('viz', 'weft-viz');
    const viz = await startViz({
      prometheusUrl: prometheus.url,
      targets: new FileTargetSource(proxiesFile),
      tapTls: vizClient,
      ...(opts.authorizer ? { authorizer: opts.authorizer } : {}),
      api: { host: '127.0.0.1', port: 0 },
      tap: { host: '127.0.0.1', port: 0 },
      web: { host: '127.0.0.1', port: 0 },
    });
    cleanups.push(() => viz.close());
    return { anchor, web, books, authors, prometheus, viz, proxiesFile, close };
  } catch (err) {
    await close();
    throw err;
  }
}

// fetch() may not set Host (a forbidden header), which picks the destination here.
function get(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { host } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

/** Sends requests through a fixture's outbound side, `concurrency` at a time; returns the statuses. */
export async function sendThrough(via: FixtureProxy, dst: FixtureProxy, paths: readonly string[], concurrency = 8, latenciesMs?: number[]): Promise<number[]> {
  via.routeTo(dst);
  const statuses: number[] = new Array(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      const started = performance.now();
      statuses[i] = await get(via.outboundUrl + paths[i], `${dst.opts.workload.name}.shop.svc.cluster.local:80`);
      latenciesMs?.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

/**
 * The latency bucket a p50 must fall in: above `floorMs` (what the app
 * itself takes) and at most the first bucket bound at or above the median the
 * client measured (the proxy measures less than its client does). On a quiet
 * machine that is the (100, 200] ms bucket of a 120 ms app.
 */
export function expectedP50Bucket(clientLatenciesMs: readonly number[], floorMs: number): { above: number; atMost: number } {
  const sorted = [...clientLatenciesMs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  const bucket = (ms: number) => LATENCY_BUCKETS_MS.find((b) => b >= ms) ?? Infinity;
  return { above: LATENCY_BUCKETS_MS.filter((b) => b < floorMs).pop() ?? 0, atMost: bucket(median) };
}
