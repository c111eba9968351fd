// The dashboard in a real headless Chromium (Debian `chromium` driven by
// playwright-core) against viz, a real Prometheus and fixture proxies carrying
// live traffic: it shows the workloads and the mTLS edges of the mesh and the
// tap view shows live requests. Screenshots go to viz/test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startTestMesh, sendThrough, identityOf, type TestMesh } from '../testing/test-mesh.js';

// Page functions run in the browser; this is the little of the DOM they use.
declare const document: { querySelectorAll(s: string): { length: number }; querySelector(s: string): { textContent: string | null } | null };

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

let mesh: TestMesh;
let context: BrowserContext;
let page: Page;
let profile: string;
let traffic: Promise<void> | undefined;
let stopTraffic = false;

before(async () => {
  if (!existsSync(CHROMIUM)) return;
  mesh = await startTestMesh();
  // Live traffic for as long as the test runs: the dashboard refreshes against it.
  traffic = (async () => {
    for (let i = 0; !stopTraffic; i++) {
      await sendThrough(mesh.web, mesh.books, [`/books/${i}`, i % 10 === 0 ? `/books/fail/${i}` : `/books/ok/${i}`], 2);
      await sendThrough(mesh.web, mesh.authors, [`/authors/${i}`], 1);
    }
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
  await page.goto(`${mesh.viz.webUrl}/#/ns/shop`);
  const names = page.locator('[data-testid=workloads-row]');
  await page
    .waitForFunction(() => document.querySelectorAll('[data-testid=workloads-row]').length === 3, undefined, { timeout: 60_000 })
    .catch(async (err: Error) => {
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-failure.png'), fullPage: true });
      throw new Error(`${err.message}\npage: ${await page.locator('body').innerText()}`);
    });
  assert.deepEqual(await names.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name'))), ['authors', 'books', 'web']);
  // Edges appear once Prometheus has scraped traffic on both of them.
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=edge][data-mtls=true]').length === 2, undefined, { timeout: 60_000 });
  const edges = await page.locator('[data-testid=edge]').evaluateAll((gs) => gs.map((g) => `${g.getAttribute('data-src')}->${g.getAttribute('data-dst')}`));
  assert.deepEqual(edges.sort(), ['web->authors', 'web->books']);
  const table = await page.locator('[data-testid=edges]').innerText();
  assert.ok(table.includes(identityOf('web', 'shop')) && table.includes(identityOf('books', 'shop')), table);
  // The books workload's success rate reflects the 1-in-20 failures it serves.
  await page.waitForFunction(() => /%/.test(document.querySelector('[data-testid=workloads-row][data-name=books] td:nth-child(3)')?.textContent ?? ''), undefined, { timeout: 60_000 });
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-namespace.png'), fullPage: true });
});

test('the tap view of a workload shows live requests', async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`${CHROMIUM} is not installed`);
  await page.goto(`${mesh.viz.webUrl}/#/ns/shop/deployment/books`);
  await page.locator('[data-testid=tap-toggle]').click();
  await page.waitForSelector('[data-testid=tap-row]', { timeout: 30_000 });
  const row = await page.locator('[data-testid=tap-row]').first().innerText();
  assert.match(row, /inbound/);
  assert.match(row, /\/books\//);
  assert.match(row, /GET/);
  assert.ok(row.includes(identityOf('web', 'shop')), row);
  // The view keeps streaming across the page's periodic refreshes.
  const before = await page.locator('[data-testid=tap-row]').count();
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=tap-row]').length > n, before, { timeout: 30_000 });
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-tap.png'), fullPage: true });
});

test('the home view lists namespaces with golden metrics', async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`${CHROMIUM} is not installed`);
  await page.goto(`${mesh.viz.webUrl}/`);
  await page.waitForSelector('[data-testid=namespaces-row][data-name=shop]', { timeout: 30_000 });
  const row = await page.locator('[data-testid=namespaces-row][data-name=shop]').innerText();
  assert.match(row, /3\/3/);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-home.png'), fullPage: true });
});
