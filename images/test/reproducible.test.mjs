// The same commit builds the same image digests: two builds from scratch (no
// layer cache) into two layouts give byte-identical manifests and blobs.
// Builds only the echo image to stay quick; it carries the shared base and
// node layers every image has, plus an app layer.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildImages } from '../build.mjs';

test('two clean builds of an image give the same manifest digest and the same blobs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-images-repro-'));
  try {
    const quiet = () => {};
    const a = await buildImages({ out: join(dir, 'a'), only: ['weft-e2e/echo'], useCache: false, log: quiet });
    const b = await buildImages({ out: join(dir, 'b'), only: ['weft-e2e/echo'], useCache: false, log: quiet });
    assert.equal(a.images[0].digest, b.images[0].digest);
    assert.deepEqual(a.images[0].layerDigests, b.images[0].layerDigests);
    assert.equal(readFileSync(join(dir, 'a/index.json'), 'utf8'), readFileSync(join(dir, 'b/index.json'), 'utf8'));
    const blobs = (d) => readdirSync(join(dir, d, 'blobs/sha256')).sort();
    assert.deepEqual(blobs('a'), blobs('b'));
    assert.equal(a.images[0].layers, 3, 'base, node and app layers');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('images share the base and node layers and differ only in their app layers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-images-share-'));
  try {
    const built = await buildImages({ out: dir, only: ['weft-e2e/echo', 'injector'], log: () => {} });
    const [echo, injector] = built.images;
    assert.deepEqual(echo.layerDigests.slice(0, 2), injector.layerDigests.slice(0, 2));
    assert.notEqual(echo.layerDigests[2], injector.layerDigests[2]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
