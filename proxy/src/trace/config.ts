/**
 * The proxy's tracing settings (docs/contracts.md, WEFT_PROXY_TRACE_*),
 * validated once with the shared parsers (common/src/trace/config.ts): the
 * resource names this workload (service.name, its pod, node and owner).
 */
import { collectorUrl, DEFAULT_SAMPLING, parseSampling, type TraceConfig } from '@weft/common/trace/config';

export { collectorUrl, DEFAULT_SAMPLING, parseSampling, type TraceConfig };

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

function nodeName(contextToken: string): string | undefined {
  try {
    const v = (JSON.parse(contextToken) as { nodeName?: unknown }).nodeName;
    return typeof v === 'string' && v !== '' ? v : undefined;
  } catch {
    return undefined;
  }
}
