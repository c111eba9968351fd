#!/usr/bin/env node
// `npm run images`: builds weft's OCI images without a container engine into
// an OCI image layout (default images/out/oci), reproducibly: the same commit
// gives the same digests. Prints a table and, last, one JSON line.
//
//   node images/build.mjs [--out DIR] [--only proxy,viz] [--no-cache] [--push REGISTRY]
//
// --push pushes each image as <REGISTRY>/<name>:<tag> with crane (built from
// its Go module and cached). Layers: base (glibc, CA, users) and node are the
// same blobs in every image; then iptables (proxy only); then the app.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureCrane } from './lib/crane.mjs';
import { baseLayer, iptablesLayer, nodeLayer } from './lib/layers.mjs';
import { writeImage, writeIndex } from './lib/oci.mjs';
import { cacheRoot } from './lib/sources.mjs';
import { gzipLayer, tarOf, withParents } from './lib/tar.mjs';

const repo = new URL('..', import.meta.url).pathname;
const pins = JSON.parse(readFileSync(join(repo, 'images/pins.json'), 'utf8'));
const SOURCE = 'https://github.com/weft-mesh/weft';
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Gzip is the slow part: compressed blobs are cached by the digest of their tar (same tar, same blob). */
function layerOf(tar, createdBy, useCache) {
  const key = (d) => join(cacheRoot, 'layers', `${d.slice('sha256:'.length)}.tar.gz`);
  if (useCache) {
    const diffId = `sha256:${execHash(tar)}`;
    if (existsSync(key(diffId))) {
      const blob = readFileSync(key(diffId));
      return { diffId, blob, digest: `sha256:${execHash(blob)}`, size: blob.length, uncompressedSize: tar.length, createdBy };
    }
  }
  const l = { ...gzipLayer(tar), createdBy };
  if (useCache) {
    mkdirSync(join(cacheRoot, 'layers'), { recursive: true });
    writeFileSync(`${key(l.diffId)}.tmp`, l.blob);
    execFileSync('mv', [`${key(l.diffId)}.tmp`, key(l.diffId)]);
  }
  return l;
}

const execHash = (buf) => createHash('sha256').update(buf).digest('hex');

