#!/usr/bin/env node
// The proxy as a pod starts it, for its start-up time and idle memory:
//   node bench/proxy/startup.mjs
// The image's bundle of proxy/dist/main.js (images/lib/bundle.mjs, with the SO_ORIGINAL_DST addon where the image
// puts it) runs with the injector's command (proxyCommand: PROXY_NODE_FLAGS and the old-generation cap of the
// chart's default 256Mi limit) and a pod's environment, certifying against a real identity service (identity's test
// server: a local CA and a fake TokenReview). Destination and policy point at a closed port — there is no control
// plane here — so the proxy keeps retrying them, as in a pod whose control plane is not up yet.
// Each of WEFT_BENCH_ROUNDS (3) starts is pinned to the proxies' CPU (lib.mjs PROXY_CPU). Reported: time to /ready (the first certificate held) and
// the CPU time the proxy used until then (steadier on a shared machine than the wall clock), then 3 s later VmRSS and
// process.memoryUsage() (rss_idle_mib), and VmRSS 3 s after it gave back its executable's start-up pages
// (rss_released_mib: RELEASE_AFTER_READY_MS after /ready, docs/proxy.md); the bundle's size and how many modules went into it. Medians over the starts.
// One more start with `--trace-opt` added lists the functions V8's optimizing compiler (TurboFan) compiled from start
// to the idle reading (`optimized_at_start`): with the pod's flags, none (docs/proxy.md, eleventh pass) — one is
// enough to page the compiler's code in, ~4 MiB of idle RSS.
// WEFT_BENCH_UNBUNDLED=1 runs proxy/dist/main.js as compiled; WEFT_BENCH_NODE_FLAGS (space-separated) replaces the
// flags. Last line: JSON.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateLocalCa } from '@weft/identity/local-ca';
import { startTestIdentity } from '@weft/identity/testing/serve';
import { podEnv } from '@weft/proxy/testing/pod-env';
import { RELEASE_AFTER_READY_MS } from '@weft/proxy/native/startup-pages';
import { bundle } from '../../images/lib/bundle.mjs';
import { MEMORY_PROBE, POD_NODE, POD_NODE_FLAGS, children, cpuMicros, freePort, median, memoryOf, onCpu, PROXY_CPU, round, rssMiB } from './lib.mjs';

const repo = new URL('../..', import.meta.url).pathname;
const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 3);
const IDENTITY = 'web.demo.serviceaccount.identity.weft.cluster.local';
const log = (msg) => process.stderr.write(`startup: ${msg}\n`);

const dir = mkdtempSync(join(tmpdir(), 'weft-startup-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
process.on('SIGINT', () => process.exit(130));

// The image's layout: the bundle at app/proxy/dist/main.js, the addon at app/native/build/Release/ (images/catalogue.mjs).
let main = join(repo, 'proxy/dist/main.js');
let bundleInfo;
if (process.env.WEFT_BENCH_UNBUNDLED !== '1') {
  const b = await bundle(main);
  mkdirSync(join(dir, 'app/proxy/dist'), { recursive: true });
  mkdirSync(join(dir, 'app/native/build/Release'), { recursive: true });
  writeFileSync(join(dir, 'app/package.json'), '{"type":"module"}\n');
  main = join(dir, 'app/proxy/dist/main.js');
  writeFileSync(main, b.code);
  copyFileSync(join(repo, 'proxy/native/build/Release/weft_original_dst.node'), join(dir, 'app/native/build/Release/weft_original_dst.node'));
  bundleInfo = { bytes: b.code.length, modules: b.inputs.length };
}
const flags = process.env.WEFT_BENCH_NODE_FLAGS === undefined ? POD_NODE_FLAGS : process.env.WEFT_BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean);

const ca = await generateLocalCa();
const { service, validator } = await startTestIdentity({ issuer: ca.issuer, anchorPem: ca.anchorPem });
const tokenFile = join(dir, 'token');
writeFileSync(tokenFile, validator.issue('demo', 'web'));
const closed = await freePort();

async function startOnce(i, extraFlags = []) {
  const [admin, outbound, inbound, tap] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env = podEnv({
    ports: { admin, outbound, inbound, tap },
    identity: { port: service.port, serverName: service.serverName, anchorPem: ca.anchorPem, tokenFile, localName: IDENTITY },
    controlPlanePort: closed,
    namespace: 'demo',
    pod: `web-${i}`,
  });
  const started = process.hrtime.bigint();
  const argv = onCpu(PROXY_CPU, [POD_NODE, ...flags, ...extraFlags, '--import', MEMORY_PROBE, main]);
  const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  let readyMs;
  let readyCpuMs;
  for (let t = 0; readyMs === undefined; t++) {
    if (child.exitCode !== null) throw new Error(`the proxy exited ${child.exitCode}:\n${out}`);
    if (t > 1500) throw new Error(`the proxy was not ready after 30 s:\n${out}`);
    const res = await globalThis.fetch(`http://127.0.0.1:${admin}/ready`).catch(() => undefined);
    if (res?.status === 200) {
      readyMs = Number(process.hrtime.bigint() - started) / 1e6;
      readyCpuMs = cpuMicros(child.pid) / 1000;
    }
    else await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 3000));
  const result = { ready_ms: round(readyMs, 0), cpu_ms_to_ready: round(readyCpuMs, 0), rss_mib: round(rssMiB(child.pid), 1), memory: await memoryOf(child) };
  const printed = out; // up to the idle reading
  // 3 s after the proxy gave back its executable's start-up pages (RELEASE_AFTER_READY_MS after /ready).
  await new Promise((r) => setTimeout(r, RELEASE_AFTER_READY_MS));
  result.rss_released_mib = round(rssMiB(child.pid), 1);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  log(`start ${i + 1}: ${JSON.stringify(result)}`);
  return { result, printed };
}

/** The functions TurboFan compiled in one start, from its `--trace-opt` lines (an OSR compile is marked so). */
function optimizedIn(out) {
  const names = [];
  for (const m of out.matchAll(/^\[completed optimizing 0x[0-9a-f]+ <JSFunction ([^ >]*)[^\]]*\(target TURBOFAN\)( OSR)?/gm)) names.push(m[1] + (m[2] ? ' (OSR)' : ''));
  return names;
}

const runs = [];
for (let i = 0; i < ROUNDS; i++) runs.push((await startOnce(i)).result);
const traced = await startOnce(ROUNDS, ['--trace-opt']);
await service.close();
console.log(
  JSON.stringify({
    flags,
    bundled: bundleInfo !== undefined,
    ...(bundleInfo ? { bundle_bytes: bundleInfo.bytes, bundle_modules: bundleInfo.modules } : {}),
    ready_ms: median(runs.map((r) => r.ready_ms)),
    cpu_ms_to_ready: median(runs.map((r) => r.cpu_ms_to_ready)),
    rss_idle_mib: median(runs.map((r) => r.rss_mib)),
    rss_released_mib: median(runs.map((r) => r.rss_released_mib)),
    optimized_at_start: optimizedIn(traced.printed),
    runs,
  }),
);
process.exit(0);
