/**
 * Sends an HttpRequest over HTTP/1.1 and returns the response as an
 * HttpResponse. Used for the last hop to an HTTP/1 application and for
 * unmeshed HTTP/1 endpoints. undici's keep-alive pools (one per address)
 * cost far less CPU per request than node:http's client.
 *
 * undici (with its WebAssembly HTTP parser) adds ~20 MiB RSS, so it is
 * loaded on the first HTTP/1 request, not at start: an idle proxy, or one
 * whose traffic is all HTTP/2 or opaque, never pays for it.
 */
import { PassThrough } from 'node:stream';
import type { Agent } from 'undici';
import type { Headers, HttpRequest, HttpResponse, SocketAddr } from '../svc.js';
import { EndpointError } from '../errors.js';
import { endToEnd } from './headers.js';

const MAX_CONNECTIONS_PER_ORIGIN = 128;

export class Http1Client {
  private undici: Undici | undefined;
  private loading: Promise<Undici> | undefined;
  private closed = false;
  private readonly origins = new Map<string, string>();

  private load(): Promise<Undici> {
    return (this.loading ??= import('undici').then((mod) => {
      // At most MAX_CONNECTIONS_PER_ORIGIN sockets per address: a flood of streams on one client connection queues
      // here instead of becoming thousands of connections to the application.
      const agent = new mod.Agent({ keepAliveTimeout: 10_000, pipelining: 1, connections: MAX_CONNECTIONS_PER_ORIGIN, connect: { noDelay: true } });
      if (this.closed) void agent.destroy();
      return (this.undici = { agent, RequestAbortedError: mod.errors.RequestAbortedError });
    }));
  }

  /** `extraHeaders` are added for the application (e.g. the client's identity). */
  async request(addr: SocketAddr, req: HttpRequest, extraHeaders?: Headers): Promise<HttpResponse> {
    const key = `${addr.ip}:${addr.port}`;
    let origin = this.origins.get(key);
    if (!origin) this.origins.set(key, (origin = `http://${addr.ip.includes(':') ? `[${addr.ip}]` : addr.ip}:${addr.port}`));
    const headers: Record<string, string | string[]> = extraHeaders ? { ...req.headers, ...extraHeaders } : { ...req.headers };
    headers.host = req.authority;
    delete headers.te; // `te: trailers` is an HTTP/2 (gRPC) signal; HTTP/1 servers do not need it
    const undici = this.undici ?? (await this.load());
    try {
      const res = await undici.agent.request({
        origin,
        path: req.path,
        method: req.method as 'GET',
        headers,
        // undici destroys a body stream it has consumed; the request body is our server's stream (destroying it would kill the response), so hand over a copy.
        body: req.bodyless ? undefined : req.body.pipe(new PassThrough()),
        signal: req.signal,
      });
      return {
        status: res.statusCode,
        headers: endToEnd(res.headers as Record<string, string | string[] | undefined>),
        body: res.body,
        trailers: () => (Object.keys(res.trailers).length > 0 ? (res.trailers as Headers) : undefined),
        resetCode: () => undefined,
      };
    } catch (err) {
      if (err instanceof undici.RequestAbortedError || req.signal.aborted) throw new EndpointError(key, new Error('client went away'));
      throw new EndpointError(key, err);
    }
  }

  close(): void {
    this.closed = true;
    if (this.undici) void this.undici.agent.destroy();
  }
}

interface Undici {
  readonly agent: Agent;
  readonly RequestAbortedError: abstract new (...args: never[]) => Error;
}
