/**
 * HTTP/1.1 Upgrade (RFC 9110 §7.8), WebSocket's way in. An upgrade request is
 * an ordinary request until the server answers `101 Switching Protocols`;
 * after that the connection carries the new protocol's bytes. weft parses the
 * request like any other (policy, header stripping, metrics, tap see it),
 * asks the application with node:http, and on 101 joins the two connections.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import { WeftError } from '@weft/common/errors';
import type { HttpRequest, HttpResponse, SocketAddr } from '../svc.js';
import { EndpointError } from '../errors.js';
import { endToEnd } from './headers.js';
import { pipeBoth } from '../transport/pipe.js';

/** The request head to send for an upgrade: Host from the authority, Connection/Upgrade restored, weft-* already gone. */
export function upgradeHead(req: HttpRequest): string {
  let head = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${req.authority}\r\nconnection: upgrade\r\nupgrade: ${req.upgrade ?? ''}\r\n`;
  for (const [name, value] of Object.entries(req.headers)) {
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
  }
  return `${head}\r\n`;
}

/**
 * The protocols an upgrade may switch to at the application: all the client offered but `h2c`. An HTTP/2 connection
 * that began as an HTTP/1 upgrade would carry requests the proxy never parses, so their `weft-client-id` and every
 * other header would reach the application as the client wrote them (h2c smuggling); without it the request is an
 * ordinary one (curl's `--http2` offer on an http:// URL gets its HTTP/1.1 answer). HTTP/2 reaches applications
 * through the proxy's own HTTP/2 server instead (prior knowledge, or the mesh).
 */
export function upgradeProtocols(upgrade: string | undefined): string {
  if (upgrade === undefined) return '';
  return upgrade
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '' && p.toLowerCase() !== 'h2c')
    .join(', ');
}

/** Sends the upgrade request to the application; resolves with its answer (a 101 carries the application's socket). */
export function requestUpgrade(addr: SocketAddr, req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const key = `${addr.ip}:${addr.port}`;
    const protocols = upgradeProtocols(req.upgrade);
    const out = http.request({
      host: addr.ip,
      port: addr.port,
      method: req.method,
      path: req.path,
      agent: false,
      headers: protocols === '' ? { ...req.headers, host: req.authority } : { ...req.headers, host: req.authority, connection: 'upgrade', upgrade: protocols },
    });
    // The client went away before the application answered: the request to it goes too.
    const onAbort = (): void => void out.destroy(new Error('client went away'));
    if (req.signal.aborted) onAbort();
    else {
      req.signal.addEventListener('abort', onAbort, { once: true });
      out.once('close', () => req.signal.removeEventListener('abort', onAbort));
    }
    out.on('upgrade', (res: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (protocols === '') {
        // Asked for nothing to switch to (an h2c offer, withheld): a 101 anyway is not joined.
        socket.destroy();
        reject(new Error('weft: the application switched protocols on a request that offered it none'));
        return;
      }
      const headers = endToEnd(res.headers);
      if (res.headers.upgrade !== undefined) headers.upgrade = res.headers.upgrade;
      resolve({ status: 101, headers, body: Readable.from([]), trailers: () => undefined, resetCode: () => undefined, upgraded: { socket, head } });
    });
    out.on('response', (res: http.IncomingMessage) => {
      // The application declined the upgrade: an ordinary response.
      resolve({ status: res.statusCode ?? 502, headers: endToEnd(res.headers), body: res, trailers: () => undefined, resetCode: () => undefined });
    });
    out.on('error', (err) => reject(new EndpointError(key, err)));
    out.end();
  });
}

/**
 * Writes the answer to an upgrade on the client's raw connection: `101` and
 * the joined connections, or the response the application gave instead,
 * after which the connection closes (it left the HTTP server's hands).
 */
export function writeUpgradeResponse(socket: Duplex, rsp: HttpResponse): void {
  let head = `HTTP/1.1 ${rsp.status} ${http.STATUS_CODES[rsp.status] ?? ''}\r\n`;
  if (rsp.upgraded) head += 'connection: upgrade\r\n';
  else head += 'connection: close\r\n';
  for (const [name, value] of Object.entries(rsp.headers)) {
    if (!rsp.upgraded && name === 'content-length') continue;
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
  }
  socket.write(`${head}\r\n`);
  if (rsp.upgraded) {
    rsp.body.resume();
    const app = rsp.upgraded.socket;
    app.on('error', () => undefined);
    if (rsp.upgraded.head.length > 0) socket.write(rsp.upgraded.head);
    void pipeBoth(socket, app);
    return;
  }
  // Without a length, the end of the connection ends the body.
  rsp.body.pipe(socket);
  rsp.body.on('error', () => socket.destroy());
}

export function writeUpgradeError(socket: Duplex, err: unknown): void {
  const status = err instanceof WeftError ? err.httpStatus : 502;
  const body = `${(err as Error).message}\n`;
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nweft-proxy-error: 1\r\n\r\n${body}`);
}
