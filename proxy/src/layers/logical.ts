/**
 * Outbound: names the logical target of a request. With an original
 * destination (iptables) it is that `ip:port`, which destination resolves
 * to its service; without one (explicit mode: tests, non-root demo) it is
 * the request's Host / :authority, with the scheme's default port.
 */
import type { HttpService, Logical, NewHttp } from '../svc.js';
import { BadRequestError } from '../errors.js';

export function logicalFromRequest(inner: NewHttp<Logical>): HttpService {
  return (req) => {
    const orig = req.conn.origDst;
    let authority: string;
    if (orig) authority = `${orig.ip.includes(':') ? `[${orig.ip}]` : orig.ip}:${orig.port}`;
    else if (req.authority) authority = normalizeAuthority(req.authority);
    else return Promise.reject(new BadRequestError('weft: request has no Host/:authority and no original destination'));
    return inner({ authority, protocol: req.version === 'HTTP/2' ? 'http2' : 'http1', origDst: orig })(req);
  };
}

/** Lower-cases the host and adds port 80 when absent (`web.ns.svc` → `web.ns.svc:80`). */
export function normalizeAuthority(authority: string): string {
  const a = authority.toLowerCase();
  if (a.startsWith('[')) return a.includes(']:') ? a : `${a}:80`;
  return a.includes(':') ? a : `${a}:80`;
}
