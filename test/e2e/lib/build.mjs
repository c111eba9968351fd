// Builds the real Kubernetes, etcd and cert-manager binaries the e2e
// environment runs, from the Go modules pinned in test/e2e/tools/*/go.mod, and
// caches them outside the repo keyed by version and by a digest of the pins,
// so a second run (CI on the same machine) starts in seconds while a change of
// pin rebuilds. Cold builds take long on 2 shared cores: they run niced.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const toolsDir = new URL('../tools/', import.meta.url).pathname;

export const cacheRoot = process.env.WEFT_E2E_CACHE ?? '/var/cache/weft-e2e';

/** The Go toolchain: from PATH, else where the machine image installs it (a CI shell may not have it on PATH). */
export const goBin = (() => {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/local/go/bin']) {
    if (existsSync(join(dir, 'go'))) return join(dir, 'go');
  }
  return 'go';
})();

/** Reads `require <module> <version>` of the pinned tool module out of its go.mod. */
function pinnedVersion(dir, module) {
  const text = readFileSync(join(toolsDir, dir, 'go.mod'), 'utf8');
  const m = text.match(new RegExp(`^\\s*(?:require\\s+)?${module.replace(/[./]/g, '\\$&')}\\s+(v\\S+)`, 'm'));
  if (!m) throw new Error(`e2e build: ${module} is not required in tools/${dir}/go.mod`);
  return m[1];
}

/** The release date of a module version as the proxy records it: a reproducible buildDate. */
function moduleTime(dir, module, version) {
  try {
    const out = execFileSync(goBin, ['mod', 'download', '-json', `${module}@${version}`], { cwd: join(toolsDir, dir), encoding: 'utf8' });
    const info = JSON.parse(out).Info;
    return JSON.parse(readFileSync(info, 'utf8')).Time ?? '1970-01-01T00:00:00Z';
  } catch {
    return '1970-01-01T00:00:00Z';
  }
}

export function kubernetesTool() {
  const version = pinnedVersion('kubernetes', 'k8s.io/kubernetes');
  const [, major, minor] = version.match(/^v(\d+)\.(\d+)\./);
  const pkg = 'k8s.io/component-base/version';
  return {
    name: 'kubernetes',
    dir: 'kubernetes',
    version,
    ldflags: () =>
      [
        `-X ${pkg}.gitVersion=${version}`,
        `-X ${pkg}.gitMajor=${major}`,
        `-X ${pkg}.gitMinor=${minor}`,
        // The module zip carries no commit; name the module version instead of a fake hash.
        `-X ${pkg}.gitCommit=module-${version}`,
        `-X ${pkg}.gitTreeState=clean`,
        `-X ${pkg}.buildDate=${moduleTime('kubernetes', 'k8s.io/kubernetes', version)}`,
      ],
    binaries: {
      'kube-apiserver': 'k8s.io/kubernetes/cmd/kube-apiserver',
      'kube-controller-manager': 'k8s.io/kubernetes/cmd/kube-controller-manager',
      'kube-scheduler': 'k8s.io/kubernetes/cmd/kube-scheduler',
      'kube-proxy': 'k8s.io/kubernetes/cmd/kube-proxy',
    },
  };
}

function etcdTool() {
  const version = pinnedVersion('etcd', 'go.etcd.io/etcd/server/v3');
  return {
    name: 'etcd',
    dir: 'etcd',
    version,
    ldflags: () => [`-X go.etcd.io/etcd/api/v3/version.GitSHA=module-${version}`],
    binaries: { etcd: 'go.etcd.io/etcd/server/v3' },
  };
}

function certManagerTool() {
  const version = pinnedVersion('cert-manager', 'github.com/cert-manager/cert-manager');
  const pkg = 'github.com/cert-manager/cert-manager/pkg/util';
  return {
    name: 'cert-manager',
    dir: 'cert-manager',
    version,
    ldflags: () => [`-X ${pkg}.AppVersion=${version}`, `-X ${pkg}.AppGitCommit=module-${version}`],
    binaries: {
      'cert-manager-controller': 'github.com/cert-manager/cert-manager/cmd/controller',
      // Copies the webhook CA into the chart's MutatingWebhookConfiguration (cert-manager.io/inject-ca-from).
      'cert-manager-cainjector': 'github.com/cert-manager/cert-manager/cmd/cainjector',
    },
  };
}

export function toolSpecs() {
  return [etcdTool(), kubernetesTool(), certManagerTool()];
}

function pinDigest(tool) {
  const h = createHash('sha256');
  for (const f of ['go.mod', 'go.sum']) h.update(readFileSync(join(toolsDir, tool.dir, f)));
  return h.digest('hex').slice(0, 16);
}

function goBuild(tool, out, pkg, log) {
  return new Promise((resolve, reject) => {
    const ldflags = ['-s', '-w', ...tool.ldflags()].join(' ');
    const child = spawn('nice', ['-n', '10', goBin, 'build', '-trimpath', '-ldflags', ldflags, '-o', `${out}.tmp`, pkg], {
      cwd: join(toolsDir, tool.dir),
      env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stdout.on('data', (d) => log(d.toString()));
    child.stderr.on('data', (d) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) {
        renameSync(`${out}.tmp`, out);
        resolve();
      } else reject(new Error(`go build ${pkg} failed (exit ${code}):\n${err.slice(-4000)}`));
    });
  });
}

/**
 * Returns { paths: {binary: path}, versions: {tool: version} }, building what is
 * missing from the cache. `log` receives progress lines. `specs` defaults to
 * the environment's tools; the real node passes its own (lib/real-node-build.mjs).
 */
export async function ensureBinaries(log = (l) => process.stderr.write(l), only = [], specs = toolSpecs()) {
  const paths = {};
  const versions = {};
  for (const tool of specs) {
    if (only.length > 0 && !only.includes(tool.name)) continue;
    versions[tool.name] = tool.version;
    const dir = join(cacheRoot, `${tool.name}-${tool.version}-${pinDigest(tool)}`, 'bin');
    mkdirSync(dir, { recursive: true });
    for (const [bin, pkg] of Object.entries(tool.binaries)) {
      const out = join(dir, bin);
      paths[bin] = out;
      if (existsSync(out) && statSync(out).size > 0) continue;
      const started = Date.now();
      log(`e2e build: ${bin} ${tool.version} (cold, go build ${pkg}) ...\n`);
      await goBuild(tool, out, pkg, log);
      const secs = Math.round((Date.now() - started) / 1000);
      log(`e2e build: ${bin} built in ${secs}s\n`);
      writeFileSync(join(dir, `${bin}.buildtime`), `${secs}\n`);
    }
  }
  return { paths, versions };
}

// `node test/e2e/lib/build.mjs` builds (or finds) everything and prints the paths.
if (import.meta.url === `file://${process.argv[1]}`) {
  const started = Date.now();
  const { paths, versions } = await ensureBinaries(undefined, process.argv.slice(2));
  console.log(JSON.stringify({ versions, paths, seconds: Math.round((Date.now() - started) / 1000) }, null, 2));
}
