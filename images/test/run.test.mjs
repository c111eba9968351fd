// Runs every image's entrypoint with runc from an unpacked bundle: read-only
// root filesystem, the image's own user, a tmpfs /tmp (the charts mount an
// emptyDir there), as Kubernetes would. Needs root and runc (Debian `runc`,
// installed by ci/system-deps.sh); without them this test fails and says why.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PROXY_NODE_FLAGS, proxyCommand } from '../../injector/dist/proxy-spec.js';
import { buildImages } from '../build.mjs';

function runcUnavailable() {
  if (process.platform !== 'linux') return 'runc needs Linux';
  if (process.getuid?.() !== 0) return 'running images with runc needs root (CI runs as root)';
  const r = spawnSync('runc', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0)
    return `runc is not installed or fails (Debian: apt-get install runc; ci/system-deps.sh installs it): ${r.error?.message ?? r.stderr}`;
  return undefined;
}
const unavailable = runcUnavailable();

let dir;
let built;
before(async () => {
  if (unavailable) return;
  dir = mkdtempSync(join(tmpdir(), 'weft-images-run-'));
  built = await buildImages({ out: join(dir, 'oci'), log: () => {} });
});
after(() => dir && rmSync(dir, { recursive: true, force: true }));

const blob = (digest) => join(dir, 'oci/blobs/sha256', digest.slice('sha256:'.length));