function git(args) {
  try {
    return execFileSync('git', args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Builds the images (all, or `only`) into the OCI layout `out`. Returns
 * { out, images: [{ name, ref, digest, compressedBytes, uncompressedBytes, layers }], versions }.
 */
export async function buildImages({
  out = join(repo, 'images/out/oci'),
  only = [],
  useCache = true,
  log = (l) => process.stderr.write(l),
} = {}) {
  // Loaded here, after `tsc -b`: the proxy's entrypoint takes its Node flags from the injector's compiled proxy-spec.
  const { IMAGES } = await import('./catalogue.mjs');
  const version = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version;
  const revision = git(['rev-parse', 'HEAD']);
  const selected = IMAGES.filter((i) => only.length === 0 || only.includes(i.name));
  if (selected.length === 0) throw new Error(`images: none of ${only.join(', ')} is an image (${IMAGES.map((i) => i.name).join(', ')})`);
  const unknown = only.filter((n) => !IMAGES.some((i) => i.name === n));
  if (unknown.length) throw new Error(`images: unknown image ${unknown.join(', ')}`);

  const shared = {};
  const versions = {};
  const sharedLayer = (name, make) => {
    if (!shared[name]) {
      const spec = make();
      Object.assign(versions, spec.versions);
      shared[name] = layerOf(tarOf(spec.entries), spec.createdBy, useCache);
    }
    return shared[name];
  };

  // Replaces a previous layout, never anything else a mistyped --out could name.
  if (existsSync(out) && readdirSync(out).length > 0 && !existsSync(join(out, 'oci-layout')))
    throw new Error(`images: ${out} is not empty and not an OCI layout; not overwriting it`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  // Marks the directory as a layout from the start, so a build that fails half-way does not block the next one.
  writeFileSync(join(out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const results = [];
  const index = [];
  for (const image of selected) {
    const tag = image.tag ?? version;
    const layers = [sharedLayer('base', () => baseLayer(log)), sharedLayer('node', () => nodeLayer(pins.node, log))];
    if (image.iptables) layers.push(sharedLayer('iptables', () => iptablesLayer(log)));
    const app = await image.app();
    layers.push(layerOf(tarOf(withParents(app.entries)), `weft ${image.name} ${version} (${revision})`, useCache));
    const labels = {
      'org.opencontainers.image.title': image.name,
      'org.opencontainers.image.source': SOURCE,
      'org.opencontainers.image.revision': revision,
      'org.opencontainers.image.version': tag,
      'org.opencontainers.image.licenses': 'Apache-2.0',
    };
    const user = `${image.user}:${image.user}`;
    const desc = writeImage(out, { user, env: [`PATH=${PATH}`], entrypoint: image.entrypoint, workingDir: '/app', labels, layers });
    const ref = `${image.name}:${tag}`;
    index.push({ ref, descriptor: desc });
    results.push({
      name: image.name,
      ref,
      digest: desc.digest,
      compressedBytes: layers.reduce((n, l) => n + l.size, 0) + desc.configSize + desc.size,
      uncompressedBytes: layers.reduce((n, l) => n + l.uncompressedSize, 0),
      layers: layers.length,
      layerDigests: layers.map((l) => l.digest),
      packages: app.packages,
    });
  }
  writeIndex(out, index);
  return { out, revision, version, images: results, versions };
}

/** Pushes each image of the layout as <registry>/<ref> (crane push of a one-image layout made of hard links). */
export async function pushImages(built, registry, log) {
  const crane = await ensureCrane(log);
  const pushed = {};
  for (const img of built.images) {
    const dir = join(built.out, '..', `push-${img.name.replace(/\//g, '-')}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    const index = JSON.parse(readFileSync(join(built.out, 'index.json'), 'utf8'));
    const entry = index.manifests.find((m) => m.digest === img.digest);
    const manifest = JSON.parse(readFileSync(join(built.out, 'blobs/sha256', img.digest.slice(7)), 'utf8'));
    for (const d of [img.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
      linkSync(join(built.out, 'blobs/sha256', d.slice(7)), join(dir, 'blobs/sha256', d.slice(7)));
    }
    writeFileSync(join(dir, 'oci-layout'), readFileSync(join(built.out, 'oci-layout')));
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ ...index, manifests: [entry] }));
    const target = `${registry.replace(/\/$/, '')}/${img.ref}`;
    log(`images: crane push ${target}\n`);
    const insecure = /^(localhost|127\.|\[::1\])/.test(registry) ? ['--insecure'] : [];
    const outRef = execFileSync(crane, ['push', ...insecure, dir, target], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    rmSync(dir, { recursive: true, force: true });
    pushed[img.name] = outRef;
  }
  return pushed;
}

const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      only: { type: 'string' },
      push: { type: 'string' },
      'no-cache': { type: 'boolean' },
      'skip-tsc': { type: 'boolean' },
    },
  });
  const started = Date.now();
  if (!values['skip-tsc'])
    execFileSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-b'], { cwd: repo, stdio: 'inherit' });
  const built = await buildImages({
    out: values.out ? resolve(values.out) : undefined,
    only: values.only ? values.only.split(',') : [],
    useCache: !values['no-cache'],
  }).catch((err) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
  const pushed = values.push ? await pushImages(built, values.push, (l) => process.stderr.write(l)) : undefined;
  const rows = [
    ['IMAGE', 'DIGEST', 'COMPRESSED', 'UNCOMPRESSED', 'LAYERS'],
    ...built.images.map((i) => [i.ref, i.digest.slice(0, 19), mib(i.compressedBytes), mib(i.uncompressedBytes), String(i.layers)]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c])).join('  '));
  const summary = {
    out: built.out,
    revision: built.revision,
    versions: built.versions,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    images: Object.fromEntries(
      built.images.map((i) => [
        i.name,
        {
          ref: i.ref,
          digest: i.digest,
          compressedBytes: i.compressedBytes,
          uncompressedBytes: i.uncompressedBytes,
          layers: i.layers,
          ...(pushed ? { pushed: pushed[i.name] } : {}),
        },
      ]),
    ),
  };
  console.log(JSON.stringify(summary));
}
