// The dashboard in a real headless Chromium (Debian `chromium` driven by
// playwright-core) against viz, a real Prometheus and real weft proxies
// (the proxy's in-process test mesh, with a service profile so routes exist)
// carrying live traffic: time series drawn by uPlot with data, the workloads,
// the topology's edges coloured by success rate and sized by rps with mTLS
// shown, a click from an edge to its tap, routes worst first, light and dark
// themes, and no Content-Security-Policy violation anywhere. A screenshot of
// every page goes to viz/test-artifacts/ (git-ignored; paths printed).
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startRealProxyMesh, CLIENT_ID, SERVER_ID, type RealProxyMesh } from '../testing/real-proxy-mesh.js';

// Page functions run in the browser; this is the little of the DOM they use.
interface Node {
  getAttribute(n: string): string | null;
  textContent: string | null;
}
declare const document: { querySelectorAll(s: string): ArrayLike<Node> & { length: number }; querySelector(s: string): Node | null; body: unknown; documentElement: unknown };
declare const window: { __csp: string[]; uPlot?: unknown; addEventListener(t: string, f: (e: { violatedDirective: string; blockedURI: string }) => void): void };
declare function getComputedStyle(e: unknown): { backgroundColor: string; stroke: string; getPropertyValue(n: string): string };

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const LONG = { timeout: 90_000 };
/** The success-rate colours of style.css (≥ 99 %, ≥ 90 %, below), light and dark. */
const SR_COLOURS = {
  light: { 'sr-ok': 'rgb(18, 128, 92)', 'sr-warn': 'rgb(181, 71, 8)', 'sr-bad': 'rgb(180, 35, 24)' },
  dark: { 'sr-ok': 'rgb(71, 205, 137)', 'sr-warn': 'rgb(253, 176, 34)', 'sr-bad': 'rgb(249, 112, 102)' },
} as const;
const srClassOf = (percent: number) => (percent >= 99 ? 'sr-ok' : percent >= 90 ? 'sr-warn' : 'sr-bad');

/** The edge's success rate as its label says, the class it is drawn with, and its stroke colour. */
async function edgeLook(): Promise<{ percent: number; sr: string; stroke: string }> {
  const edge = page.locator('[data-testid=edge]');
  const label = (await edge.locator('text').textContent()) ?? '';
  const m = /· (\d+\.\d\d)% ·/.exec(label);
  assert.ok(m, label);
  return { percent: Number(m[1]), sr: (await edge.getAttribute('data-sr'))!, stroke: await page.evaluate(() => getComputedStyle(document.querySelector('[data-testid=edge] line:not(.hit)')).stroke) };
}

let mesh: RealProxyMesh;
let context: BrowserContext;
let page: Page;
let profile: string;
let traffic: Promise<void> | undefined;
let stopTraffic = false;

before(async () => {
  if (!existsSync(CHROMIUM)) return;
  mesh = await startRealProxyMesh({ appDelayMs: 20, routes: true });
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
    colorScheme: 'light',
  });
  // Every CSP violation of every page is recorded (the dashboard must run without inline script, style or eval).
  await context.addInitScript(() => {
    window.__csp = [];
    window.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
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

async function screenshot(t: TestContext, name: string): Promise<void> {
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage: true });
  t.diagnostic(`screenshot: ${path}`);
}

/** Waits for a condition in the page; on timeout saves a screenshot and says what the page showed. */
async function waitIn(what: string, fn: () => boolean): Promise<void> {
  await page.waitForFunction(fn, undefined, LONG).catch(async (err: Error) => {
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-failure.png'), fullPage: true });
    throw new Error(`${what}: ${err.message}\npage: ${await page.locator('body').innerText()}`);
  });
}

async function assertNoCspViolation(): Promise<void> {
  assert.deepEqual(await page.evaluate(() => window.__csp), [], 'Content-Security-Policy violations');
}

