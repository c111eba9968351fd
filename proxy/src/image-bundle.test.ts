// The proxy as its image runs it — main.js bundled by images/lib/bundle.mjs —
// certifies through a real identity service (gRPC, Connect) without loading
// Node's fetch implementation: the bundle's `Headers` is weft's
// (common/src/web-headers.ts), and Node's global, whose first read loads all
// of Node's fetch code and compiles its WebAssembly, is never read. The same
// main.js unbundled reads Node's global, and the check sees it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateLocalCa } from '@weft/identity/local-ca';
import { startTestIdentity } from '@weft/identity/testing/serve';
import { freePort } from '@weft/common/testing/jaeger';
import { podEnv } from './testing/pod-env.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(repo, 'proxy/dist/main.js');
const IDENTITY = 'web.demo.serviceaccount.identity.weft.cluster.local';
// Printed once the proxy is ready (SIGUSR2): whether Node's bundled fetch implementation was loaded.
const PROBE = `data:text/javascript,process.on('SIGUSR2', () => process.stdout.write('FETCH_LOADED=' + process.moduleLoadList.includes('NativeModule internal/deps/undici/undici') + '\\n'));`;

const dir = mkdtempSync(join(tmpdir(), 'weft-image-bundle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The image's layout: the bundle at app/proxy/dist/main.js, the addon at app/native/build/Release/ (images/catalogue.mjs). */
async function bundledMain(): Promise<string> {
  const { bundle } = (await import(join(repo, 'images/lib/bundle.mjs'))) as { bundle: (entry: string) => Promise<{ code: Buffer }> };
  mkdirSync(join(dir, 'app/proxy/dist'), { recursive: true });
  mkdirSync(join(dir, 'app/native/build/Release'), { recursive: true });
  writeFileSync(join(dir, 'app/package.json'), '{"type":"module"}\n');
  const addon = 'native/build/Release/weft_original_dst.node';
  copyFileSync(join(repo, 'proxy', addon), join(dir, 'app', addon));
  const main = join(dir, 'app/proxy/dist/main.js');
  writeFileSync(main, (await bundle(MAIN)).code);
  return main;
}

/** Starts `main` as a pod would against a real identity service, waits for /ready (a certificate held), and asks the probe. */
async function fetchLoadedOnceReady(main: string): Promise<boolean> {
  const ca = await generateLocalCa();
  const { service, validator } = await startTestIdentity({ issuer: ca.issuer, anchorPem: ca.anchorPem });
  after(() => service.close());
  const tokenFile = join(dir, `token-${Math.random().toString(36).slice(2)}`);
  writeFileSync(tokenFile, validator.issue('demo', 'web'));
  const [admin, outbound, inbound, tap, closed] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const env = podEnv({
    ports: { admin, outbound, inbound, tap },
    identity: { port: service.port, serverName: service.serverName, anchorPem: ca.anchorPem, tokenFile, localName: IDENTITY },
    controlPlanePort: closed,
    namespace: 'demo',
    pod: 'web-0',
  });
  const child = spawn(process.execPath, ['--import', PROBE, main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  for (;;) {
    assert.equal(child.exitCode, null, `the proxy exited:\n${out}`);
    const rsp = await fetch(`http://127.0.0.1:${admin}/ready`).catch(() => undefined);
    if (rsp?.status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGUSR2');
  while (!/FETCH_LOADED=(true|false)/.test(out)) {
    assert.equal(child.exitCode, null, `the proxy exited:\n${out}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGTERM');
  return /FETCH_LOADED=true/.test(out);
}

test("bundled as in the image, the proxy certifies over gRPC without loading Node's fetch implementation", { timeout: 120_000 }, async () => {
  assert.equal(await fetchLoadedOnceReady(await bundledMain()), false);
});

test("unbundled, the same proxy reads Node's Headers global and so loads Node's fetch implementation (the check above can see it)", { timeout: 120_000 }, async () => {
  assert.equal(await fetchLoadedOnceReady(MAIN), true);
});
