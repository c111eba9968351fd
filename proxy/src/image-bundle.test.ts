// The proxy as its image runs it — main.js bundled by images/lib/bundle.mjs —
// certifies through a real identity service (gRPC, Connect) without loading
// Node's fetch implementation: the bundle's `Headers` is weft's
// (common/src/web-headers.ts), and Node's global, whose first read loads all
// of Node's fetch code and compiles its WebAssembly, is never read. The same
// main.js unbundled reads Node's global, and the check sees it. Once ready, the
// bundled proxy gives back its executable's start-up pages
// (native/startup-pages.ts) and serves on; quiet again after work, it gives
// back what the work grew (idle-memory.ts).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateLocalCa } from '@weft/identity/local-ca';
import { startTestIdentity } from '@weft/identity/testing/serve';
import { unusedPort } from '@weft/common/testing/ports';
import { podEnv } from './testing/pod-env.js';
import { releasableResidentKb } from './testing/smaps.js';

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

interface PodProxy {
  readonly child: ChildProcess;
  readonly admin: number;
  output(): string;
}

/** Starts `main` as a pod would against a real identity service and waits for /ready (a certificate held). */
async function startAsPod(main: string, logLevel = 'warn', more: Record<string, string> = {}): Promise<PodProxy> {
  const ca = await generateLocalCa();
  const { service, validator } = await startTestIdentity({ issuer: ca.issuer, anchorPem: ca.anchorPem });
  after(() => service.close());
  const tokenFile = join(dir, `token-${Math.random().toString(36).slice(2)}`);
  writeFileSync(tokenFile, validator.issue('demo', 'web'));
  const [admin, outbound, inbound, tap, closed] = [await unusedPort(), await unusedPort(), await unusedPort(), await unusedPort(), await unusedPort()];
  const env = {
    ...podEnv({
      ports: { admin, outbound, inbound, tap },
      identity: { port: service.port, serverName: service.serverName, anchorPem: ca.anchorPem, tokenFile, localName: IDENTITY },
      controlPlanePort: closed,
      namespace: 'demo',
      pod: 'web-0',
    }),
    WEFT_PROXY_LOG_LEVEL: logLevel,
    ...more,
  };
  const child = spawn(process.execPath, ['--import', PROBE, main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  for (;;) {
    assert.equal(child.exitCode, null, `the proxy exited:\n${out}`);
    const rsp = await fetch(`http://127.0.0.1:${admin}/ready`).catch(() => undefined);
    if (rsp?.status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, admin, output: () => out };
}

/** Once `proxy` has written `pattern`, or exited (a failure). */
async function untilOutput(proxy: PodProxy, pattern: RegExp): Promise<void> {
  while (!pattern.test(proxy.output())) {
    assert.equal(proxy.child.exitCode, null, `the proxy exited:\n${proxy.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether Node's fetch implementation is loaded once the proxy is ready. */
async function fetchLoadedOnceReady(main: string): Promise<boolean> {
  const proxy = await startAsPod(main);
  proxy.child.kill('SIGUSR2');
  await untilOutput(proxy, /FETCH_LOADED=(true|false)/);
  proxy.child.kill('SIGTERM');
  return /FETCH_LOADED=true/.test(proxy.output());
}

test("bundled as in the image, the proxy certifies over gRPC without loading Node's fetch implementation", { timeout: 120_000 }, async () => {
  assert.equal(await fetchLoadedOnceReady(await bundledMain()), false);
});

test("unbundled, the same proxy reads Node's Headers global and so loads Node's fetch implementation (the check above can see it)", { timeout: 120_000 }, async () => {
  assert.equal(await fetchLoadedOnceReady(MAIN), true);
});

test('once ready, the proxy as the image runs it gives back its executable\'s start-up pages and serves on', { timeout: 120_000 }, async (t) => {
  if (process.platform !== 'linux') return t.skip('Linux only');
  const proxy = await startAsPod(await bundledMain(), 'info'); // the release is logged at info
  const atReady = releasableResidentKb(proxy.child.pid!);
  await untilOutput(proxy, /start-up pages of the executable released/);
  const released = releasableResidentKb(proxy.child.pid!);
  assert.ok(released < atReady / 2, `the executable's read-only pages resident: ${atReady} kB when ready, ${released} kB after the release`);
  // Its admin port answers on code paged back in, and the log says how much was released.
  assert.equal((await fetch(`http://127.0.0.1:${proxy.admin}/ready`)).status, 200);
  assert.match(await (await fetch(`http://127.0.0.1:${proxy.admin}/metrics`)).text(), /process_resident_memory_bytes/);
  const line = proxy.output().split('\n').find((l) => l.includes('start-up pages of the executable released'))!;
  assert.ok((JSON.parse(line) as { residentMiB: number }).residentMiB > 0, line);
  proxy.child.kill('SIGTERM');
});

test('bundled as in the image, WEFT_PROXY_WORKERS=2 runs a worker thread from the same file, ready only once it listens', { timeout: 120_000 }, async () => {
  const proxy = await startAsPod(await bundledMain(), 'info', { WEFT_PROXY_WORKERS: '2' });
  const listening = proxy
    .output()
    .split('\n')
    .filter((l) => l.includes('"proxy listening"'))
    .map((l) => JSON.parse(l) as { worker?: number; threads: number; outbound: number });
  // /ready was 200: the main thread's line (threads: 2) and the worker's (worker: 1), on the same outbound port.
  assert.equal(listening.length, 2, proxy.output());
  assert.deepEqual(listening.map((l) => l.worker ?? 0).sort(), [0, 1]);
  assert.equal(listening.find((l) => l.worker === undefined)!.threads, 2);
  assert.equal(new Set(listening.map((l) => l.outbound)).size, 1);
  proxy.child.kill('SIGTERM');
  await once(proxy.child, 'exit');
  assert.equal(proxy.child.exitCode, 0, proxy.output());
});

/** The CPU time `pid` used so far, ms (/proc/<pid>/stat: user and system clock ticks, 100 a second). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

test('quiet again after work, the proxy as the image runs it gives back the memory the work grew', { timeout: 120_000 }, async (t) => {
  if (process.platform !== 'linux') return t.skip('Linux only');
  const proxy = await startAsPod(await bundledMain(), 'debug'); // what it gave back is logged at debug
  await untilOutput(proxy, /start-up pages of the executable released/);
  // Work: scrapes of its metrics until the proxy used over a second of CPU (WORK_CPU_MS) since it started.
  const pid = proxy.child.pid!;
  while (cpuMs(pid) < 1_500) {
    await Promise.all(Array.from({ length: 8 }, async () => (await fetch(`http://127.0.0.1:${proxy.admin}/metrics`)).text()));
  }
  // Then nothing: within two check periods (IDLE_CHECK_MS), one whole period was quiet.
  await untilOutput(proxy, /quiet after work: memory given back/);
  const line = proxy.output().split('\n').find((l) => l.includes('quiet after work: memory given back'))!;
  const given = JSON.parse(line) as { workCpuMs: number; newSpaceMiB: [number, number]; releasedMiB: number };
  assert.ok(given.workCpuMs >= 1_000, line);
  assert.ok(given.newSpaceMiB[1] < given.newSpaceMiB[0], `the young generation shrank: ${line}`);
  assert.ok(given.releasedMiB > 0, `the executable's pages the work ran were unmapped again: ${line}`);
  // It serves on.
  assert.equal((await fetch(`http://127.0.0.1:${proxy.admin}/ready`)).status, 200);
  proxy.child.kill('SIGTERM');
});