/** The three charts are drawn by uPlot and hold points with data. */
async function assertChartsHaveData(): Promise<void> {
  await waitIn('charts with data', () => [...Array.from(document.querySelectorAll('[data-testid=chart]'))].filter((c) => Number(c.getAttribute('data-points')) > 0).length === 3);
  assert.deepEqual(await page.locator('[data-testid=chart]').evaluateAll((cs) => cs.map((c) => c.getAttribute('data-metric'))), ['success', 'rps', 'latency']);
  assert.equal(await page.locator('[data-testid=chart] .uplot canvas').count(), 3, 'one uPlot canvas per chart');
  assert.equal(await page.evaluate(() => typeof window.uPlot), 'function', 'uPlot served by viz');
}

test('the namespace view shows time series with data, the workloads, a coloured mTLS topology and routes worst first', async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`${CHROMIUM} is not installed`);
  await page.goto(`${mesh.viz.webUrl}/#/ns/test`);
  await waitIn('two workloads', () => document.querySelectorAll('[data-testid=workloads-row]').length === 2);
  const names = page.locator('[data-testid=workloads-row]');
  assert.deepEqual(await names.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name'))), ['client', 'server']);
  await assertChartsHaveData();
  // Edges appear once Prometheus has scraped traffic on both of them, coloured once responses are counted.
  await waitIn('a coloured mTLS edge', () => document.querySelectorAll('[data-testid=edge][data-mtls=true]:not([data-sr=sr-none])').length === 1);
  const edge = page.locator('[data-testid=edge]');
  assert.deepEqual(await edge.evaluateAll((gs) => gs.map((g) => `${g.getAttribute('data-src')}->${g.getAttribute('data-dst')}`)), ['client->server']);
  // Some requests fail: the edge is drawn in the colour of its success rate, as thick as the busiest edge, solid and marked for mTLS.
  const look = await edgeLook();
  assert.ok(look.percent < 99, `success ${look.percent} %`);
  assert.equal(look.sr, srClassOf(look.percent));
  assert.equal(look.stroke, SR_COLOURS.light[look.sr as keyof typeof SR_COLOURS.light]);
  assert.equal(await edge.getAttribute('data-width'), '7.5');
  assert.match((await edge.locator('text').textContent()) ?? '', /^✓ mTLS · \d+\.\d\d% · \d+\.\d rps$/);
  assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('[data-testid=edge] line:not(.hit)')).getPropertyValue('stroke-dasharray')), 'none', 'mTLS is solid');
  const table = await page.locator('[data-testid=edges]').innerText();
  assert.ok(table.includes(CLIENT_ID) && table.includes(SERVER_ID), table);
  // The server's success rate is shown once Prometheus has its responses.
  await waitIn('the server success rate', () => /%/.test(document.querySelector('[data-testid=workloads-row][data-name=server] td:nth-child(3)')?.textContent ?? ''));
  // Routes of the profile: `fail` (always 500) sorts first.
  await waitIn('both routes', () => document.querySelectorAll('[data-testid=route-row]').length >= 2);
  assert.equal(await page.locator('[data-testid=route-row]').first().getAttribute('data-route'), 'fail');
  await assertNoCspViolation();
  await screenshot(t, 'dashboard-namespace.png');
});

test('a click on an edge opens the tap of that edge: the destination\'s requests from the edge\'s client identity', async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`${CHROMIUM} is not installed`);
  await page.goto(`${mesh.viz.webUrl}/#/ns/test`);
  await waitIn('a coloured mTLS edge', () => document.querySelectorAll('[data-testid=edge][data-mtls=true]').length === 1);
  await page.locator('[data-testid=edge] line.hit').click({ force: true });
  await page.waitForURL(/#\/ns\/test\/deployment\/server\/tap\?client=/, LONG);
  assert.equal(await page.locator('[data-testid=tap-client]').inputValue(), CLIENT_ID);
  await page.waitForSelector('[data-testid=tap-row]', LONG);
  const clients = await page.locator('[data-testid=tap-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-client')));
  assert.ok(clients.length > 0 && clients.every((c) => c === CLIENT_ID), clients.join(','));
  const row = await page.locator('[data-testid=tap-row]').first().innerText();
  assert.match(row, /inbound/);
  assert.match(row, /\/books\//);
  await page.locator('[data-testid=tap-toggle]').click();
});

