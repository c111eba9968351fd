/**
 * HTTP/2 client sessions, one multiplexed session per peer, reused for every
 * request to it: to peer proxies over mTLS (ALPN `weft.h2`), to HTTP/2
 * applications (gRPC) over cleartext h2c. A session that closes or errors is
 * dropped and reconnected on the next request.
 */
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Headers, HttpRequest, HttpResponse } from '../svc.js';
import { EndpointError } from '../errors.js';
import { StreamReset } from './server.js';
import { endToEnd } from './headers.js';

const { NGHTTP2_CANCEL } = http2.constants;

export interface H2Peer {
  /** Pool key: address plus the identity we expect, so a changed identity never reuses a session. */
  readonly key: string;
  readonly label: string;
  /** `http://ip:port` for h2c; with `connect`, the authority used only for the session's origin. */
  readonly origin: string;
  /** Opens the transport (TLS to a peer proxy); absent for cleartext h2c. */
  readonly connect?: () => Duplex;
}

/** An h2c connection without Nagle: small frames (HEADERS, WINDOW_UPDATE) must not wait for the previous ACK. */
function cleartext(authority: URL): Duplex {
  const host = authority.hostname.startsWith('[') ? authority.hostname.slice(1, -1) : authority.hostname;
  return net.connect({ host, port: Number(authority.port || 80), noDelay: true });
}

export class H2Pool {
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();

  private session(peer: H2Peer): http2.ClientHttp2Session {
    const existing = this.sessions.get(peer.key);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const opts: http2.ClientSessionOptions = { maxSessionMemory: 64, peerMaxConcurrentStreams: 1000 };
    // Cleartext h2c too gets its socket from us, to turn Nagle off (Node's session socket refuses setNoDelay).
    opts.createConnection = peer.connect ?? cleartext;
    const session = http2.connect(peer.origin, opts);
    const forget = (): void => {
      if (this.sessions.get(peer.key) === session) this.sessions.delete(peer.key);
    };
    session.on('error', forget);
    session.on('close', forget);
    session.on('goaway', forget);
    // An idle pooled session must not keep the process alive.
    session.unref();
    this.sessions.set(peer.key, session);
    return session;
  }

  request(peer: H2Peer, req: HttpRequest, extraHeaders?: Headers): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        const headers: http2.OutgoingHttpHeaders = { ':method': req.method, ':path': req.path, ':authority': req.authority, ':scheme': req.scheme };
        for (const name in req.headers) headers[name] = req.headers[name];
        if (extraHeaders) for (const name in extraHeaders) headers[name] = extraHeaders[name];
        stream = this.session(peer).request(headers, { endStream: req.bodyless });
      } catch (err) {
        reject(new EndpointError(peer.label, err));
        return;
      }
      let trailers: Headers | undefined;
      let responded = false;
      stream.once('response', (headers, flags) => {
        responded = true;
        const status = Number(headers[':status'] ?? 502);
        resolve({
          status,
          headers: endToEnd(headers),
          body: stream,
          proxyError: headers['weft-proxy-error'] as string | undefined,
          trailers: () => trailers,
          resetCode: () => (stream.rstCode === undefined || stream.rstCode === 0 ? undefined : stream.rstCode),
          // A reset while our request was still going may follow a complete response (a server stopping an upload);
          // after our request was fully sent (writableFinished) it can only cut the response off.
          cutOff: () => (req.bodyless || stream.writableFinished) && trailers === undefined && stream.rstCode !== undefined && stream.rstCode !== 0,
        });
        void flags;
      });
      stream.once('trailers', (t) => {
        trailers = endToEnd(t);
      });
      stream.on('error', (err) => {
        if (!responded) reject(new EndpointError(peer.label, err));
      });
      stream.once('close', () => {
        req.signal.removeEventListener('abort', onAbort);
        if (!responded) reject(new EndpointError(peer.label, new Error(`stream closed before a response (code ${stream.rstCode})`)));
      });
      const onAbort = (): void => {
        // Propagate the client's RST_STREAM code upstream (gRPC cancellation).
        const reason = req.signal.reason;
        if (!stream.closed) stream.close(reason instanceof StreamReset ? reason.code : NGHTTP2_CANCEL);
      };
      if (req.signal.aborted) onAbort();
      else req.signal.addEventListener('abort', onAbort, { once: true });
      if (!req.bodyless) req.body.pipe(stream);
    });
  }

  close(): void {
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }
}
