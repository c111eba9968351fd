/**
 * authors: the demo's gRPC service (weft.demo.v1.Authors over h2c). Each
 * GetAuthor calls the books backend over HTTP/1.1, so a books failure
 * becomes a gRPC UNAVAILABLE here.
 */
import http2 from 'node:http2';
import { Code, ConnectError } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { demo } from '@weft/api';
import { httpGet, traceContext, type Upstream } from './upstream.js';

const NAMES = ['Ursula K. Le Guin', 'Octavia E. Butler', 'Stanisław Lem', 'Frank Herbert'];

export interface AuthorsOptions {
  readonly port: number;
  readonly books: Upstream;
}

export function startAuthors(opts: AuthorsOptions): http2.Http2Server {
  const handler = connectNodeAdapter({
    grpc: true,
    grpcWeb: false,
    connect: false,
    routes(router) {
      router.service(demo.Authors, {
        async getAuthor(req, ctx) {
          const id = req.id % NAMES.length;
          const res = await httpGet(opts.books, `/books/${req.id}`, 5000, traceContext((name) => ctx.requestHeader.get(name))).catch((err: Error) => {
            throw new ConnectError(`books unreachable: ${err.message}`, Code.Unavailable);
          });
          if (res.status !== 200) throw new ConnectError(`books answered ${res.status}`, Code.Unavailable);
          return { id: req.id, name: NAMES[id]!, books: (JSON.parse(res.body) as { titles: string[] }).titles };
        },
        async *listAuthors() {
          for (const [id, name] of NAMES.entries()) yield { id, name, books: [] };
        },
      });
    },
  });
  const server = http2.createServer(handler);
  server.listen(opts.port, '0.0.0.0');
  return server;
}
