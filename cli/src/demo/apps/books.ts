/**
 * books: the demo's HTTP/1.1 backend, deliberately flaky: each request fails
 * with 500 at the configured rate and takes the configured latency.
 */
import http from 'node:http';

export interface BooksOptions {
  readonly port: number;
  /** 0..1 */
  readonly failureRate: number;
  readonly latencyMs: number;
}

const TITLES: Record<number, string[]> = {
  1: ['The Left Hand of Darkness', 'The Dispossessed'],
  2: ['Kindred', 'Parable of the Sower'],
  3: ['Solaris', 'The Cyberiad'],
  4: ['Dune'],
};

export function startBooks(opts: BooksOptions): http.Server {
  const server = http.createServer((req, res) => {
    const m = /^\/books\/(\d+)$/.exec(req.url ?? '');
    setTimeout(() => {
      if (!m) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no such route\n');
      if (Math.random() < opts.failureRate) return void res.writeHead(500, { 'content-type': 'text/plain' }).end('books: injected failure\n');
      const titles = TITLES[Number(m[1]) % 5] ?? [];
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ author: Number(m[1]), titles }));
    }, opts.latencyMs);
  });
  server.listen(opts.port, '0.0.0.0');
  return server;
}
