/**
 * The first layer on every accepted connection: decides the protocol from
 * the first bytes (TLS ClientHello, HTTP/2 preface, HTTP/1 request line) or,
 * after the detection timeout, opaque TCP. Ports configured as opaque skip
 * detection (server-speaks-first protocols would otherwise wait it out), and
 * so does a destination declared opaque elsewhere (outbound: its profile,
 * from `config.weft.io/opaque-ports` on the Service or the pod; inbound: the
 * port's Server, `proxyProtocol: opaque`). A
 * client that said nothing for the whole timeout is counted
 * (`detect_timeout_total`) and logged once per port, so the wait is never
 * silent: it names the fix (declare the port opaque).
 */
import type { Socket } from 'node:net';
import type { Logger } from '@weft/common/log';
import type { ConnMeta, Direction, TcpConn } from '../svc.js';
import { sniff, type OpaqueHint } from '../transport/sniff.js';

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
  readonly direction: Direction;
  /** `detect_timeout_total` for this direction. */
  readonly timeouts: { inc(): void };
  /**
   * Whether the connection's destination is declared opaque beyond `opaquePorts` (outbound: its profile; inbound: the
   * port's Server): true or false when known, a hint when it is on its way (detection starts, and stops once the
   * destination is declared opaque), undefined when there is nothing to ask.
   */
  readonly declaredOpaque?: (meta: ConnMeta) => boolean | OpaqueHint | undefined;
}

/** Ports whose detection timeout was logged; beyond this many, later ones are only counted. */
const MAX_LOGGED_PORTS = 64;

export function detectProtocol(opts: DetectOptions, routes: DetectedRoutes): (socket: Socket, meta: ConnMeta) => void {
  const logged = new Set<number>();
  const timedOut = (meta: ConnMeta): void => {
    opts.timeouts.inc();
    const port = meta.origDst?.port ?? meta.local.port;
    if (logged.has(port) || logged.size >= MAX_LOGGED_PORTS) return;
    logged.add(port);
    opts.log.warn(
      { direction: opts.direction, port, client: meta.client, timeoutMs: opts.timeoutMs },
      'protocol detection timed out: the client sent nothing, so the connection waited and is now forwarded as opaque TCP; a server-speaks-first protocol on this port should be declared opaque (config.weft.io/opaque-ports) (logged once per port)',
    );
  };
  return (socket, meta) => {
    const port = meta.origDst?.port;
    if (port !== undefined && opts.opaquePorts.has(port)) {
      routes.opaque({ socket, meta });
      return;
    }
    const declared = opts.declaredOpaque === undefined ? undefined : opts.declaredOpaque(meta);
    if (declared === true) {
      routes.opaque({ socket, meta });
      return;
    }
    void sniff(socket, opts.timeoutMs, typeof declared === 'function' ? declared : undefined).then((d) => {
      if (!d) {
        socket.destroy();
        return;
      }
      opts.log.trace({ protocol: d.kind, client: meta.client }, 'detected');
      if (d.kind === 'invalid') socket.destroy();
      else if (d.kind === 'http1') routes.http1(socket, meta);
      else if (d.kind === 'http2') routes.http2(socket, meta);
      else if (d.kind === 'tls') routes.tls(socket, meta, d.sni);
      else {
        if (d.timedOut) timedOut(meta);
        routes.opaque(d.head === undefined ? { socket, meta } : { socket, meta, head: d.head });
      }
    });
  };
}
