#!/usr/bin/env node
// The real-node e2e, separate from `npm run test:e2e` until it has proven
// itself in CI: the same control plane as run.mjs, but the node is a real
// kubelet with containerd, runc and CNI plugins, pulling from an OCI registry
// on loopback; then the scenarios in test/e2e/real-node/*.test.mjs; then a
// teardown that is checked (processes, shims, mounts, cgroups, veths, CNI
// chains, netns, host iptables).
//
//   node test/e2e/real-node.mjs                      build, up, scenarios, down
//   node test/e2e/real-node.mjs --exec -- CMD ARGS…  build, up, run CMD, down
//   node test/e2e/real-node.mjs --build-only         build/cache the binaries
//   node test/e2e/real-node.mjs --weft               also push weft's images (npm run images)
//                                                    and run real-node/weft/*.test.mjs
//
// Shares /tmp/weft-e2e.lock with run.mjs: one environment per machine.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBinaries } from './lib/build.mjs';
import { ensureRealNodeBinaries } from './lib/real-node-build.mjs';
import { RealNodeCluster, realNodeUnavailable, realNodeVersions, sweepRealNode, buildStaticBinaries } from './lib/real-node.mjs';
import { sweepPidFile, tail } from './lib/procs.mjs';
import { runAgainst } from './lib/scenarios.mjs';
import { sweepNetwork, listNamespaces, HOST_VETH } from './lib/node-net.mjs';

const here = new URL('.', import.meta.url).pathname;
const scenarioDir = join(here, 'real-node');
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
const unavailable = realNodeUnavailable();
if (unavailable) {
  // Not a skip that looks green: this entry point exists to run the real node.
  log(`e2e real node: cannot run here: ${unavailable}`);
  process.exit(1);
}

// 1. binaries: the environment's, the kubelet and the registry, pause and the probe image's binary
const buildStart = Date.now();
const cp = await ensureBinaries((l) => process.stdout.write(l));
const rn = await ensureRealNodeBinaries((l) => process.stdout.write(l));
buildStaticBinaries(log);
const bins = { ...cp.paths, ...rn.paths };
const versions = { ...cp.versions, registry: rn.versions.registry };
const rnVersions = realNodeVersions(bins.kubelet, bins.registry);
log(`e2e: versions: Kubernetes ${versions.kubernetes}, etcd ${versions.etcd}, cert-manager ${versions['cert-manager']} (binaries ready in ${elapsed(buildStart)})`);
log(`e2e real node: versions: kubelet ${rnVersions.kubelet}, containerd ${rnVersions.containerd}, runc ${rnVersions.runc}, CNI plugins ${rnVersions.cni}, registry ${rnVersions.registry}`);
if (argv.includes('--build-only')) process.exit(0);

// 2. leftovers of a run that died without its teardown
const swept = sweepPidFile(join(runDir, 'pids'));
const rnSwept = sweepRealNode();
const sweptNs = sweepNetwork();
if (swept || sweptNs.length || rnSwept.processes || rnSwept.mounts || rnSwept.cgroups || rnSwept.sysctls !== 'none saved') {
  log(`e2e: swept a previous run's leftovers: ${swept} process groups, namespaces [${sweptNs.join(', ')}]; real node: ${rnSwept.processes} processes (shims, containers), ${rnSwept.mounts} mounts, cgroup root in ${rnSwept.cgroups} hierarchies, sysctls restored: ${rnSwept.sysctls}`);
}
rmSync(runDir, { recursive: true, force: true });
mkdirSync(runDir, { recursive: true });

// 3. environment
const cluster = new RealNodeCluster({ dir: runDir, bins, rnBins: bins, versions, log });
cluster.rnVersions = rnVersions;
let teardownPromise;
let teardownClean = false;
function teardown() {
  teardownPromise ??= runTeardown();
  return teardownPromise;
}
async function runTeardown() {
  const t = Date.now();
  const pids = cluster.sup.procs.map((p) => p.child.pid).filter(Boolean);
  await cluster.down();
  if (cluster.sup.killed?.length) log(`e2e: needed SIGKILL after 5s: ${cluster.sup.killed.join(', ')}`);
  for (const s of cluster.steps ?? []) log(`e2e real node: teardown: ${s}`);
  const left = [];
  for (const pid of pids) {
    try {
      process.kill(pid, 0);
      left.push(`pid ${pid}`);
    } catch {
      // gone
    }
  }
  left.push(...listNamespaces().map((n) => `netns ${n}`));
  if (spawnSync('ip', ['link', 'show', HOST_VETH], { encoding: 'utf8' }).status === 0) left.push(`link ${HOST_VETH}`);
  left.push(...cluster.leftovers());
  teardownClean = left.length === 0;
  log(`e2e: teardown ${teardownClean ? 'clean' : `INCOMPLETE: ${left.join(', ')}`} in ${elapsed(t)} (logs kept in ${runDir})`);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    log(`e2e: ${sig}: tearing down`);
    await teardown();
    process.exit(130);
  });
}

/** real-node/*.test.mjs, and with --weft also real-node/weft/*.test.mjs. */
function scenarios() {
  const dirs = argv.includes('--weft') ? [scenarioDir, join(scenarioDir, 'weft')] : [scenarioDir];
  return dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => join(d, f)));
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
  log(`e2e: environment with real node up in ${elapsed(upStart)}: WEFT_E2E_KUBECONFIG=${cluster.adminKubeconfig}`);
  if (argv.includes('--weft')) {
    // weft's own images (npm run images), pushed to the loopback registry, for the scenarios in real-node/weft/.
    const pushStart = Date.now();
    const target = `${cluster.registry}/weft`;
    const out = execFileSync(process.execPath, [join(repoRoot, 'images', 'build.mjs'), '--push', target], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
    const summary = JSON.parse(out.trim().split('\n').pop());
    const images = Object.fromEntries(Object.entries(summary.images).map(([k, v]) => [k.split('/').pop(), v]));
    const tag = Object.values(images)[0].ref.split(':').pop();
    cluster.weftImages = { registry: target, tag, images };
    cluster.writeState();
    log(`e2e real node: npm run images -- --push ${target}: ${Object.keys(images).join(', ')} (tag ${tag}) in ${elapsed(pushStart)}`);
  }
  exitCode = await runAgainst(cluster, {
    argv,
    scenarios,
    repoRoot,
    runDir,
    logsOnFailure: ['kubelet.log', 'containerd.log', 'registry.log'].map((file) => ({ file, lines: 15 })),
    log,
  });
} catch {
  exitCode = 1;
} finally {
  await teardown();
}
if (!teardownClean && exitCode === 0) exitCode = 1;
if (existsSync(join(runDir, 'pids'))) log('e2e: pid file left behind');
log(`e2e: done in ${elapsed(started)}, exit ${exitCode}`);
process.exit(exitCode);
