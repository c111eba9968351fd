// The previous release (N-1) of weft, built from its own commit: the release
// recorded in test/e2e/previous-release.json. Its charts and its images come
// from that commit's tree, never from this one, so the upgrade scenario (s21)
// installs exactly what a user of N-1 has. Built once per commit and cached
// under <WEFT_E2E_CACHE>/previous-release/<commit>/ (like lib/build.mjs caches
// the Go builds by version):
//   oci/          the OCI image layout N-1's `node images/build.mjs --out` wrote
//   charts/*.tgz  `helm package` of N-1's charts/weft-{crds,control-plane,viz}
//   build.json    { release, images (N-1's build summary), charts, seconds }
// A cold build checks the commit out into a temporary worktree, runs `npm ci`
// there (its own package-lock, its own node_modules: the repository's are not
// touched), `tsc -b`, the image build and `helm package`, then removes the
// worktree. `node test/e2e/lib/previous-release.mjs` builds (or finds) it and
// prints build.json.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushImages } from '../../../images/build.mjs';
import { cacheRoot } from './build.mjs';

const repoRoot = new URL('../../../', import.meta.url).pathname;
const helm = join(repoRoot, '.bin', 'helm');
export const CHARTS = [['crds', 'weft-crds'], ['controlPlane', 'weft-control-plane'], ['viz', 'weft-viz']];

/** test/e2e/previous-release.json, checked: { version, chartVersion, commit }. */
export function previousRelease() {
  const file = join(repoRoot, 'test/e2e/previous-release.json');
  const r = JSON.parse(readFileSync(file, 'utf8'));
  if (!/^\d+\.\d+\.\d+$/.test(r.version ?? '')) throw new Error(`${file}: version must be x.y.z, got ${JSON.stringify(r.version)}`);
  if (!/^\d+\.\d+\.\d+$/.test(r.chartVersion ?? '')) throw new Error(`${file}: chartVersion must be x.y.z, got ${JSON.stringify(r.chartVersion)}`);
  if (!/^[0-9a-f]{40}$/.test(r.commit ?? '')) throw new Error(`${file}: commit must be a full 40-hex sha, got ${JSON.stringify(r.commit)}`);
  return r;
}

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });

/** Why N-1 cannot be built here (undefined when it can). */
export function previousReleaseUnavailable(release = previousRelease()) {
  try {
    if (run('git', ['-C', repoRoot, 'cat-file', '-t', release.commit], { stdio: ['ignore', 'pipe', 'pipe'] }).trim() !== 'commit') return `${release.commit} is not a commit`;
  } catch {
    return `commit ${release.commit} (weft ${release.version}) is not in this clone's history (a shallow clone? fetch it with \`git fetch --unshallow\`)`;
  }
  if (!existsSync(helm)) return `helm is missing at ${helm} (npm run tools)`;
  return undefined;
}

/** Checks the release's own version fields against what its commit says, so a wrong record fails loudly. */
function checkRecord(release, tree) {
  const version = JSON.parse(readFileSync(join(tree, 'package.json'), 'utf8')).version;
  if (version !== release.version) throw new Error(`previous release: commit ${release.commit} has version ${version}, previous-release.json says ${release.version}`);
  for (const [, name] of CHARTS) {
    const chart = readFileSync(join(tree, 'charts', name, 'Chart.yaml'), 'utf8');
    const v = chart.match(/^version:\s*"?([^"\s]+)"?/m)?.[1];
    if (v !== release.chartVersion) throw new Error(`previous release: ${name} at ${release.commit} is chart version ${v}, previous-release.json says ${release.chartVersion}`);
  }
}

/**
 * Returns N-1's cached build (build.json plus its directory), building it when
 * missing. `log` receives progress lines.
 */
