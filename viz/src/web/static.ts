/**
 * The dashboard's files (viz/web/: plain HTML, JS and CSS, no bundler),
 * served with relative URLs so the dashboard works under any prefix, e.g.
 * behind `kubectl port-forward` or a path-rewriting ingress.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
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

export function staticFiles(root = WEB_ROOT) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = new URL(req.url ?? '/', 'http://viz.local').pathname;
    const rel = path === '/' ? 'index.html' : normalize(decodeURIComponent(path)).replace(/^[/\\]+/, '');
    if (rel.startsWith('..') || rel.includes('\0')) return false;
    const ext = rel.slice(rel.lastIndexOf('.'));
    const type = TYPES[ext];
    if (!type) return false;
    let body: Buffer;
    try {
      body = await readFile(join(root, rel));
    } catch {
      return false;
    }
    res.writeHead(200, {
      'content-type': type,
      'cache-control': 'no-cache',
      'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'",
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
