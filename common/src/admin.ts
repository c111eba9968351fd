/**
 * The admin HTTP server every weft process runs: `/live` (the process is up),
 * `/ready` (it can do its job, e.g. the proxy holds a certificate),
 * `/metrics` (Prometheus text), plus component-specific routes.
 */
import http from 'node:http';
import { listen } from './listen.js';
import type { Registry } from 'prom-client';

export type AdminRoute = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

export interface AdminServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  /** Why the process is not ready, or undefined when it is. */
  readonly notReadyReason: () => string | undefined;
  readonly routes?: Readonly<Record<string, AdminRoute>>;
  /** The `/metrics` body when it is more than `registry` alone (the proxy's worker threads add theirs); default: the registry's text. */
  readonly metrics?: () => Promise<string>;
}

export interface AdminServer {
  readonly server: http.Server;
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    void route(opts, path, req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`admin error: ${(err as Error).message}\n`);
    });
  });
  const port = await listen(server, opts.port, opts.host);
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function route(opts: AdminServerOptions, path: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (path === '/live') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('live\n');
  } else if (path === '/ready') {
    const reason = opts.notReadyReason();
    if (reason === undefined) res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
    else res.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready: ${reason}\n`);
  } else if (path === '/metrics') {
    const body = await (opts.metrics ?? (() => opts.registry.metrics()))();
    res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body);
  } else if (opts.routes?.[path]) {
    await opts.routes[path](req, res);
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`no admin route ${path}\n`);
  }
}
