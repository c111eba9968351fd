/**
 * The proxy's way to its OTLP/HTTP collector: its own HTTP/1 client (http/h1-client.ts), one kept-alive connection
 * (TLS for an `https` collector, verified against the runtime's CAs as fetch would), with the control plane's connect
 * bounds (COLLECTOR_BOUNDS), not the 1 s the proxy gives pod endpoints.
 *
 * The control plane sends with Node's fetch. In a proxy, fetch's first call loads Node's bundled HTTP client and
 * its web streams: a proxy exporting with it held 71–73 MiB after load against 55–60 on this client, at the same
 * CPU per request (docs/tracing.md, Cost). This client is code the proxy runs on every request anyway. It has a
 * pool of its own: at shutdown the proxy closes its endpoint clients before the exporter's last flush.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { ConnectBounds } from '@weft/common/connect-bound';
import { boundConnect } from '@weft/common/connect-bound';
import { CONTROL_PLANE_LIVENESS } from '@weft/common/grpc';
import type { CollectorAnswer, CollectorClient } from '@weft/common/trace/exporter';
import { Http1Client, type H1Target } from '../http/h1-client.js';
import { wholeBody } from '../http/whole-body.js';
import type { ConnMeta, HttpResponse } from '../svc.js';

const NOWHERE = { ip: '0.0.0.0', port: 0 };
/** The export is the proxy's own request: no accepted connection behind it. */
const OWN: ConnMeta = { direction: 'outbound', client: NOWHERE, local: NOWHERE, origDst: undefined, tls: { identity: undefined } };

/**
 * A collector is reached as the control plane is (a name to resolve, a Service between), and an export has no other
 * endpoint to go to: a connect lost once (one SYN dropped, retransmitted by the kernel after 1 s) must not fail the
 * send, as it would under the proxy's 1 s bound for endpoints (the exporter's retries then wait seconds, and a last
 * send's failure loses the batch). So 10 s, as fetch allows and as the control-plane clients have
 * (@weft/common/grpc); the export's own timeout bounds the whole POST.
 */
export const COLLECTOR_BOUNDS: ConnectBounds = CONTROL_PLANE_LIVENESS.connect;

/** `url`: the collector's traces URL as config.ts `collectorUrl` checked it (http or https, with a path). */
export function h1Collector(url: string, bounds: ConnectBounds = COLLECTOR_BOUNDS): CollectorClient {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port === '' ? (secure ? 443 : 80) : Number(u.port);
  const label = `trace collector ${u.host}`;
  const target: H1Target = {
    key: `collector ${url}`,
    label,
    connect(onread) {
      if (!secure) return boundConnect(net.connect({ host, port, onread }), label, bounds);
      // (`onread` is honoured by tls.connect, as transport/tls.ts says, but missing from its option type.)
      const options: tls.ConnectionOptions & { readonly onread: net.OnReadOpts } = { host, port, servername: net.isIP(host) === 0 ? host : undefined, ALPNProtocols: ['http/1.1'], onread };
      return boundConnect(tls.connect(options), label, bounds);
    },
  };
  const client = new Http1Client(bounds);
  const path = `${u.pathname}${u.search}`;
  return {
    async post(bytes, timeoutMs) {
      const signal = AbortSignal.timeout(timeoutMs);
      const rsp = await client.requestVia(target, {
        method: 'POST',
        scheme: secure ? 'https' : 'http',
        authority: u.host,
        path,
        headers: { 'content-type': 'application/x-protobuf', 'content-length': String(bytes.length) },
        body: Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]),
        bodyless: false,
        version: 'HTTP/1.1',
        signal,
        conn: OWN,
        startedAt: performance.now(),
      });
      return answer(rsp);
    },
    close() {
      client.close();
    },
  };
}

async function answer(rsp: HttpResponse): Promise<CollectorAnswer> {
  const type = rsp.headers['content-type'];
  const contentType = typeof type === 'string' ? type : '';
  const after = rsp.headers['retry-after'];
  const retryAfter = typeof after === 'string' ? after : undefined;
  const whole = wholeBody(rsp);
  if (whole !== undefined) return { status: rsp.status, contentType, retryAfter, body: typeof whole === 'string' ? Buffer.from(whole, 'latin1') : whole };
  const chunks: Buffer[] = [];
  for await (const chunk of rsp.body) chunks.push(chunk as Buffer);
  return { status: rsp.status, contentType, retryAfter, body: Buffer.concat(chunks) };
}
