/**
 * How a demo app reaches the next service. In a network namespace the app
 * dials the service name and iptables hands the connection to its weft
 * proxy; on loopback (not root) it dials its proxy's outbound port directly
 * and names the service in Host / :authority, which weft routes on.
 */
import http from 'node:http';
import net from 'node:net';

export interface Upstream {
  /** `http://name.ns.svc.cluster.local:port` */
  readonly url: string;
  /** `127.0.0.1:port` of the pod's proxy outbound listener, when not intercepted by iptables. */
  readonly via: string | undefined;
}

export function parseUpstream(url: string, via: string | undefined): Upstream {
  const u = new URL(url);
  if (u.protocol !== 'http:' || !u.port) throw new Error(`upstream "${url}" must be http://host:port`);
  if (via !== undefined && !/^[^:]+:\d+$/.test(via)) throw new Error(`--via "${via}" must be host:port`);
  return { url, via };
}

/** A socket factory for clients that must dial the proxy instead of the service. */
export function dialer(up: Upstream): (() => net.Socket) | undefined {
  if (!up.via) return undefined;
  const [host, port] = up.via.split(':');
  return () => net.connect(Number(port), host!);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * The W3C trace context of the request being served, to send on with the calls it makes: what an
 * OpenTelemetry SDK's propagator does, so the proxies' spans of one user request form one trace.
 */
export function traceContext(get: (name: string) => string | string[] | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['traceparent', 'tracestate']) {
    const v = get(name);
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}

/** GET over HTTP/1.1 through the mesh; resolves with status and body. */
export function httpGet(up: Upstream, path: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const target = new URL(path, up.url);
  const dial = dialer(up);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: dial ? up.via!.split(':')[0] : target.hostname,
        port: dial ? Number(up.via!.split(':')[1]) : Number(target.port),
        path: target.pathname + target.search,
        method: 'GET',
        headers: { ...headers, host: target.host },
        agent,
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${target.href} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
