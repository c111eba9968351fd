/**
 * The proxy's Prometheus families, Linkerd-compatible (docs/contracts.md), so
 * existing dashboards and PromQL work. Label children are bound once per
 * target (`forHttp` / `forTcp`) and reused for every request or connection;
 * the hot path only adds numbers (bound.ts: no label hashing per update).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS_MS } from '@weft/common/metrics';
import { BoundCounter, BoundGauge, BoundHistogram } from './bound.js';

export type Labels = Record<string, string>;

const DST_KINDS = ['deployment', 'statefulset', 'daemonset', 'replicaset', 'job', 'cronjob', 'replicationcontroller'];
/** Every label a target may carry; a child only sets the ones that apply (inbound: client_id; outbound: server_id, dst_*). */
const TARGET_LABELS = [
  'direction',
  'authority',
  'tls',
  'client_id',
  'server_id',
  'target_addr',
  'dst_namespace',
  'dst_pod',
  'dst_service',
  'dst_serviceaccount',
  ...DST_KINDS.map((k) => `dst_${k}`),
];
/** Distinct HTTP label sets kept per proxy before new ones are folded into `authority="(other)"`. */
export const MAX_TARGETS = 2000;
const TCP_LABELS = [...TARGET_LABELS.filter((l) => l !== 'authority'), 'peer'];

export class ProxyMetrics {
  readonly requestTotal: Counter<string>;
  readonly responseTotal: Counter<string>;
  readonly responseLatency: Histogram<string>;
  readonly tcpOpenTotal: Counter<string>;
  readonly tcpCloseTotal: Counter<string>;
  readonly tcpOpenConnections: Gauge<string>;
  readonly tcpReadBytes: Counter<string>;
  readonly tcpWriteBytes: Counter<string>;
  readonly tcpDuration: Histogram<string>;
  readonly detectTimeoutTotal: Counter<string>;
  private readonly httpTargets = new Map<string, HttpTargetMetrics>();
  private readonly tcpTargets = new Map<string, TcpTargetMetrics>();
  private overflow: HttpTargetMetrics | undefined;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    this.requestTotal = new Counter({ name: 'request_total', help: 'Total HTTP requests', labelNames: TARGET_LABELS, registers });
    this.responseTotal = new Counter({
      name: 'response_total',
      help: 'Total HTTP responses, by status and classification',
      labelNames: [...TARGET_LABELS, 'status_code', 'classification', 'grpc_status', 'error'],
      registers,
    });
    this.responseLatency = new Histogram({
      name: 'response_latency_ms',
      help: 'Time from request to response headers, in milliseconds',
      labelNames: [...TARGET_LABELS, 'status_code'],
      buckets: LATENCY_BUCKETS_MS,
      registers,
    });
    this.tcpOpenTotal = new Counter({ name: 'tcp_open_total', help: 'TCP connections opened', labelNames: TCP_LABELS, registers });
    this.tcpCloseTotal = new Counter({ name: 'tcp_close_total', help: 'TCP connections closed', labelNames: [...TCP_LABELS, 'errno'], registers });
    this.tcpOpenConnections = new Gauge({ name: 'tcp_open_connections', help: 'TCP connections currently open', labelNames: TCP_LABELS, registers });
    this.tcpReadBytes = new Counter({ name: 'tcp_read_bytes_total', help: 'Bytes read from peers', labelNames: TCP_LABELS, registers });
    this.tcpWriteBytes = new Counter({ name: 'tcp_write_bytes_total', help: 'Bytes written to peers', labelNames: TCP_LABELS, registers });
    this.tcpDuration = new Histogram({
      name: 'tcp_connection_duration_ms',
      help: 'Connection lifetimes, in milliseconds',
      labelNames: [...TCP_LABELS, 'errno'],
      buckets: LATENCY_BUCKETS_MS,
      registers,
    });
    this.detectTimeoutTotal = new Counter({
      name: 'detect_timeout_total',
      help: 'Connections whose client sent nothing within the protocol detection timeout (forwarded as opaque TCP after it)',
      labelNames: ['direction'],
      registers,
    });
  }

  /**
   * Children for one HTTP target, bound once and cached by `key`. The
   * authority comes from clients (Host), so the number of targets is capped:
   * past the cap, new targets share one child with `authority="(other)"`
   * instead of growing memory and series without bound.
   */
  forHttp(key: string, labels: () => Labels): HttpTargetMetrics {
    let m = this.httpTargets.get(key);
    if (!m) {
      if (this.httpTargets.size >= MAX_TARGETS) return (this.overflow ??= new HttpTargetMetrics(this, { ...labels(), authority: '(other)' }));
      this.httpTargets.set(key, (m = new HttpTargetMetrics(this, labels())));
    }
    return m;
  }

  forTcp(key: string, labels: () => Labels): TcpTargetMetrics {
    let m = this.tcpTargets.get(key);
    if (!m) this.tcpTargets.set(key, (m = new TcpTargetMetrics(this, labels())));
    return m;
  }
}

