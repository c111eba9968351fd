/**
 * A stand-in for the weft proxy in viz and CLI tests, used while the real
 * proxy (proxy/) is built in parallel. It is not a mock of results: it serves
 * real HTTP, records real prom-client metrics with the contract's names and
 * labels (docs/contracts.md) for every request the test sends through it, and
 * runs a real `tap.Tap/Observe` gRPC server over mTLS that streams events for
 * those requests. mTLS between fixture proxies is not real: the client's
 * identity travels in a header and the hop is labelled `tls="true"`.
 *
 * Each fixture is a pod with an app: `inboundPort` serves the app (status and
 * delay per path), `outboundPort` forwards to one destination fixture.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomInt } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { create } from '@bufbuild/protobuf';
import { tap } from '@weft/api';
import { LATENCY_BUCKETS_MS } from '@weft/common/metrics';
import { startGrpcServer, type GrpcServer, type TlsMaterial } from '@weft/common/grpc';
import type { ProxyTarget } from '../targets.js';
import type { WorkloadKind } from '../resource.js';

const CLIENT_ID_HEADER = 'x-fixture-client-id';

export interface FixtureProxyOptions {
  readonly namespace: string;
  readonly pod: string;
  readonly workload: { readonly kind: WorkloadKind; readonly name: string };
  readonly service?: string;
  /** DNS identity; the tap server's certificate must carry it. */
  readonly identity: string;
  readonly tapTls: TlsMaterial;
  /** The app: delay and status for a request path. */
  readonly app?: (path: string) => { status: number; delayMs: number };
}

export interface FixtureProxy {
  readonly target: ProxyTarget;
  readonly opts: FixtureProxyOptions;
  readonly inboundUrl: string;
  readonly outboundUrl: string;
  /** Lets the outbound side reach `dst`, chosen by the first label of the Host header (`books.shop.svc...`). */
  routeTo(dst: FixtureProxy): void;
  close(): Promise<void>;
}

type Observer = { match: tap.Match; remaining: number; push: (e: tap.TapEvent) => void };

const BASE_LABELS = ['namespace', 'pod', 'deployment', 'statefulset', 'daemonset', 'direction', 'authority', 'tls', 'client_id', 'server_id', 'dst_namespace', 'dst_deployment', 'dst_pod', 'dst_service'];
const RESPONSE_LABELS = [...BASE_LABELS, 'status_code', 'classification'];

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

function routeOf(method: string, path: string): string {
  return `${method} /${path.split(/[/?]/)[1] ?? ''}`;
}

