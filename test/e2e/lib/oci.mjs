// Minimal OCI image building and pushing for the real-node e2e: one gzip layer
// made with tar (deterministic: sorted names, owner 0, mtime 0), an OCI image
// config and manifest, pushed to a registry over the distribution API
// (blob upload POST + PUT, manifest PUT). Enough for a static binary image.
/* global fetch */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

const sha = (buf) => `sha256:${createHash('sha256').update(buf).digest('hex')}`;

/**
 * Builds an image from directory `rootDir` (its contents become `/`).
 * Returns { config, manifest, blobs: Map<digest, Buffer>, digest } (digest: the manifest's).
 */
export function buildImage({ rootDir, entrypoint, cmd, user, env = [], labels = {} }) {
  const tar = execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=posix', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '-C', rootDir, '-cf', '-', '.'], { maxBuffer: 512 << 20 });
  const layer = gzipSync(tar, { level: 6 });
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config: { Entrypoint: entrypoint, Cmd: cmd, User: user, Env: ['PATH=/', ...env], WorkingDir: '/', Labels: labels },
    rootfs: { type: 'layers', diff_ids: [sha(tar)] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'weft e2e lib/oci.mjs' }],
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
  }));
  const blobs = new Map([[sha(config), config], [sha(layer), layer]]);
  return { config, manifest, blobs, digest: sha(manifest) };
}

/**
 * Pushes `image` (from buildImage) as `<registry>/<repo>:<tag>` over plain HTTP
 * (a loopback registry). Resolves the manifest digest the registry reports.
 */
export async function pushImage(registry, repo, tag, image) {
  const base = `http://${registry}/v2/${repo}`;
  for (const [digest, blob] of image.blobs) {
    if ((await fetch(`${base}/blobs/${digest}`, { method: 'HEAD' })).status === 200) continue;
    const start = await fetch(`${base}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) throw new Error(`push ${repo}: upload start HTTP ${start.status} ${await start.text()}`);
    const loc = new URL(start.headers.get('location'), `http://${registry}`);
    loc.searchParams.set('digest', digest);
    const put = await fetch(loc, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) } });
    if (put.status !== 201) throw new Error(`push ${repo}: blob ${digest} HTTP ${put.status} ${await put.text()}`);
  }
  const res = await fetch(`${base}/manifests/${tag}`, {
    method: 'PUT',
    body: image.manifest,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  if (res.status !== 201) throw new Error(`push ${repo}:${tag}: manifest HTTP ${res.status} ${await res.text()}`);
  const digest = res.headers.get('docker-content-digest');
  if (digest !== image.digest) throw new Error(`push ${repo}:${tag}: registry says ${digest}, built ${image.digest}`);
  return digest;
}
