#!/usr/bin/env node
// `npm run test:e2e`: builds (or finds cached) Kubernetes, etcd and
// cert-manager binaries, brings the environment up, runs the scenarios in
// test/e2e/*.test.mjs with WEFT_E2E_KUBECONFIG set, and tears everything down
// again, also after a failure or a signal.
//
//   node test/e2e/run.mjs                       build, up, scenarios, down
//   node test/e2e/run.mjs --exec -- CMD ARGS…   build, up, run CMD with WEFT_E2E_KUBECONFIG, down
//   node test/e2e/run.mjs --build-only          build/cache the binaries and print their versions
//
// One environment per machine at a time: the run holds /tmp/weft-e2e.lock.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBinaries } from './lib/build.mjs';
import { Cluster } from './lib/cluster.mjs';
import { runAgainst } from './lib/scenarios.mjs';
import { sweepPidFile, tail } from './lib/procs.mjs';
import { sweepNetwork, listNamespaces, nodeUnavailable, HOST_VETH } from './lib/node-net.mjs';
import { VOLUME_ROOT } from './agent/pod-sandbox.mjs';

const here = new URL('.', import.meta.url).pathname;
const repoRoot = new URL('../../', import.meta.url).pathname;
const runDir = process.env.WEFT_E2E_RUN_DIR ?? '/tmp/weft-e2e/run';
const lockFile = '/tmp/weft-e2e.lock';
const argv = process.argv.slice(2);
const log = (line) => console.log(line);
const elapsed = (t) => `${Math.round((Date.now() - t) / 1000)}s`;

if (!process.env.WEFT_E2E_LOCKED) {
  const r = spawnSync('flock', [lockFile, process.execPath, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, WEFT_E2E_LOCKED: '1' } });
  process.exit(r.status ?? 1);
}

const started = Date.now();

// 1. binaries (cold: go build, minutes; warm: cache hit)
const buildStart = Date.now();
const { paths: bins, versions } = await ensureBinaries((l) => process.stdout.write(l));
const helm = join(repoRoot, '.bin', 'helm');
const helmVersion = existsSync(helm) ? spawnSync(helm, ['version', '--short'], { encoding: 'utf8' }).stdout.trim() : 'missing';
log(`e2e: versions: Kubernetes ${versions.kubernetes}, etcd ${versions.etcd}, cert-manager ${versions['cert-manager']}, helm ${helmVersion} (binaries ready in ${elapsed(buildStart)})`);
if (argv.includes('--build-only')) process.exit(0);

// 2. leftovers of a run that died without its teardown
const swept = sweepPidFile(join(runDir, 'pids'));
const sweptNs = nodeUnavailable() ? [] : sweepNetwork();
rmSync(VOLUME_ROOT, { recursive: true, force: true });
if (swept || sweptNs.length) log(`e2e: swept a previous run's leftovers: ${swept} process groups, namespaces [${sweptNs.join(', ')}]`);
rmSync(runDir, { recursive: true, force: true });
mkdirSync(runDir, { recursive: true });

// 3. environment
const cluster = new Cluster({ dir: runDir, bins, versions, log });
let teardownPromise;
/** One teardown, however many callers (the signal handler and the main flow both await it). */
function teardown() {
  teardownPromise ??= runTeardown();
  return teardownPromise;
}
async function runTeardown() {
  const t = Date.now();
  const pids = cluster.sup.procs.map((p) => p.child.pid).filter(Boolean);
  await cluster.down();
  if (cluster.sup.killed?.length) log(`e2e: needed SIGKILL after 5s: ${cluster.sup.killed.join(', ')}`);
  // Verify, do not assume: a leak here would be inherited by the next run and by whoever shares the machine.
  const left = [];
  for (const pid of pids) {
    try {
      process.kill(pid, 0);
      left.push(`pid ${pid}`);
    } catch {
      // gone
    }
  }
  if (!nodeUnavailable()) {
    left.push(...listNamespaces().map((n) => `netns ${n}`));
    if (spawnSync('ip', ['link', 'show', HOST_VETH], { encoding: 'utf8' }).status === 0) left.push(`link ${HOST_VETH}`);
    if (existsSync(VOLUME_ROOT)) left.push(VOLUME_ROOT);
  }
  teardownClean = left.length === 0;
  log(`e2e: teardown ${teardownClean ? 'clean' : `INCOMPLETE: ${left.join(', ')}`} in ${elapsed(t)} (logs kept in ${runDir})`);
}
let teardownClean = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    log(`e2e: ${sig}: tearing down`);
    await teardown();
    process.exit(130);
  });
}

let exitCode = 1;
try {
  const upStart = Date.now();
  try {
    await cluster.up();
  } catch (err) {
    log(`e2e: environment failed to come up: ${err.message}`);
    for (const f of readdirSync(runDir).filter((n) => n.endsWith('.log'))) log(`--- ${f}\n${tail(join(runDir, f), 15)}`);
    throw err;
  }
  log(`e2e: environment up in ${elapsed(upStart)}: WEFT_E2E_KUBECONFIG=${cluster.adminKubeconfig}`);
  exitCode = await runAgainst(cluster, {
    argv,
    scenarios: () => readdirSync(here).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => join(here, f)),
    repoRoot,
    runDir,
    logsOnFailure: ['kube-apiserver.log', 'node-agent.log', 'cert-manager-controller.log'].map((file) => ({ file, lines: 10 })),
    log,
  });
} catch {
  exitCode = 1;
} finally {
  await teardown();
}
if (!teardownClean && exitCode === 0) exitCode = 1;
log(`e2e: done in ${elapsed(started)}, exit ${exitCode}`);
process.exit(exitCode);
