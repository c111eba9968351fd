/**
 * The dashboard's files (viz/web/: plain HTML, JS and CSS, no bundler),
 * served with relative URLs so the dashboard works under any prefix, e.g.
 * behind `kubectl port-forward` or a path-rewriting ingress; and the npm
 * files it uses (the uPlot chart library) under `vendor/`, from viz itself,
 * never a CDN.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { join, normalize } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** viz/web, found from dist/web/static.js. */
export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

/**
 * `vendor/<name>` → the file of an npm dependency. The image copies them to
 * web/vendor/ (images/catalogue.mjs: its bundle has no node_modules); from the
 * repository they are read from node_modules.
 */
export const VENDOR_FILES: Readonly<Record<string, string>> = {
  'uPlot.iife.min.js': 'uplot/dist/uPlot.iife.min.js',
  'uPlot.min.css': 'uplot/dist/uPlot.min.css',
};

/**
 * The Content-Security-Policy of every dashboard file: scripts, styles,
 * fetches and images only from viz itself; no inline script or style, no
 * eval (uPlot sets styles through the CSSOM, which CSP allows, and draws on
 * a canvas); no framing (clickjacking).
 */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async function readVendor(root: string, name: string): Promise<Buffer> {
  try {
    return await readFile(join(root, 'vendor', name));
  } catch {
    return await readFile(createRequire(import.meta.url).resolve(VENDOR_FILES[name]!));
  }
}

export function staticFiles(root = WEB_ROOT) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = new URL(req.url ?? '/', 'http://viz.local').pathname;
    const rel = path === '/' ? 'index.html' : normalize(decodeURIComponent(path)).replace(/^[/\\]+/, '');
    if (rel.startsWith('..') || rel.includes('\0')) return false;
    const ext = rel.slice(rel.lastIndexOf('.'));
    const type = TYPES[ext];
    if (!type) return false;
    const vendor = rel.startsWith('vendor/') ? rel.slice('vendor/'.length) : undefined;
    if (vendor !== undefined && !Object.hasOwn(VENDOR_FILES, vendor)) return false;
    let body: Buffer;
    try {
      body = vendor !== undefined ? await readVendor(root, vendor) : await readFile(join(root, rel));
    } catch {
      return false;
    }
    res.writeHead(200, {
      'content-type': type,
      'cache-control': 'no-cache',
      'content-security-policy': DASHBOARD_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