export function ensurePreviousRelease(log = (l) => process.stderr.write(l), release = previousRelease()) {
  const dir = join(cacheRoot, 'previous-release', release.commit);
  const manifest = join(dir, 'build.json');
  if (existsSync(manifest)) return { dir, ...JSON.parse(readFileSync(manifest, 'utf8')) };
  const why = previousReleaseUnavailable(release);
  if (why) throw new Error(`previous release: cannot build weft ${release.version}: ${why}`);

  const started = Date.now();
  const seconds = {};
  const step = (name, fn) => {
    const t = Date.now();
    log(`previous release: ${name} ...\n`);
    const r = fn();
    seconds[name] = Math.round((Date.now() - t) / 1000);
    return r;
  };
  mkdirSync(join(cacheRoot, 'previous-release'), { recursive: true });
  const staging = `${dir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, 'charts'), { recursive: true });
  const tree = join(mkdtempSync(join(tmpdir(), 'weft-previous-release-')), 'weft');
  const quiet = { stdio: ['ignore', 'pipe', 'pipe'] };
  const loud = { stdio: ['ignore', 'inherit', 'inherit'] };
  try {
    step('git worktree add', () => run('git', ['-C', repoRoot, 'worktree', 'add', '--detach', tree, release.commit], quiet));
    checkRecord(release, tree);
    // Its own lock file and node_modules, in its own directory: the repository's node_modules are not touched.
    step('npm ci', () => run('nice', ['-n', '10', 'npm', 'ci', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: tree, ...loud }));
    step('tsc -b', () => run('nice', ['-n', '10', process.execPath, join(tree, 'node_modules/typescript/bin/tsc'), '-b'], { cwd: tree, ...loud }));
    const out = step('images', () =>
      run('nice', ['-n', '10', process.execPath, join(tree, 'images/build.mjs'), '--skip-tsc', '--out', join(staging, 'oci')], { cwd: tree, stdio: ['ignore', 'pipe', 'inherit'] }),
    );
    const images = JSON.parse(out.trim().split('\n').pop());
    const charts = step('helm package', () => {
      const c = {};
      for (const [key, name] of CHARTS) {
        const r = run(helm, ['package', join(tree, 'charts', name), '--destination', join(staging, 'charts')], quiet);
        const tgz = r.match(/saved it to: (\S+\.tgz)/)?.[1];
        if (!tgz || !existsSync(tgz)) throw new Error(`helm package ${name}: no .tgz in its output: ${r}`);
        c[key] = tgz.slice(staging.length + 1);
      }
      return c;
    });
    // `out` in the summary names the staging directory: store the layout's place relative to the cache entry instead.
    const build = { release, images: { ...images, out: 'oci' }, charts, seconds: { ...seconds, total: Math.round((Date.now() - started) / 1000) } };
    writeFileSync(join(staging, 'build.json'), `${JSON.stringify(build, null, 2)}\n`);
    renameSync(staging, dir);
    log(`previous release: weft ${release.version} (${release.commit.slice(0, 7)}) built in ${build.seconds.total}s (${Object.entries(seconds).map(([k, v]) => `${k} ${v}s`).join(', ')})\n`);
    return { dir, ...build };
  } finally {
    try {
      run('git', ['-C', repoRoot, 'worktree', 'remove', '--force', tree], quiet);
    } catch {
      rmSync(tree, { recursive: true, force: true });
      run('git', ['-C', repoRoot, 'worktree', 'prune'], quiet);
    }
    rmSync(join(tree, '..'), { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Pushes N-1's images to `registry` (as N's are: <registry>/<name>:<version>)
 * and returns { registry, tag, images, charts } with absolute chart paths:
 * what the environment state records as previousRelease.
 */
export async function publishPreviousRelease(build, registry, log = (l) => process.stderr.write(l)) {
  const out = join(build.dir, build.images.out);
  const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
  // weft's own images only: N-1's build also made the e2e workload image (weft-e2e/echo), whose tag is not versioned,
  // so pushing it would replace this run's echo image in the registry under the same name.
  const images = Object.entries(build.images.images)
    .filter(([name]) => !name.startsWith('weft-e2e/'))
    .map(([name, i]) => ({ name, ref: i.ref, digest: i.digest }));
  for (const i of images) {
    if (!index.manifests.some((m) => m.digest === i.digest)) throw new Error(`previous release: ${i.ref} (${i.digest}) is not in ${out}`);
  }
  const pushed = await pushImages({ out, images }, registry, log);
  const tag = images.find((i) => i.name === 'proxy').ref.split(':').pop();
  if (tag !== build.release.version) throw new Error(`previous release: its images are tagged ${tag}, expected ${build.release.version}`);
  const charts = Object.fromEntries(Object.entries(build.charts).map(([k, f]) => [k, join(build.dir, f)]));
  return { version: build.release.version, chartVersion: build.release.chartVersion, commit: build.release.commit, registry, tag, images: Object.fromEntries(images.map((i) => [i.name, { ref: i.ref, digest: i.digest, pushed: pushed[i.name] }])), charts };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const b = ensurePreviousRelease();
  console.log(JSON.stringify({ ...b, cached: readdirSync(b.dir) }, null, 2));
}