export class HttpTargetMetrics {
  readonly requests: BoundCounter;
  private readonly responses = new Map<string, BoundCounter>();
  /** Responses without a gRPC status or error, by status (negative: a failure). */
  private readonly plain = new Map<number, BoundCounter>();
  private readonly latencies = new Map<number, BoundHistogram>();

  constructor(
    private readonly families: ProxyMetrics,
    private readonly labels: Labels,
  ) {
    this.requests = new BoundCounter(families.requestTotal, labels);
  }

  latency(status: number): BoundHistogram {
    let h = this.latencies.get(status);
    if (!h) this.latencies.set(status, (h = new BoundHistogram(this.families.responseLatency, { ...this.labels, status_code: String(status) })));
    return h;
  }

  /** `status` 0 means the response never started (`error` names why). */
  response(status: number, grpcStatus: string | undefined, failure: boolean, error?: string): BoundCounter {
    if (grpcStatus === undefined && error === undefined) {
      // The common case, keyed by a number: no key string per response.
      const k = failure ? -1 - status : status;
      let c = this.plain.get(k);
      if (!c) this.plain.set(k, (c = this.child(status, undefined, failure, undefined)));
      return c;
    }
    const key = `${status}|${grpcStatus ?? ''}|${failure ? 1 : 0}|${error ?? ''}`;
    let c = this.responses.get(key);
    if (!c) this.responses.set(key, (c = this.child(status, grpcStatus, failure, error)));
    return c;
  }

  private child(status: number, grpcStatus: string | undefined, failure: boolean, error: string | undefined): BoundCounter {
    const l: Labels = { ...this.labels, classification: failure ? 'failure' : 'success' };
    if (status > 0) l.status_code = String(status);
    if (grpcStatus !== undefined) l.grpc_status = grpcStatus;
    if (error !== undefined) l.error = error;
    return new BoundCounter(this.families.responseTotal, l);
  }
}

export class TcpTargetMetrics {
  readonly open: BoundCounter;
  readonly openConnections: BoundGauge;
  readonly readBytes: BoundCounter;
  readonly writeBytes: BoundCounter;
  readonly close: BoundCounter;
  readonly duration: BoundHistogram;

  constructor(families: ProxyMetrics, labels: Labels) {
    this.open = new BoundCounter(families.tcpOpenTotal, labels);
    this.openConnections = new BoundGauge(families.tcpOpenConnections, labels);
    this.readBytes = new BoundCounter(families.tcpReadBytes, labels);
    this.writeBytes = new BoundCounter(families.tcpWriteBytes, labels);
    this.close = new BoundCounter(families.tcpCloseTotal, labels);
    this.duration = new BoundHistogram(families.tcpDuration, labels);
  }
}

/** `dst_*` labels from discovery's owner labels (`namespace`, `deployment`, `pod`, `service`, ...). */
export function dstLabels(owner: Readonly<Record<string, string>>): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries(owner)) {
    const name = `dst_${k}`;
    if (TARGET_LABELS.includes(name)) out[name] = v;
  }
  return out;
}
