/**
 * web: the demo's HTTP/1.1 front end. `GET /authors/<id>` asks the authors
 * gRPC service and renders the answer; gRPC failures become 502.
 */
import http from 'node:http';
import { createClient, ConnectError } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { demo } from '@weft/api';
import { dialer, traceContext, type Upstream } from './upstream.js';

export interface WebOptions {
  readonly port: number;
  readonly authors: Upstream;
}

export function startWeb(opts: WebOptions): http.Server {
  const dial = dialer(opts.authors);
  const transport = createGrpcTransport({
    baseUrl: opts.authors.url,
    // On loopback, dial the proxy; the :authority still names the authors service.
    ...(dial ? { nodeOptions: { createConnection: dial } } : {}),
    defaultTimeoutMs: 5000,
  });
  const authors = createClient(demo.Authors, transport);
  const server = http.createServer((req, res) => {
    const m = /^\/authors\/(\d+)$/.exec(req.url ?? '');
    if (req.url === '/') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('weft demo web: try /authors/1\n');
    if (!m) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no such page\n');
    authors.getAuthor({ id: Number(m[1]) }, { headers: traceContext((name) => req.headers[name]) }).then(
      (a) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`${a.name}: ${a.books.join(', ')}\n`),
      (err: unknown) => res.writeHead(502, { 'content-type': 'text/plain' }).end(`authors failed: ${ConnectError.from(err).message}\n`),
    );
  });
  server.listen(opts.port, '0.0.0.0');
  return server;
}
