import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DASHBOARD_CSP, staticFiles, WEB_ROOT } from './static.js';

async function serve(
  root: string,
  fn: (get: (path: string) => Promise<{ status: number; body: string; headers: Headers }>) => Promise<void>,
): Promise<void> {
  const handler = staticFiles(root);
  const server = http.createServer((req, res) => void handler(req, res).then((done) => done || res.writeHead(404).end()));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await fn(async (path) => {
      const res = await fetch(base + path);
      return { status: res.status, body: await res.text(), headers: res.headers };
    });
  } finally {
    server.close();
  }
}

test('vendor files come from web/vendor/ when present (the image) and from node_modules otherwise (the repository)', async () => {
  const image = mkdtempSync(join(tmpdir(), 'weft-web-'));
  try {
    mkdirSync(join(image, 'vendor'));
    writeFileSync(join(image, 'vendor', 'uPlot.iife.min.js'), '/* from the image */');
    await serve(image, async (get) => {
      const r = await get('/vendor/uPlot.iife.min.js');
      assert.equal(r.status, 200);
      assert.equal(r.body, '/* from the image */');
      assert.equal(r.headers.get('content-security-policy'), DASHBOARD_CSP);
    });
  } finally {
    rmSync(image, { recursive: true, force: true });
  }
  await serve(WEB_ROOT, async (get) => {
    const r = await get('/vendor/uPlot.iife.min.js');
    assert.equal(r.status, 200);
    assert.equal(r.body, readFileSync(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'));
    assert.equal((await get('/vendor/uPlot.min.css')).headers.get('content-type'), 'text/css; charset=utf-8');
    // Only the listed files: nothing else of the package, nothing outside it.
    for (const path of ['/vendor/uPlot.cjs.js', '/vendor/..%2Fpackage.json', '/vendor/%2e%2e/%2e%2e/package.json', '/../package.json'])
      assert.equal((await get(path)).status, 404, path);
  });
});

test('the dashboard CSP allows no inline script or style, no eval and no framing', () => {
  assert.doesNotMatch(DASHBOARD_CSP, /unsafe-/);
  assert.match(DASHBOARD_CSP, /default-src 'self'/);
  assert.match(DASHBOARD_CSP, /frame-ancestors 'none'/);
});
