/**
 * Tracing settings shared by the proxy (WEFT_PROXY_TRACE_*) and the control
 * plane (WEFT_<COMPONENT>_TRACE_*, docs/tracing.md): where spans go (an
 * OTLP/HTTP collector), how often a new trace is started, and the resource
 * that names the process in the traces. Each bad value is refused with its
 * variable named.
 */
import { ConfigError } from '../errors.js';
import { env } from '../config.js';

export interface TraceConfig {
  /** The OTLP/HTTP traces URL (`.../v1/traces`). */
  readonly collectorUrl: string;
  /** Probability of starting a trace for a request that carries no sampling decision. */
  readonly sampleRate: number;
  /** service.name, k8s.namespace.name, k8s.pod.name, k8s.node.name, ... */
  readonly resource: Readonly<Record<string, string>>;
  readonly maxQueue: number;
  readonly flushIntervalMs: number;
}

export const DEFAULT_SAMPLING = 0.01;

/** `host:port`, `http://host:port` or a full URL; a URL without a path gets the OTLP traces path. */
export function collectorUrl(raw: string, variable = 'WEFT_PROXY_TRACE_COLLECTOR'): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConfigError([`${variable}="${raw}" is not host:port or an http(s) URL`]);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError([`${variable}="${raw}": only http and https (OTLP/HTTP) are supported`]);
  if (!url.port && !/^[a-z]+:\/\//i.test(raw)) throw new ConfigError([`${variable}="${raw}" has no port`]);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces';
  return url.toString();
}

export function parseSampling(raw: string, variable = 'WEFT_PROXY_TRACE_SAMPLING'): number {
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new ConfigError([`${variable}="${raw}" is not a probability between 0 and 1`]);
  return n;
}

/**
 * A control-plane component's tracing variables, `WEFT_<PREFIX>_TRACE_*`, for its config schema. The pod's
 * namespace, name and node come from the downward API (`WEFT_<PREFIX>_POD_NAMESPACE`, `_POD_NAME`, `_NODE_NAME`).
 */
export function controlPlaneTraceSchema(prefix: string) {
  return {
    traceCollector: env.optionalString(`WEFT_${prefix}_TRACE_COLLECTOR`),
    traceSampling: env.optionalString(`WEFT_${prefix}_TRACE_SAMPLING`),
    traceQueueSize: env.int(`WEFT_${prefix}_TRACE_QUEUE_SIZE`, 2048, { min: 1, max: 1_000_000 }),
    traceFlushIntervalMs: env.duration(`WEFT_${prefix}_TRACE_FLUSH_INTERVAL`, '1s'),
    podNamespace: env.optionalString(`WEFT_${prefix}_POD_NAMESPACE`),
    podName: env.optionalString(`WEFT_${prefix}_POD_NAME`),
    nodeName: env.optionalString(`WEFT_${prefix}_NODE_NAME`),
  };
}

export interface ControlPlaneTraceEnv {
  readonly traceCollector: string | undefined;
  readonly traceSampling: string | undefined;
  readonly traceQueueSize: number;
  readonly traceFlushIntervalMs: number;
  readonly podNamespace: string | undefined;
  readonly podName: string | undefined;
  readonly nodeName: string | undefined;
}

/**
 * The component's tracing, or undefined when no collector is set (off). `service.name` is the component's
 * name (`identity`, `destination`, `injector`); throws a ConfigError naming a bad collector or sampling value.
 */
export function controlPlaneTraceConfig(prefix: string, component: string, e: ControlPlaneTraceEnv): TraceConfig | undefined {
  if (e.traceCollector === undefined || e.traceCollector.trim() === '') return undefined;
  const problems: string[] = [];
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (err) {
      problems.push(...((err as ConfigError).problems ?? [(err as Error).message]));
      return undefined;
    }
  };
  const url = attempt(() => collectorUrl(e.traceCollector!.trim(), `WEFT_${prefix}_TRACE_COLLECTOR`));
  const rate = e.traceSampling === undefined ? DEFAULT_SAMPLING : attempt(() => parseSampling(e.traceSampling!, `WEFT_${prefix}_TRACE_SAMPLING`));
  if (problems.length > 0 || url === undefined || rate === undefined) throw new ConfigError(problems);
  const resource: Record<string, string> = { 'service.name': component };
  if (e.podNamespace) resource['k8s.namespace.name'] = e.podNamespace;
  if (e.podName) resource['k8s.pod.name'] = e.podName;
  if (e.nodeName) resource['k8s.node.name'] = e.nodeName;
  return { collectorUrl: url, sampleRate: rate, resource, maxQueue: e.traceQueueSize, flushIntervalMs: e.traceFlushIntervalMs };
}
