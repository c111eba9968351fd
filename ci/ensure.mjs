#!/usr/bin/env node
// Set-up that `npm start` and `npm test` run first, so a fresh clone needs no
// other command: install dependencies when missing (npm ci from the lockfile),
// install missing Debian packages (as root), helm and kubectl into .bin/, and build (tsc -b is incremental).
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const run = (cmd) => execSync(cmd, { stdio: 'inherit', cwd: root });

const marker = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(join(root, 'package-lock.json')).mtimeMs) {
  console.error('weft: installing dependencies (npm ci)');
  run('npm ci --no-audit --no-fund');
}
run('bash ci/system-deps.sh');
run('node ci/tools.mjs --quiet');
// The SO_ORIGINAL_DST addon is built by the proxy workspace's install script;
// this covers checkouts whose node_modules predate it (no-op when built).
run('node proxy/native/build.mjs');
run('npx tsc -b');