export async function startFixtureProxy(opts: FixtureProxyOptions): Promise<FixtureProxy> {
  const registry = new Registry();
  const m = {
    requests: new Counter({ name: 'request_total', help: 'requests', labelNames: BASE_LABELS, registers: [registry] }),
    responses: new Counter({ name: 'response_total', help: 'responses', labelNames: RESPONSE_LABELS, registers: [registry] }),
    latency: new Histogram({ name: 'response_latency_ms', help: 'latency', labelNames: RESPONSE_LABELS, buckets: LATENCY_BUCKETS_MS, registers: [registry] }),
    routeRequests: new Counter({ name: 'route_request_total', help: 'route requests', labelNames: [...BASE_LABELS, 'rt_route', 'route_kind'], registers: [registry] }),
    routeResponses: new Counter({ name: 'route_response_total', help: 'route responses', labelNames: [...RESPONSE_LABELS, 'rt_route', 'route_kind'], registers: [registry] }),
    routeLatency: new Histogram({ name: 'route_response_latency_ms', help: 'route latency', labelNames: [...RESPONSE_LABELS, 'rt_route', 'route_kind'], buckets: LATENCY_BUCKETS_MS, registers: [registry] }),
    tcpOpen: new Gauge({ name: 'tcp_open_connections', help: 'open connections', labelNames: [...BASE_LABELS, 'peer'], registers: [registry] }),
  };
  const own = { namespace: opts.namespace, pod: opts.pod, [opts.workload.kind]: opts.workload.name };
  const observers = new Set<Observer>();
  const base = BigInt(randomInt(1, 2 ** 31));
  let nextStream = 0n;
  const dsts = new Map<string, FixtureProxy>();

  // Like the real proxy, a request is tapped by the observers that match it when it starts.
  const subscribersOf = (match: { method: string; path: string; authority: string }): Observer[] =>
    [...observers].filter(
      (o) => (!o.match.method || o.match.method === match.method) && (!o.match.pathPrefix || match.path.startsWith(o.match.pathPrefix)) && (!o.match.authority || o.match.authority === match.authority),
    );
  const emit = (subs: readonly Observer[], make: () => tap.TapEvent) => {
    if (subs.length === 0) return;
    const event = make();
    for (const o of subs) if (observers.has(o)) o.push(event);
  };

  const record = (
    direction: 'inbound' | 'outbound',
    req: http.IncomingMessage,
    labels: Record<string, string>,
    run: () => Promise<{ status: number; bytes: number }>,
    peer: { client: string; server: string; src: string; dst: string },
  ) => {
    const started = process.hrtime.bigint();
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const authority = req.headers.host ?? '';
    const l = { ...own, direction, authority, ...labels };
    const rt = routeOf(method, path);
    m.requests.inc(l);
    m.routeRequests.inc({ ...l, rt_route: rt, route_kind: 'ServiceProfile' });
    const id = create(tap.StreamIdSchema, { base, stream: nextStream++ });
    const meta = { direction: direction === 'inbound' ? tap.TapEvent_Direction.INBOUND : tap.TapEvent_Direction.OUTBOUND, tls: true, clientIdentity: peer.client, serverIdentity: peer.server, source: { ip: '127.0.0.1', port: Number(peer.src) }, destination: { ip: '127.0.0.1', port: Number(peer.dst) }, sourceMeta: {}, destinationMeta: { namespace: opts.namespace, pod: opts.pod } };
    const subs = subscribersOf({ method, path, authority });
    emit(subs, () => create(tap.TapEventSchema, { ...meta, event: { case: 'requestInit', value: { id, method, scheme: 'http', authority, path } } }));
    return run().then(({ status, bytes }) => {
      const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
      const rl = { ...l, status_code: String(status), classification: status >= 500 ? 'failure' : 'success' };
      m.responses.inc(rl);
      m.latency.observe(rl, elapsedMs);
      m.routeResponses.inc({ ...rl, rt_route: rt, route_kind: 'ServiceProfile' });
      m.routeLatency.observe({ ...rl, rt_route: rt, route_kind: 'ServiceProfile' }, elapsedMs);
      const since = { seconds: BigInt(Math.floor(elapsedMs / 1000)), nanos: Math.round((elapsedMs % 1000) * 1e6) };
      emit(subs, () => create(tap.TapEventSchema, { ...meta, event: { case: 'responseInit', value: { id, sinceRequestInit: since, httpStatus: status } } }));
      emit(subs, () => create(tap.TapEventSchema, { ...meta, event: { case: 'responseEnd', value: { id, sinceRequestInit: since, responseBytes: BigInt(bytes), requestBytes: 0n } } }));
    });
  };

  const inbound = http.createServer((req, res) => {
    const clientId = (req.headers[CLIENT_ID_HEADER] as string | undefined) ?? '';
    const { status, delayMs } = opts.app?.(req.url ?? '/') ?? { status: 200, delayMs: 0 };
    req.resume();
    void record(
      'inbound',
      req,
      clientId ? { tls: 'true', client_id: clientId } : { tls: 'no_identity' },
      () =>
        new Promise((resolve) =>
          setTimeout(() => {
            const body = `${opts.pod} ${status}\n`;
            res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
            resolve({ status, bytes: body.length });
          }, delayMs),
        ),
      { client: clientId, server: opts.identity, src: String(req.socket.remotePort ?? 0), dst: String(req.socket.localPort ?? 0) },
    );
  });
  inbound.on('connection', (socket) => {
    const l = { ...own, direction: 'inbound', tls: 'true', peer: 'src' };
    m.tcpOpen.inc(l);
    socket.once('close', () => m.tcpOpen.dec(l));
  });

  const outbound = http.createServer((req, res) => {
    const d = dsts.get((req.headers.host ?? '').split('.')[0]!);
    if (!d) {
      res.writeHead(502).end('no destination\n');
      return;
    }
    const labels = { tls: 'true', server_id: d.opts.identity, dst_namespace: d.opts.namespace, [`dst_${d.opts.workload.kind}`]: d.opts.workload.name, dst_pod: d.opts.pod, ...(d.opts.service ? { dst_service: d.opts.service } : {}) };
    void record(
      'outbound',
      req,
      labels,
      () =>
        new Promise((resolve) => {
          const up = http.request(d.inboundUrl + (req.url ?? '/'), { method: req.method, headers: { host: req.headers.host ?? '', [CLIENT_ID_HEADER]: opts.identity } }, (upRes) => {
            const chunks: Buffer[] = [];
            upRes.on('data', (c: Buffer) => chunks.push(c));
            upRes.on('end', () => {
              const body = Buffer.concat(chunks);
              res.writeHead(upRes.statusCode ?? 502, { 'content-type': 'text/plain' }).end(body);
              resolve({ status: upRes.statusCode ?? 502, bytes: body.length });
            });
          });
          up.on('error', () => {
            res.writeHead(502).end('upstream failed\n');
            resolve({ status: 502, bytes: 0 });
          });
          req.pipe(up);
        }),
      { client: opts.identity, server: d.opts.identity, src: String(req.socket.remotePort ?? 0), dst: '0' },
    );
  });

  const admin = http.createServer((req, res) => {
    if (req.url === '/metrics') {
      void registry.metrics().then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body));
    } else res.writeHead(404).end();
  });

  const tapServer: GrpcServer = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    tls: opts.tapTls,
    requireClientCert: true,
    routes(router) {
      router.service(tap.Tap, {
        async *observe(req, ctx) {
          const queue: tap.TapEvent[] = [];
          let wake: (() => void) | undefined;
          const o: Observer = { match: req.match ?? create(tap.MatchSchema), remaining: req.limit || Infinity, push: (e) => (queue.push(e), wake?.()) };
          observers.add(o);
          ctx.signal.addEventListener('abort', () => wake?.(), { once: true });
          try {
            while (!ctx.signal.aborted) {
              const e = queue.shift();
              if (e) {
                yield e;
                if (e.event.case === 'responseEnd' && --o.remaining <= 0) return;
                continue;
              }
              await new Promise<void>((r) => (wake = r));
            }
          } finally {
            observers.delete(o);
          }
        },
      });
    },
  });

  const [inPort, outPort, adminPort] = await Promise.all([listen(inbound), listen(outbound), listen(admin)]);
  return {
    opts,
    target: { name: opts.pod, namespace: opts.namespace, workload: opts.workload, adminAddr: `127.0.0.1:${adminPort}`, tapAddr: `127.0.0.1:${tapServer.port}`, identity: opts.identity },
    inboundUrl: `http://127.0.0.1:${inPort}`,
    outboundUrl: `http://127.0.0.1:${outPort}`,
    routeTo(d) {
      dsts.set(d.opts.workload.name, d);
    },
    async close() {
      for (const s of [inbound, outbound, admin]) s.closeAllConnections();
      await Promise.all([...[inbound, outbound, admin].map((s) => new Promise((r) => s.close(r))), tapServer.close()]);
    },
  };
}
