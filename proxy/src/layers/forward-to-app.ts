/**
 * Inbound, last layer: hands the request to the application on the pod's
 * loopback, in the version the original client spoke (an HTTP/1 request that
 * crossed the mesh as HTTP/2 is restored to HTTP/1). The port is the one the
 * peer proxy named (`weft-dst-port`), else the original destination, else the
 * configured default application port (explicit mode).
 */
import type { HttpService, SocketAddr } from '../svc.js';
import type { H2Pool, H2Peer } from '../http/h2-client.js';
import type { Http1Client } from '../http/h1-client.js';
import { DST_PORT, ORIG_PROTO } from '../http/headers.js';
import { BadRequestError } from '../errors.js';

export interface ForwardToAppOptions {
  readonly appHost: string;
  /** Used when a connection has no original destination (no iptables); undefined: such requests fail. */
  readonly defaultAppPort: number | undefined;
  readonly h2: H2Pool;
  readonly h1: Http1Client;
}

export function forwardToApp(opts: ForwardToAppOptions): HttpService {
  const peers = new Map<number, { addr: SocketAddr; h2c: H2Peer }>();
  const target = (port: number): { addr: SocketAddr; h2c: H2Peer } => {
    let t = peers.get(port);
    if (!t) {
      const addr = { ip: opts.appHost, port };
      peers.set(port, (t = { addr, h2c: { key: `app:${port}`, label: `app ${opts.appHost}:${port}`, origin: `http://${opts.appHost}:${port}` } }));
    }
    return t;
  };
  return (req) => {
    const named = req.headers[DST_PORT];
    const port = named !== undefined ? Number(named) : (req.conn.origDst?.port ?? opts.defaultAppPort);
    if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
      return Promise.reject(new BadRequestError('weft: inbound request has no application port (no original destination and no default)'));
    }
    if (named !== undefined || req.headers[ORIG_PROTO] !== undefined) {
      const headers = { ...req.headers };
      delete headers[DST_PORT];
      delete headers[ORIG_PROTO];
      req = { ...req, headers };
    }
    const t = target(port);
    return req.version === 'HTTP/2' ? opts.h2.request(t.h2c, req) : opts.h1.request(t.addr, req);
  };
}