/** Unpacks an image's layers into <bundle>/rootfs and writes a runc config.json for `args` (default: the entrypoint). */
function unpack(name, { args, env = [], hostNetwork = false, root = false, caps = [] } = {}) {
  const img = built.images.find((i) => i.name === name);
  const manifest = JSON.parse(readFileSync(blob(img.digest), 'utf8'));
  const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8')).config;
  const bundle = join(dir, `bundle-${name.replace(/\//g, '-')}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(join(bundle, 'rootfs'), { recursive: true });
  for (const l of manifest.layers)
    execFileSync('tar', ['-xzf', blob(l.digest), '-C', join(bundle, 'rootfs'), '--same-owner', '--numeric-owner']);
  execFileSync('runc', ['spec'], { cwd: bundle });
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  const [uid, gid] = config.User.split(':').map(Number);
  spec.process = {
    ...spec.process,
    terminal: false,
    args: args ?? config.Entrypoint,
    env: [...config.Env, ...env],
    cwd: config.WorkingDir,
    user: root ? { uid: 0, gid: 0 } : { uid, gid },
  };
  for (const set of ['bounding', 'effective', 'permitted']) spec.process.capabilities[set] = [...spec.process.capabilities[set], ...caps];
  spec.root = { path: 'rootfs', readonly: true };
  spec.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] });
  // The injector gives weft-init an emptyDir on /run (the xtables lock); the same here.
  if (root) spec.mounts.push({ destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755'] });
  if (hostNetwork) spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== 'network');
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  return { bundle, config };
}

/** `runc run` to completion: { code, stdout, stderr }. */
function run(bundle) {
  const id = `weft-img-${Math.random().toString(36).slice(2, 10)}`;
  const r = spawnSync('runc', ['run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 120_000 });
  spawnSync('runc', ['delete', '--force', id]);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const needs = () => {
  if (unavailable) assert.fail(`cannot run images: ${unavailable}`);
};

test('proxy: the entrypoint runs as UID 2102 and refuses to start with a ConfigError naming the missing variables (exit 2)', () => {
  needs();
  const { bundle, config } = unpack('proxy');
  assert.equal(config.User, '2102:2102');
  const r = run(bundle);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^weft-proxy: invalid configuration/m);
  assert.match(r.stderr, /WEFT_PROXY_IDENTITY_SVC_ADDR is required but not set/);
});

test("proxy: the entrypoint carries the sidecar's Node flags, and the injector's command (node, flags, old-generation cap) runs the same program", () => {
  needs();
  const { config } = unpack('proxy');
  assert.deepEqual(config.Entrypoint, ['/usr/local/bin/node', ...PROXY_NODE_FLAGS, '/app/proxy/dist/main.js']);
  // The image's node accepts every flag (a flag it does not know stops it before the proxy's own configuration check).
  const r = run(unpack('proxy', { args: proxyCommand('256Mi') }).bundle);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /WEFT_PROXY_IDENTITY_SVC_ADDR is required but not set/);
});

test('proxy: the SO_ORIGINAL_DST addon loads from where the bundled proxy looks for it', () => {
  needs();
  const main = join(dir, 'main.js');
  const img = built.images.find((i) => i.name === 'proxy');
  const manifest = JSON.parse(readFileSync(blob(img.digest), 'utf8'));
  const app = manifest.layers.at(-1).digest;
  writeFileSync(main, execFileSync('tar', ['-xzOf', blob(app), 'app/proxy/dist/main.js'], { maxBuffer: 256 << 20 }));
  assert.match(readFileSync(main, 'utf8'), /"\.\.\/\.\.\/native\/build\/Release\/weft_original_dst\.node"/);
  const probe =
    "const a=require('node:module').createRequire('file:///app/proxy/dist/main.js')('../../native/build/Release/weft_original_dst.node');console.log(typeof a.getOriginalDst)";
  const { bundle } = unpack('proxy', { args: ['node', '-e', probe] });
  const r = run(bundle);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'function');
});

test("proxy: `weft-init --help` runs from PATH, and the injector's command `node proxy/dist/init/main.js` finds the same program", () => {
  needs();
  const byName = run(unpack('proxy', { args: ['weft-init', '--help'] }).bundle);
  assert.equal(byName.code, 0, byName.stderr);
  assert.match(byName.stdout + byName.stderr, /iptables/);
  const byPath = run(unpack('proxy', { args: ['node', 'proxy/dist/init/main.js', '--help'] }).bundle);
  assert.equal(byPath.code, 0, byPath.stderr);
  assert.equal(byPath.stdout, byName.stdout);
});

test("proxy: weft-init as root with NET_ADMIN/NET_RAW installs its rules in the container's network namespace (what the injected init container does)", () => {
  needs();
  const caps = ['CAP_NET_ADMIN', 'CAP_NET_RAW'];
  const init = [
    'weft-init',
    '--incoming-proxy-port',
    '4143',
    '--outgoing-proxy-port',
    '4140',
    '--proxy-uid',
    '2102',
    '--inbound-ports-to-ignore',
    '4190,4191',
  ];
  // No shell in the image: run both in one container through node.
  const script = `const {execFileSync:x}=require('node:child_process');x(${JSON.stringify(init[0])},${JSON.stringify(init.slice(1))},{stdio:'inherit'});for(const c of ['iptables-save','ip6tables-save'])process.stdout.write(x(c,['-t','nat']));`;
  const { bundle } = unpack('proxy', { args: ['node', '-e', script], root: true, caps });
  const r = run(bundle);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /-j REDIRECT --to-ports 4143/);
  assert.match(r.stdout, /--uid-owner 2102/);
  assert.equal(r.stdout.match(/REDIRECT --to-ports 4140/g)?.length >= 2, true, 'outbound redirect for IPv4 and IPv6');
});

test('proxy: iptables and ip6tables run inside the image (nft backend, libraries and xtables modules present)', () => {
  needs();
  for (const cmd of ['iptables', 'ip6tables', 'iptables-restore', 'ip6tables-save']) {
    const r = run(unpack('proxy', { args: [cmd, '--version'] }).bundle);
    assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
    assert.match(r.stdout, /v1\.8\.\d+ \(nf_tables\)/);
  }
});

/**
 * identity starts its admin server, then checks its RBAC against the Kubernetes API (none here) and stops. Its fatal
 * line is written at once (pino flushes a fatal line synchronously), so it may reach stdout before the line about the
 * admin server when that one's write is still queued: the order is the lines' own times.
 */
function identityStartsAdminThenStops(output) {
  const lines = output.split('\n').flatMap((l) => (l.startsWith('{') ? [JSON.parse(l)] : []));
  const admin = lines.find((l) => l.msg === 'admin listening');
  const stop = lines.find((l) => l.level === 60 && /identity cannot start: cannot check identity's permissions with the Kubernetes API/.test(l.msg));
  assert.ok(admin && stop, `the admin server's line and the fatal reason:\n${output}`);
  assert.ok(admin.time <= stop.time, `the admin server started before identity stopped:\n${output}`);
}

for (const [name, code, pattern] of [
  ['identity', 1, identityStartsAdminThenStops],
  ['destination', 2, /invalid configuration:[\s\S]*WEFT_DESTINATION_TLS_CERT_FILE is required but not set/],
  ['injector', 2, /weft injector: invalid configuration:[\s\S]*WEFT_INJECTOR_KUBERNETES_VERSION/],
  ['viz', 1, /viz: invalid configuration:[\s\S]*WEFT_VIZ_TRUST_ANCHORS_FILE is required but not set/],
]) {
  test(`${name}: the entrypoint runs as the charts' UID 2103 and stops on a missing configuration with a clear message (exit ${code})`, () => {
    needs();
    const { bundle, config } = unpack(name);
    assert.equal(config.User, '2103:2103', 'the UID the charts run it as');
    const r = run(bundle);
    assert.equal(r.code, code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    if (pattern instanceof RegExp) assert.match(r.stdout + r.stderr, pattern);
    else pattern(r.stdout + r.stderr);
  });
}

test('echo (e2e workload): starts listening and answers HTTP', async () => {
  needs();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const { bundle } = unpack('weft-e2e/echo', { env: [`PORT=${port}`, 'POD_NAME=echo-0'], hostNetwork: true });
  const id = `weft-img-echo-${port}`;
  const child = spawn('runc', ['run', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    await new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('echo listening')) resolve();
      });
      child.on('exit', (c) => reject(new Error(`echo exited ${c} before listening: ${out}`)));
    });
    const res = await globalThis.fetch(`http://127.0.0.1:${port}/hello`);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).pod, 'echo-0');
  } finally {
    spawnSync('runc', ['kill', id, 'KILL']);
    await new Promise((r) => (child.exitCode === null ? child.on('exit', r) : r()));
    spawnSync('runc', ['delete', '--force', id]);
  }
});
