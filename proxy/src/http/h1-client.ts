/**
 * Sends an HttpRequest over HTTP/1.1 (keep-alive pool per address) and
 * returns the response as an HttpResponse. Used for the last hop to an
 * HTTP/1 application and for unmeshed HTTP/1 endpoints.
 */
import http from 'node:http';
import type { Headers, HttpRequest, HttpResponse, SocketAddr } from '../svc.js';
import { EndpointError } from '../errors.js';
import { StreamReset } from './server.js';
import { endToEnd } from './headers.js';

export class Http1Client {
  private readonly agent = new http.Agent({ keepAlive: true, maxFreeSockets: 64, scheduling: 'lifo' });

  /** `extraHeaders` are added for the application (e.g. the client's identity). */
  request(addr: SocketAddr, req: HttpRequest, extraHeaders?: Headers): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { ...req.headers, ...extraHeaders, host: req.authority };
      delete headers.te; // `te: trailers` is an HTTP/2 (gRPC) signal; HTTP/1 servers do not need it
      const out = http.request({ host: addr.ip, port: addr.port, method: req.method, path: req.path, headers, agent: this.agent, setHost: false });
      let responded = false;
      out.once('response', (res) => {
        responded = true;
        resolve({
          status: res.statusCode ?? 502,
          headers: endToEnd(res.headers),
          body: res,
          trailers: () => (Object.keys(res.trailers).length > 0 ? (res.trailers as Headers) : undefined),
          resetCode: () => undefined,
        });
        res.once('aborted', () => res.destroy(new Error('upstream closed the connection mid-response')));
      });
      out.on('error', (err) => {
        if (!responded) reject(new EndpointError(`${addr.ip}:${addr.port}`, err));
      });
      const onAbort = (): void => {
        out.destroy(req.signal.reason instanceof StreamReset ? req.signal.reason : new Error('client went away'));
      };
      if (req.signal.aborted) onAbort();
      else req.signal.addEventListener('abort', onAbort, { once: true });
      out.once('close', () => req.signal.removeEventListener('abort', onAbort));
      if (req.bodyless) out.end();
      else req.body.pipe(out);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
