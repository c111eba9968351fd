// The dashboard in a real headless Chromium (Debian `chromium` driven by
// playwright-core) against viz, a real Prometheus and real weft proxies
// (the proxy's in-process test mesh) carrying live traffic: it shows the
// workloads and the mTLS edges of the mesh and the tap view shows live
// requests. Screenshots go to viz/test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startRealProxyMesh, CLIENT_ID, SERVER_ID, type RealProxyMesh } from '../testing/real-proxy-mesh.js';

// Page functions run in the browser; this is the little of the DOM they use.
declare const document: { querySelectorAll(s: string): { length: number }; querySelector(s: string): { textContent: string | null } | null };

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

let mesh: RealProxyMesh;
let context: BrowserContext;
let page: Page;
let profile: string;
let traffic: Promise<void> | undefined;
let stopTraffic = false;

before(async () => {
  if (!existsSync(CHROMIUM)) return;
  mesh = await startRealProxyMesh({ appDelayMs: 20 });
  // Live traffic for as long as the test runs (1 in 10 fails): the dashboard refreshes against it.
  traffic = (async () => {
    for (let i = 0; !stopTraffic; i++) await Promise.all([mesh.send(i % 10 === 0 ? `/books/fail/${i}` : `/books/${i}`), mesh.send(`/books/ok/${i}`)]);
  })();
  profile = mkdtempSync(join(tmpdir(), 'weft-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 1000 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  stopTraffic = true;
  await traffic;
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await mesh?.close();
});

test('the namespace view shows the workloads and the mTLS edges of the mesh', async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`${CHROMIUM} is not installed`);
  await page.goto(`${mesh.viz.webUrl}/#/ns/test`);
  const names = page.locator('[data-testid=workloads-row]');
  await page
    .waitForFunction(() => document.querySelectorAll('[data-testid=workloads-row]').length === 2, undefined, { timeout: 60_000 })
    .catch(async (err: Error) => {
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-failure.png'), fullPage: true });
      throw new Error(`${err.message}\npage: ${await page.locator('body').innerText()}`);
    });
  assert.deepEqual(await names.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name'))), ['client', 'server']);
  // Edges appear once Prometheus has scraped traffic on both of them.
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=edge][data-mtls=true]').length === 1, undefined, { timeout: 60_000 });
  const edges = await page.locator('[data-testid=edge]').evaluateAll((gs) => gs.map((g) => `${g.getAttribute('data-src')}->${g.getAttribute('data-dst')}`));
  assert.deepEqual(edges, ['client->server']);
  const table = await page.locator('[data-testid=edges]').innerText();
  assert.ok(table.includes(CLIENT_ID) && table.includes(SERVER_ID), table);
  // The server's success rate is shown once Prometheus has its responses.
  await page.waitForFunction(() => /%/.test(document.querySelector('[data-testid=workloads-row][data-name=server] td:nth-child(3)')?.textContent ?? ''), undefined, { timeout: 60_000 });
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-namespace.png'), fullPage: true });
});

test('the tap view of a workload shows live requests', async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`${CHROMIUM} is not installed`);
  await page.goto(`${mesh.viz.webUrl}/#/ns/test/deployment/server`);
  await page.locator('[data-testid=tap-toggle]').click();
  await page.waitForSelector('[data-testid=tap-row]', { timeout: 30_000 });
  const row = await page.locator('[data-testid=tap-row]').first().innerText();
  assert.match(row, /inbound/);
  assert.match(row, /\/books\//);
  assert.match(row, /GET/);
  assert.ok(row.includes(CLIENT_ID), row);
  // The view keeps streaming across the page's periodic refreshes.
  const before = await page.locator('[data-testid=tap-row]').count();
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=tap-row]').length > n, before, { timeout: 30_000 });
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-tap.png'), fullPage: true });
});

test('the home view lists namespaces with golden metrics', async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`${CHROMIUM} is not installed`);
  await page.goto(`${mesh.viz.webUrl}/`);
  await page.waitForSelector('[data-testid=namespaces-row][data-name=test]', { timeout: 30_000 });
  const row = await page.locator('[data-testid=namespaces-row][data-name=test]').innerText();
  assert.match(row, /2\/2/);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-home.png'), fullPage: true });
});
