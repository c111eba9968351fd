/**
 * Tracing settings (docs/contracts.md, WEFT_PROXY_TRACE_*), validated once:
 * where spans go (OTLP/HTTP), how often a new trace is started, and the
 * resource that names this workload in the traces.
 */
import { ConfigError } from '@weft/common/errors';

export interface TraceConfig {
  /** The OTLP/HTTP traces URL (`.../v1/traces`). */
  readonly collectorUrl: string;
  /** Probability of starting a trace for a request that carries no sampling decision. */
  readonly sampleRate: number;
  /** service.name, k8s.namespace.name, k8s.pod.name, k8s.node.name, k8s.<kind>.name. */
  readonly resource: Readonly<Record<string, string>>;
  readonly maxQueue: number;
  readonly flushIntervalMs: number;
}

export interface TraceEnv {
  readonly collector: string | undefined;
  readonly sampling: string | undefined;
  readonly serviceName: string | undefined;
  readonly queueSize: number;
  readonly flushIntervalMs: number;
}

export interface PodFacts {
  readonly namespace: string;
  readonly name: string;
  readonly workloadKind: string;
  readonly workloadName: string;
  /** The destination context token (`{"ns","pod","nodeName"}`), for k8s.node.name. */
  readonly contextToken: string;
}

/** `host:port`, `http://host:port` or a full URL; a URL without a path gets the OTLP traces path. */
export function collectorUrl(raw: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConfigError([`WEFT_PROXY_TRACE_COLLECTOR="${raw}" is not host:port or an http(s) URL`]);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError([`WEFT_PROXY_TRACE_COLLECTOR="${raw}": only http and https (OTLP/HTTP) are supported`]);
  if (!url.port && !/^[a-z]+:\/\//i.test(raw)) throw new ConfigError([`WEFT_PROXY_TRACE_COLLECTOR="${raw}" has no port`]);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces';
  return url.toString();
}

export function parseSampling(raw: string): number {
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new ConfigError([`WEFT_PROXY_TRACE_SAMPLING="${raw}" is not a probability between 0 and 1`]);
  return n;
}

/** Undefined when no collector is set: tracing is off. */
export function traceConfig(e: TraceEnv, pod: PodFacts): TraceConfig | undefined {
  if (e.collector === undefined || e.collector.trim() === '') return undefined;
  const resource: Record<string, string> = {
    'service.name': e.serviceName || pod.workloadName || pod.name,
    'k8s.namespace.name': pod.namespace,
    'k8s.pod.name': pod.name,
  };
  const node = nodeName(pod.contextToken);
  if (node) resource['k8s.node.name'] = node;
  if (pod.workloadKind && pod.workloadName) resource[`k8s.${pod.workloadKind.toLowerCase()}.name`] = pod.workloadName;
  return {
    collectorUrl: collectorUrl(e.collector.trim()),
    sampleRate: e.sampling === undefined ? DEFAULT_SAMPLING : parseSampling(e.sampling),
    resource,
    maxQueue: e.queueSize,
    flushIntervalMs: e.flushIntervalMs,
  };
}

export const DEFAULT_SAMPLING = 0.01;

function nodeName(contextToken: string): string | undefined {
  try {
    const v = (JSON.parse(contextToken) as { nodeName?: unknown }).nodeName;
    return typeof v === 'string' && v !== '' ? v : undefined;
  } catch {
    return undefined;
  }
}
