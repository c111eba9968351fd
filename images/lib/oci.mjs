// An OCI image layout on disk (image-spec v1.1): blobs/sha256/<hex>, one
// manifest per image, index.json naming each by `<name>:<tag>`. Configs and
// manifests are JSON written in a fixed key order with no timestamps, so
// their digests depend only on the layers and the metadata given.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from './tar.mjs';

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
};

export const REF_NAME = 'org.opencontainers.image.ref.name';

export function writeBlob(layout, buf) {
  const digest = sha256(buf);
  const dir = join(layout, 'blobs', 'sha256');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, digest.slice('sha256:'.length));
  if (!existsSync(path)) writeFileSync(path, buf);
  return { digest, size: buf.length };
}

/**
 * Writes one image's layers, config and manifest into `layout`.
 * `image`: { user, env, entrypoint, cmd, workingDir, labels, layers: [gzipLayer results] }.
 * Returns the manifest descriptor.
 */
export function writeImage(layout, image) {
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: {
      User: image.user,
      Env: image.env,
      Entrypoint: image.entrypoint,
      ...(image.cmd ? { Cmd: image.cmd } : {}),
      WorkingDir: image.workingDir,
      Labels: image.labels,
    },
    rootfs: { type: 'layers', diff_ids: image.layers.map((l) => l.diffId) },
    history: image.layers.map((l) => ({ created_by: l.createdBy, comment: 'weft images/build.mjs' })),
  };
  const configDesc = writeBlob(layout, Buffer.from(JSON.stringify(config)));
  for (const l of image.layers) writeBlob(layout, l.blob);
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, digest: configDesc.digest, size: configDesc.size },
    layers: image.layers.map((l) => ({ mediaType: MEDIA.layer, digest: l.digest, size: l.size })),
    annotations: image.labels,
  };
  const m = writeBlob(layout, Buffer.from(JSON.stringify(manifest)));
  return { mediaType: MEDIA.manifest, digest: m.digest, size: m.size, configSize: configDesc.size };
}

/** index.json + oci-layout; `entries`: [{ ref, descriptor }] in a fixed order. */
export function writeIndex(layout, entries) {
  mkdirSync(layout, { recursive: true });
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: entries.map(({ ref, descriptor }) => ({
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      size: descriptor.size,
      annotations: { [REF_NAME]: ref },
    })),
  };
  writeFileSync(join(layout, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
}
