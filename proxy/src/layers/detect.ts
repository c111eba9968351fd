/**
 * The first layer on every accepted connection: decides the protocol from
 * the first bytes (TLS ClientHello, HTTP/2 preface, HTTP/1 request line) or,
 * after the detection timeout, opaque TCP. Ports configured as opaque skip
 * detection (server-speaks-first protocols would otherwise wait it out).
 */
import type { Socket } from 'node:net';
import type { Logger } from '@weft/common/log';
import type { ConnMeta, TcpConn } from '../svc.js';
import { detect } from '../transport/detect.js';

export interface DetectedRoutes {
  http1(socket: Socket, meta: ConnMeta): void;
  http2(socket: Socket, meta: ConnMeta): void;
  tls(socket: Socket, meta: ConnMeta, sni: string | undefined): void;
  opaque(conn: TcpConn): void;
}

export interface DetectOptions {
  readonly timeoutMs: number;
  readonly opaquePorts: ReadonlySet<number>;
  readonly log: Logger;
}

export function detectProtocol(opts: DetectOptions, routes: DetectedRoutes): (socket: Socket, meta: ConnMeta) => void {
  return (socket, meta) => {
    const port = meta.origDst?.port;
    if (port !== undefined && opts.opaquePorts.has(port)) {
      routes.opaque({ socket, meta });
      return;
    }
    void detect(socket, opts.timeoutMs).then((d) => {
      if (!d) {
        socket.destroy();
        return;
      }
      opts.log.trace({ protocol: d.kind, client: meta.client }, 'detected');
      if (d.kind === 'invalid') socket.destroy();
      else if (d.kind === 'http1') routes.http1(socket, meta);
      else if (d.kind === 'http2') routes.http2(socket, meta);
      else if (d.kind === 'tls') routes.tls(socket, meta, d.sni);
      else routes.opaque({ socket, meta });
    });
  };
}
