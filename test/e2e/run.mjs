#!/usr/bin/env node
// `npm run test:e2e`: weft on a real node. Builds (or finds cached) the
// Kubernetes control plane, etcd, cert-manager, the kubelet and the OCI
// registry; brings up the control plane and a real node (kubelet, containerd,
// runc, CNI plugins, the loopback registry, cluster DNS, kube-proxy); pushes
// weft's images (`npm run images -- --push`) and packages its charts
// (`helm package`); builds the previous release's images and charts from its
// own commit (test/e2e/previous-release.json, lib/previous-release.mjs; cached
// by commit) and pushes them next to this release's for the upgrade scenario;
// runs every scenario against it with WEFT_E2E_KUBECONFIG
// set; and tears everything down, also after a failure or a signal, then
// checks nothing is left (processes, shims, mounts, cgroups, veths, chains,
// netns, sysctls).
//
//   node test/e2e/run.mjs                       build, up, scenarios, down
//   node test/e2e/run.mjs --exec -- CMD ARGS…   build, up, run CMD with WEFT_E2E_KUBECONFIG, down
//   node test/e2e/run.mjs --control-plane-only --exec -- CMD …
//                                               only the API server, controllers and cert-manager
//                                               (no node, no images): for tests that need an API server
//   node test/e2e/run.mjs --build-only          build/cache the binaries and print their versions
//
// Scenarios: test/e2e/s*.test.mjs, test/e2e/real-node/*.test.mjs and
// test/e2e/real-node/weft/*.test.mjs (picked by pattern; node --test runs
// them one at a time, in the order of their paths).
// One environment per machine at a time: the run holds /tmp/weft-e2e.lock.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ensureBinaries } from './lib/build.mjs';
import { Cluster } from './lib/cluster.mjs';
import { sweepNetwork, listNamespaces, nodeUnavailable, HOST_VETH } from './lib/node-net.mjs';
import { sweepPidFile, tail } from './lib/procs.mjs';
import { ensureRealNodeBinaries } from './lib/real-node-build.mjs';
import { RealNodeCluster, realNodeUnavailable, realNodeVersions, sweepRealNode, buildStaticBinaries } from './lib/real-node.mjs';
import { runAgainst } from './lib/scenarios.mjs';
import { ensurePreviousRelease, publishPreviousRelease, previousReleaseUnavailable } from './lib/previous-release.mjs';

const here = new URL('.', import.meta.url).pathname;
const repoRoot = new URL('../../', import.meta.url).pathname;
const runDir = process.env.WEFT_E2E_RUN_DIR ?? '/tmp/weft-e2e/run';
const lockFile = '/tmp/weft-e2e.lock';
const argv = process.argv.slice(2);
const controlPlaneOnly = argv.includes('--control-plane-only');
const log = (line) => console.log(line);
const elapsed = (t) => `${Math.round((Date.now() - t) / 1000)}s`;

if (!process.env.WEFT_E2E_LOCKED) {
  const r = spawnSync('flock', [lockFile, process.execPath, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, WEFT_E2E_LOCKED: '1' } });
  process.exit(r.status ?? 1);
}

const started = Date.now();
if (!controlPlaneOnly) {
  const unavailable = realNodeUnavailable();
  if (unavailable) {
    // Not a skip that looks green: the scenarios need the real node.
    log(`e2e: cannot run the real node here: ${unavailable}`);
    process.exit(1);
  }
}

// 1. binaries (cold: go build, minutes; warm: cache hits)
const buildStart = Date.now();
const cp = await ensureBinaries((l) => process.stdout.write(l));
const rn = controlPlaneOnly ? { paths: {}, versions: {} } : await ensureRealNodeBinaries((l) => process.stdout.write(l));
if (!controlPlaneOnly) buildStaticBinaries(log);
const bins = { ...cp.paths, ...rn.paths };
const versions = { ...cp.versions, ...(rn.versions.registry ? { registry: rn.versions.registry } : {}) };
const helm = join(repoRoot, '.bin', 'helm');
const helmVersion = existsSync(helm) ? spawnSync(helm, ['version', '--short'], { encoding: 'utf8' }).stdout.trim() : 'missing';
log(`e2e: versions: Kubernetes ${versions.kubernetes}, etcd ${versions.etcd}, cert-manager ${versions['cert-manager']}, helm ${helmVersion} (binaries ready in ${elapsed(buildStart)})`);
const rnVersions = controlPlaneOnly ? undefined : realNodeVersions(bins.kubelet, bins.registry);
if (rnVersions) log(`e2e real node: versions: kubelet ${rnVersions.kubelet}, containerd ${rnVersions.containerd}, runc ${rnVersions.runc}, CNI plugins ${rnVersions.cni}, registry ${rnVersions.registry}`);
// The previous release's charts and images, built from its own commit (cold: npm ci, tsc, images; warm: cache hit).
// Missing history is reported, not fatal here: the upgrade scenario fails on it with this reason.
let previousBuild;
if (!controlPlaneOnly) {
  const why = previousReleaseUnavailable();
  if (why) log(`e2e: previous release not available: ${why}`);
  else {
    const t = Date.now();
    previousBuild = ensurePreviousRelease((l) => process.stdout.write(l));
    log(`e2e: previous release weft ${previousBuild.release.version} (${previousBuild.release.commit.slice(0, 7)}, charts ${previousBuild.release.chartVersion}) ready in ${elapsed(t)}`);
  }
}
if (argv.includes('--build-only')) process.exit(0);

