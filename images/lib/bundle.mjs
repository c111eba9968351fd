// One ESM file per entry point with esbuild, from the workspaces' compiled
// dist/ (so `tsc -b` stays the one compiler). Only what the entry imports is
// in the bundle: images carry no node_modules and no dev dependencies.
import { build } from 'esbuild';

// The bundle's free `Headers` references (the gRPC clients' and servers' metadata, Connect) resolve to weft's
// WHATWG Headers class instead of Node's global, whose first read loads Node's whole fetch implementation and
// compiles its WebAssembly parser: ~5 MiB of an idle proxy (common/src/web-headers.ts, docs/proxy.md).
const WEB_HEADERS = new URL('../../common/dist/web-headers.js', import.meta.url).pathname;

// CommonJS dependencies bundled into ESM still call require() for Node built-ins.
const BANNER = "import { createRequire as __weftCreateRequire } from 'node:module';\nconst require = __weftCreateRequire(import.meta.url);";

/** Bundles `entry` (an absolute path) and returns { code, inputs }. `shebang` makes the file directly executable. */
export async function bundle(entry, { shebang } = {}) {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    outfile: 'out.js',
    banner: { js: BANNER },
    inject: [WEB_HEADERS],
    // Whitespace and syntax only: identifiers (class names in errors and logs) stay readable.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'eof',
    metafile: true,
    logLevel: 'silent',
  });
  const [out] = result.outputFiles.filter((f) => f.path.endsWith('.js'));
  // esbuild keeps the entry's own `#!/usr/bin/env node`; the image has no env, so name node directly.
  const code = out.text.replace(/^#!.*\n/, '');
  return { code: Buffer.from(shebang ? `#!${shebang}\n${code}` : code), inputs: Object.keys(result.metafile.inputs) };
}

/** The npm packages (names) a bundle's inputs came from. */
export function packagesOf(inputs) {
  const names = new Set();
  for (const input of inputs) {
    const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g);
    if (m) names.add(m[m.length - 1].replace(/^node_modules\//, '').replace(/\/$/, ''));
  }
  return [...names].sort();
}
