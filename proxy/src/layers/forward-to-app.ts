/**
 * Inbound, last layer: hands the request to the application in the pod, in
 * the version the original client spoke (an HTTP/1 request that crossed the
 * mesh as HTTP/2 is restored to HTTP/1; an HTTP/1 Upgrade is asked for with
 * node:http and, on 101, joined to the client's connection). Where it goes is decided by
 * inbound/app-target.ts, the same decision the authorize layer checked.
 */
import type { HttpService, SocketAddr } from '../svc.js';
import type { H2Pool, H2Peer } from '../http/h2-client.js';
import type { Http1Client } from '../http/h1-client.js';
import { DST_PORT, ORIG_PROTO } from '../http/headers.js';
import { BadRequestError } from '../errors.js';
import { httpAppTarget, type AppTargetOptions } from '../inbound/app-target.js';
import { requestUpgrade } from '../http/upgrade.js';

export interface ForwardToAppOptions {
  readonly target: AppTargetOptions;
  readonly h2: H2Pool;
  readonly h1: Http1Client;
}

export function forwardToApp(opts: ForwardToAppOptions): HttpService {
  const peers = new Map<string, H2Peer>();
  // App targets are shared objects (app-target.ts): found by identity first, without a key string.
  const byAddr = new WeakMap<SocketAddr, H2Peer>();
  const h2Peer = (addr: SocketAddr): H2Peer => {
    let p = byAddr.get(addr);
    if (p !== undefined) return p;
    const key = `app:${addr.ip}:${addr.port}`;
    p = peers.get(key);
    if (!p) {
      const host = addr.ip.includes(':') ? `[${addr.ip}]` : addr.ip;
      peers.set(key, (p = { key, label: `app ${host}:${addr.port}`, origin: `http://${host}:${addr.port}` }));
    }
    byAddr.set(addr, p);
    return p;
  };
  return (req) => {
    const t = httpAppTarget(req, opts.target);
    // The authorize layer refused these already; this layer never connects anywhere else.
    if (t.refused !== undefined) return Promise.reject(new BadRequestError(`weft: ${t.refused}`));
    if (req.headers[DST_PORT] !== undefined || req.headers[ORIG_PROTO] !== undefined) {
      const headers = { ...req.headers };
      delete headers[DST_PORT];
      delete headers[ORIG_PROTO];
      req = { ...req, headers };
    }
    if (req.upgrade !== undefined) return requestUpgrade(t.addr, req);
    return req.version === 'HTTP/2' ? opts.h2.request(h2Peer(t.addr), req) : opts.h1.request(t.addr, req);
  };
}