// 2. leftovers of a run that died without its teardown
const swept = sweepPidFile(join(runDir, 'pids'));
if (nodeUnavailable() === undefined) {
  const rnSwept = sweepRealNode();
  const sweptNs = sweepNetwork();
  if (swept || sweptNs.length || rnSwept.processes || rnSwept.mounts || rnSwept.cgroups || rnSwept.sysctls !== 'none saved') {
    log(`e2e: swept a previous run's leftovers: ${swept} process groups, namespaces [${sweptNs.join(', ')}]; real node: ${rnSwept.processes} processes (shims, containers), ${rnSwept.mounts} mounts, cgroup root in ${rnSwept.cgroups} hierarchies, sysctls restored: ${rnSwept.sysctls}`);
  }
} else if (swept) log(`e2e: swept a previous run's leftovers: ${swept} process groups`);
rmSync(runDir, { recursive: true, force: true });
mkdirSync(runDir, { recursive: true });

// 3. environment
const cluster = controlPlaneOnly ? new Cluster({ dir: runDir, bins, versions, log }) : new RealNodeCluster({ dir: runDir, bins, rnBins: bins, versions, log });
cluster.rnVersions = rnVersions;
let teardownPromise;
let teardownClean = false;
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
  for (const s of cluster.steps ?? []) log(`e2e real node: teardown: ${s}`);
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
  if (nodeUnavailable() === undefined) {
    left.push(...listNamespaces().map((n) => `netns ${n}`));
    if (spawnSync('ip', ['link', 'show', HOST_VETH], { encoding: 'utf8' }).status === 0) left.push(`link ${HOST_VETH}`);
  }
  left.push(...(cluster.leftovers?.() ?? []));
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

/** weft's images pushed to the node's registry (`npm run images -- --push`), its charts packaged (`helm package`). */
function publishWeft() {
  const pushStart = Date.now();
  const target = `${cluster.registry}/weft`;
  const out = execFileSync(process.execPath, [join(repoRoot, 'images', 'build.mjs'), '--push', target], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  const summary = JSON.parse(out.trim().split('\n').pop());
  const images = Object.fromEntries(Object.entries(summary.images).map(([k, v]) => [k.split('/').pop(), v]));
  const tag = images.proxy.ref.split(':').pop();
  cluster.weftImages = { registry: target, tag, images };
  log(`e2e: npm run images -- --push ${target}: ${Object.keys(images).join(', ')} (tag ${tag}) in ${elapsed(pushStart)}`);
  const chartDir = join(runDir, 'charts');
  mkdirSync(chartDir, { recursive: true });
  const charts = {};
  for (const [key, name] of [['crds', 'weft-crds'], ['controlPlane', 'weft-control-plane'], ['viz', 'weft-viz']]) {
    const r = execFileSync(helm, ['package', join(repoRoot, 'charts', name), '--destination', chartDir], { encoding: 'utf8' });
    const tgz = r.match(/saved it to: (\S+\.tgz)/)?.[1];
    if (!tgz || !existsSync(tgz)) throw new Error(`helm package ${name}: no .tgz in its output: ${r}`);
    charts[key] = tgz;
  }
  cluster.charts = charts;
  cluster.writeState();
  log(`e2e: helm package: ${Object.values(charts).map((c) => basename(c)).join(', ')}`);
}

/** The previous release's images pushed next to this one's (same repositories, its own tag); its packaged charts from the cache. */
async function publishPrevious() {
  if (!previousBuild) return;
  const t = Date.now();
  const target = `${cluster.registry}/weft`;
  cluster.previousRelease = await publishPreviousRelease(previousBuild, target, (l) => process.stdout.write(l));
  cluster.writeState();
  log(`e2e: previous release ${cluster.previousRelease.version}: images pushed to ${target} (tag ${cluster.previousRelease.tag}) in ${elapsed(t)}; charts ${Object.values(cluster.previousRelease.charts).map((c) => basename(c)).join(', ')}`);
}

/** Every scenario file (s<N>…test.mjs) of the three scenario directories. */
function scenarios() {
  const dirs = [here, join(here, 'real-node'), join(here, 'real-node', 'weft')];
  return dirs.flatMap((d) => readdirSync(d).filter((f) => /^s\d.*\.test\.mjs$/.test(f)).sort().map((f) => join(d, f)));
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
  log(`e2e: environment ${controlPlaneOnly ? '(control plane only, no node)' : 'with the real node'} up in ${elapsed(upStart)}: WEFT_E2E_KUBECONFIG=${cluster.adminKubeconfig}`);
  if (!controlPlaneOnly) {
    publishWeft();
    await publishPrevious();
  }
  exitCode = await runAgainst(cluster, {
    argv,
    scenarios,
    repoRoot,
    runDir,
    logsOnFailure: (controlPlaneOnly ? ['kube-apiserver.log', 'cert-manager-controller.log'] : ['kubelet.log', 'containerd.log', 'cert-manager-controller.log']).map((file) => ({ file, lines: 15 })),
    log,
  });
} catch (err) {
  log(`e2e: ${err.message}`);
  exitCode = 1;
} finally {
  await teardown();
}
if (!teardownClean && exitCode === 0) exitCode = 1;
if (existsSync(join(runDir, 'pids'))) log('e2e: pid file left behind');
log(`e2e: done in ${elapsed(started)}, exit ${exitCode}`);
process.exit(exitCode);
