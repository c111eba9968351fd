#!/usr/bin/env node
// Builds the proxy's native addon (proxy/native/build/Release/weft_original_dst.node: SO_ORIGINAL_DST,
// releasing the executable's start-up pages, TCP_USER_TIMEOUT and SO_REUSEPORT listeners)
// with node-gyp from the proxy workspace's devDependencies. Runs as the proxy
// workspace's install script, so `npm ci` builds it, and as `npm run build:native -w proxy`.
//
// Offline by design: node-gyp is pointed at the headers of the Node that runs
// this script (Debian and NodeSource ship them under <prefix>/include/node), so
// it never downloads a header tarball. Skips the build when the addon is newer
// than its sources. A failed build does not fail `npm ci` for the whole
// repository: it prints why, and the proxy reports the missing addon clearly
// when it needs it (and its tests fail).
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const output = join(here, 'build', 'Release', 'weft_original_dst.node');
const sources = ['binding.gyp', 'original_dst.cc', 'startup_pages.cc', 'startup_pages.h', 'tcp_user_timeout.cc', 'tcp_user_timeout.h', 'reuse_port.cc', 'reuse_port.h', 'napi_util.cc', 'napi_util.h', 'build.mjs'].map((f) => join(here, f));
const force = process.argv.includes('--force');
const strict = process.argv.includes('--strict');

function fail(message) {
  console.error(`weft: native addon not built: ${message}`);
  console.error('weft: the proxy needs it for SO_ORIGINAL_DST (transparent interception); fix the above and run `npm run build:native -w proxy`');
  process.exit(strict ? 1 : 0);
}

if (process.platform !== 'linux') {
  console.error('weft: skipping the SO_ORIGINAL_DST addon (Linux only)');
  process.exit(0);
}

const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
if (!force && existsSync(output) && statSync(output).mtimeMs >= newest) process.exit(0);

/** The directory whose include/node holds headers matching the running Node. */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) return prefix;
  return undefined;
}

let gyp;
try {
  gyp = createRequire(join(here, '..', 'package.json')).resolve('node-gyp/bin/node-gyp.js');
} catch {
  fail('node-gyp is not installed (it is a devDependency of @weft/proxy: run npm ci)');
}
const dir = nodeDir();
if (!dir) fail(`no Node headers next to ${process.execPath} (install the nodejs headers, e.g. Debian libnode-dev, or set npm_config_nodedir)`);

const result = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${dir}`, '--loglevel=warn'], { cwd: here, stdio: 'inherit' });
if (result.status !== 0) fail(`node-gyp rebuild exited ${result.status ?? result.signal}`);
if (!existsSync(output)) fail(`node-gyp succeeded but ${output} is missing`);
console.error(`weft: built ${output}`);
