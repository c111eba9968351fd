// The images `npm run images` builds: name (as the charts reference it under
// image.registry), user, entrypoint and the files of its app layer. The layout
// under /app mirrors the repository (`<workspace>/dist/main.js`, working
// directory /app), so the commands the injector writes today
// (`node proxy/dist/main.js`, `node proxy/dist/init/main.js`) work unchanged,
// and relative lookups the code makes from import.meta.url resolve.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROXY_NODE_FLAGS } from '../injector/dist/proxy-spec.js';
import { bundle, packagesOf } from './lib/bundle.mjs';
import { CONTROL_PLANE_UID, NONROOT_UID, PROXY_UID } from './lib/layers.mjs';

const repo = new URL('..', import.meta.url).pathname;
const NODE = '/usr/local/bin/node';

/** proxy/src/native/original-dst.ts loads `../../native/build/Release/…` relative to its module: from the bundle in /app/proxy/dist/ that is /app/native/. */
const ADDON = 'proxy/native/build/Release/weft_original_dst.node';
const ADDON_IN_IMAGE = 'app/native/build/Release/weft_original_dst.node';

const pkgJson = (ws) => {
  const { name, version } = JSON.parse(readFileSync(join(repo, ws, 'package.json'), 'utf8'));
  return {
    path: `app/${ws}/package.json`,
    type: 'file',
    data: Buffer.from(`${JSON.stringify({ name, version, private: true, type: 'module' }, null, 2)}\n`),
  };
};

async function mainBundle(ws, rel = 'dist/main.js', opts = {}) {
  const b = await bundle(join(repo, ws, rel), opts);
  return {
    entry: { path: `app/${ws}/${rel}`, type: 'file', mode: opts.shebang ? 0o755 : 0o644, data: b.code },
    packages: packagesOf(b.inputs),
  };
}

const appRoot = { path: 'app/package.json', type: 'file', data: Buffer.from('{\n  "private": true,\n  "type": "module"\n}\n') };

/** A component image whose app layer is its bundled main (and extras). */
function component(ws, user, extras = async () => []) {
  return {
    name: ws,
    user,
    entrypoint: [NODE, `/app/${ws}/dist/main.js`],
    async app() {
      const main = await mainBundle(ws);
      return { entries: [appRoot, pkgJson(ws), main.entry, ...(await extras())], packages: main.packages };
    },
  };
}

export const IMAGES = [
  {
    name: 'proxy',
    user: PROXY_UID,
    iptables: true,
    // The sidecar's Node flags, as the injector writes them (pods run the injector's command; this is for `run` by hand).
    entrypoint: [NODE, ...PROXY_NODE_FLAGS, '/app/proxy/dist/main.js'],
    async app() {
      const addon = join(repo, ADDON);
      if (!existsSync(addon)) throw new Error(`images: ${ADDON} is not built: run \`npm run build:native -w proxy\``);
      const main = await mainBundle('proxy');
      // weft-init: executable by name (the kernel runs the shebang; no shell in the image).
      const init = await mainBundle('proxy', 'dist/init/main.js', { shebang: NODE });
      return {
        entries: [
          appRoot,
          pkgJson('proxy'),
          main.entry,
          init.entry,
          { path: ADDON_IN_IMAGE, type: 'file', mode: 0o755, data: readFileSync(addon) },
          { path: 'usr/local/bin/weft-init', type: 'symlink', target: '/app/proxy/dist/init/main.js' },
        ],
        packages: main.packages,
      };
    },
  },
  component('identity', CONTROL_PLANE_UID),
  component('destination', CONTROL_PLANE_UID),
  component('injector', CONTROL_PLANE_UID),
  // viz/src/web/static.ts serves `../../web/` relative to its module: /app/web from /app/viz/dist/.
  // The dashboard's npm files (uPlot) go to /app/web/vendor/ with their licence (static.ts VENDOR_FILES).
  component('viz', CONTROL_PLANE_UID, async () => [
    ...readdirSync(join(repo, 'viz/web'))
      .sort()
      .map((f) => ({ path: `app/web/${f}`, type: 'file', data: readFileSync(join(repo, 'viz/web', f)) })),
    ...['uPlot.iife.min.js', 'uPlot.min.css', '../LICENSE'].map((f) => ({
      path: `app/web/vendor/${f === '../LICENSE' ? 'uPlot.LICENSE' : f}`,
      type: 'file',
      data: readFileSync(join(repo, 'node_modules/uplot/dist', f)),
    })),
  ]),
  {
    // The e2e scenarios' workload (test/e2e/images/echo.mjs): no dependencies, copied as is.
    name: 'weft-e2e/echo',
    tag: '1',
    user: NONROOT_UID,
    entrypoint: [NODE, '/app/echo.mjs'],
    async app() {
      return {
        entries: [{ path: 'app/echo.mjs', type: 'file', data: readFileSync(join(repo, 'test/e2e/images/echo.mjs')) }],
        packages: [],
      };
    },
  },
];
