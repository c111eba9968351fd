/**
 * Header handling shared by the HTTP/1 and HTTP/2 sides: hop-by-hop headers
 * are connection-specific (RFC 9110 §7.6.1) and illegal in HTTP/2 (RFC 9113
 * §8.2.2), so they never cross the proxy; `te: trailers` is the one exception
 * gRPC needs. `Trailer` is end-to-end (RFC 9110 §6.6.2): it tells the HTTP/2
 * hop between proxies to wait for the response trailers.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { HEADERS } from '@weft/api/names';
import type { Headers } from '../svc.js';

/** The hop-by-hop fields (and `host`, which HTTP/2 carries as `:authority`): never forwarded as they are. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'host',
  // The proxy answers `Expect: 100-continue` itself (Node's server sends the 100), so it does not travel further.
  'expect',
  // HTTP/2 pseudo-header-like header some HTTP/1 clients send.
  'http2-settings',
]);

/** The names the usual `Connection` values list, as the general case below would split them. */
const COMMON_CONNECTION = new Map<string, ReadonlySet<string>>(['keep-alive', 'close', 'upgrade'].map((v) => [v, new Set([v])]));

/** Marks an HTTP/1 request carried as HTTP/2 between proxies, so the far side restores HTTP/1 (value: `HTTP/1.1`). */
export const ORIG_PROTO = HEADERS.origProto;
/** The application port on the peer pod a mesh request is for (the peer's inbound proxy forwards there). */
export const DST_PORT = HEADERS.dstPort;
/** Added by the inbound proxy for the application: the client's mesh identity (DNS form). */
export const CLIENT_ID = HEADERS.clientId;

/**
 * Copies end-to-end headers: drops hop-by-hop ones, those named by
 * `Connection`, HTTP/2 pseudo-headers and weft's own inter-proxy headers
 * (a client must not be able to spoof them).
 */
export function endToEnd(src: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Headers {
  const out: Headers = {};
  const named = connectionNames(src.connection);
  for (const name in src) {
    const value = src[name];
    if (value !== undefined && kept(name, value, named)) out[name] = value;
  }
  return out;
}

function connectionNames(conn: string | string[] | undefined): ReadonlySet<string> | undefined {
  if (typeof conn !== 'string' || conn.length === 0) return undefined;
  // The common single values share a set instead of building one per message.
  const lower = conn.toLowerCase();
  return COMMON_CONNECTION.get(lower) ?? new Set(lower.split(',').map((s) => s.trim()));
}

function kept(name: string, value: string | string[], named: ReadonlySet<string> | undefined): boolean {
  if (name.charCodeAt(0) === 58 /* ':' */) return false;
  // `te: trailers` is the one hop-by-hop field that travels (gRPC needs it).
  if (HOP_BY_HOP.has(name) || named?.has(name)) return name === 'te' && value === 'trailers';
  return !isWeftName(name);
}

/**
 * One of weft's own fields, as an application may read it: `weft-…`, and `weft_…`, which CGI-style servers (WSGI,
 * Rack, PHP) read under the same name (`HTTP_WEFT_CLIENT_ID`), so a client's `weft_client_id` would otherwise pass
 * for the identity the inbound proxy vouches for. Names are lowercase here.
 */
export function isWeftName(name: string): boolean {
  const sep = name.charCodeAt(4);
  return (sep === 45 /* - */ || sep === 95) /* _ */ && name.startsWith('weft');
}