test('the workload view shows its time series with data and a live tap', async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`${CHROMIUM} is not installed`);
  await page.goto(`${mesh.viz.webUrl}/#/ns/test/deployment/server`);
  await assertChartsHaveData();
  await page.locator('[data-testid=tap-toggle]').click();
  await page.waitForSelector('[data-testid=tap-row]', LONG);
  const row = await page.locator('[data-testid=tap-row]').first().innerText();
  assert.match(row, /inbound/);
  assert.match(row, /\/books\//);
  assert.match(row, /GET/);
  assert.ok(row.includes(CLIENT_ID), row);
  // The view keeps streaming across the page's periodic refreshes.
  const before = await page.locator('[data-testid=tap-row]').count();
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=tap-row]').length > n, before, LONG);
  await page.locator('[data-testid=tap-toggle]').click();
  await assertNoCspViolation();
  await screenshot(t, 'dashboard-workload.png');
  // The window selector changes the charts' range: 1h is drawn in 40 s steps.
  await page.locator('#window').selectOption('1h');
  await waitIn('the 1h window', () => /every 40s/.test(document.querySelector('.chart-note')?.textContent ?? ''));
  await assertChartsHaveData();
  await page.locator('#window').selectOption('1m');
});

test('dark mode follows the system and the toggle overrides it', async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`${CHROMIUM} is not installed`);
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${mesh.viz.webUrl}/#/ns/test`);
  await assertChartsHaveData();
  await waitIn('a coloured edge', () => document.querySelectorAll('[data-testid=edge]:not([data-sr=sr-none])').length === 1);
  assert.equal(await background(), 'rgb(12, 17, 29)', 'dark background when the system prefers dark');
  // The edge keeps its meaning in the dark palette.
  const look = await edgeLook();
  assert.equal(look.stroke, SR_COLOURS.dark[look.sr as keyof typeof SR_COLOURS.dark]);
  await assertNoCspViolation();
  await screenshot(t, 'dashboard-namespace-dark.png');
  await page.goto(`${mesh.viz.webUrl}/#/ns/test/deployment/server`);
  await assertChartsHaveData();
  await screenshot(t, 'dashboard-workload-dark.png');
  // auto → light: light despite the system; → dark; → auto (dark again here). Remembered across loads.
  await page.locator('[data-testid=theme-toggle]').click();
  assert.equal(await background(), 'rgb(248, 249, 251)');
  await page.reload();
  assert.equal(await page.locator('[data-testid=theme-toggle]').innerText(), 'theme: light');
  assert.equal(await background(), 'rgb(248, 249, 251)');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.locator('[data-testid=theme-toggle]').click();
  assert.equal(await background(), 'rgb(12, 17, 29)', 'dark by the toggle on a light system');
  await page.locator('[data-testid=theme-toggle]').click();
  assert.equal(await background(), 'rgb(248, 249, 251)', 'auto on a light system');
});

test('the home view lists namespaces with golden metrics', async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`${CHROMIUM} is not installed`);
  await page.goto(`${mesh.viz.webUrl}/`);
  await page.waitForSelector('[data-testid=namespaces-row][data-name=test]', LONG);
  const row = await page.locator('[data-testid=namespaces-row][data-name=test]').innerText();
  assert.match(row, /2\/2/);
  await assertNoCspViolation();
  await screenshot(t, 'dashboard-home.png');
});

test('the chart library is served by viz itself under the dashboard CSP, and nothing outside vendor/ is', async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`${CHROMIUM} is not installed`);
  const js = await fetch(`${mesh.viz.webUrl}/vendor/uPlot.iife.min.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.match(js.headers.get('content-security-policy') ?? '', /script-src 'self';/);
  assert.doesNotMatch(js.headers.get('content-security-policy') ?? '', /unsafe-/);
  assert.match(await js.text(), /^\/\*! https:\/\/github.com\/leeoniya\/uPlot/);
  for (const path of ['/vendor/package.json', '/vendor/../package.json', '/vendor/uPlot.cjs.js']) {
    const res = await fetch(`${mesh.viz.webUrl}${path}`);
    assert.equal(res.status, 404, path);
    await res.arrayBuffer();
  }
});
