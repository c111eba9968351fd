#!/usr/bin/env node
// Runs every compiled unit/integration test (`<pkg>/dist/**/*.test.js`) with
// Node's built-in test runner. Node 20's `--test` takes no globs, so the files
// are listed here. The TAP reporter ends with `# pass N` / `# fail N`. A test that
// hangs fails after 10 minutes instead of stalling the run.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse((await import('node:fs')).readFileSync(join(root, 'package.json'), 'utf8'));
const only = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const files = [];
for (const ws of pkg.workspaces) {
  if (only.length && !only.includes(ws)) continue;
  const dist = join(root, ws, 'dist');
  if (existsSync(dist)) walk(dist, files);
}
if (files.length === 0) {
  console.error('no compiled tests found: run `npm run build` first');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-reporter=tap', '--test-timeout=600000', ...files.sort()], { stdio: 'inherit', cwd: root });
process.exit(result.status ?? 1);
