/**
 * destination's configuration from the environment, parsed once at the edge
 * (main.ts). docs/destination.md lists every variable.
 */
import { env, loadConfig, ConfigError, LOG_LEVELS } from '@weft/common';
import { controlPlaneTraceConfig, controlPlaneTraceSchema, type TraceConfig } from '@weft/common/trace/config';
import { isCidr } from './resolve/policy.js';
import { DEFAULT_INBOUND_POLICIES, DEFAULT_SETTINGS, type MeshSettings } from './settings.js';

const schema = {
  logLevel: env.oneOf('WEFT_DESTINATION_LOG_LEVEL', LOG_LEVELS, 'info'),
  source: env.oneOf('WEFT_DESTINATION_SOURCE', ['kubernetes', 'file'] as const, 'kubernetes'),
  discoveryFile: env.optionalString('WEFT_DESTINATION_DISCOVERY_FILE'),
  kubeconfig: env.optionalString('WEFT_DESTINATION_KUBECONFIG'),
  host: env.string('WEFT_DESTINATION_LISTEN_HOST', '0.0.0.0'),
  destinationPort: env.port('WEFT_DESTINATION_PORT', 8086),
  policyPort: env.port('WEFT_DESTINATION_POLICY_PORT', 8090),
  adminPort: env.port('WEFT_DESTINATION_ADMIN_PORT', 9996),
  tlsCertFile: env.string('WEFT_DESTINATION_TLS_CERT_FILE'),
  tlsKeyFile: env.string('WEFT_DESTINATION_TLS_KEY_FILE'),
  trustAnchorsFile: env.string('WEFT_DESTINATION_TRUST_ANCHORS_FILE'),
  /** How often the mounted certificate files are re-read besides the directory watch. */
  filePollMs: env.duration('WEFT_DESTINATION_FILE_POLL_INTERVAL', '30s'),
  /**
   * After SIGTERM, how long destination keeps serving before it closes the proxies' streams: long enough for the
   * Service to stop sending new connections here, so the proxies' reconnects reach the pod that replaces it.
   */
  shutdownDrainMs: env.duration('WEFT_DESTINATION_SHUTDOWN_DRAIN', '5s'),
  controlNamespace: env.string('WEFT_DESTINATION_CONTROL_NAMESPACE', DEFAULT_SETTINGS.controlNamespace),
  trustDomain: env.string('WEFT_DESTINATION_TRUST_DOMAIN', DEFAULT_SETTINGS.trustDomain),
  clusterDomain: env.string('WEFT_DESTINATION_CLUSTER_DOMAIN', DEFAULT_SETTINGS.clusterDomain),
  defaultInboundPolicy: env.oneOf('WEFT_DESTINATION_DEFAULT_INBOUND_POLICY', DEFAULT_INBOUND_POLICIES, DEFAULT_SETTINGS.defaultInboundPolicy),
  clusterNetworks: env.string('WEFT_DESTINATION_CLUSTER_NETWORKS', DEFAULT_SETTINGS.clusterNetworks.join(',')),
  proxyInboundPort: env.port('WEFT_DESTINATION_PROXY_INBOUND_PORT', DEFAULT_SETTINGS.proxyInboundPort),
  ...controlPlaneTraceSchema('DESTINATION'),
};

export interface DestinationConfig {
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly source: { readonly kind: 'kubernetes'; readonly kubeconfig?: string } | { readonly kind: 'file'; readonly path: string };
  readonly host: string;
  readonly destinationPort: number;
  readonly policyPort: number;
  readonly adminPort: number;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly trustAnchorsFile: string;
  readonly filePollMs: number;
  readonly shutdownDrainMs: number;
  readonly settings: MeshSettings;
  /** Undefined: tracing is off (WEFT_DESTINATION_TRACE_COLLECTOR unset). */
  readonly tracing: TraceConfig | undefined;
}

export function loadDestinationConfig(source: NodeJS.ProcessEnv): DestinationConfig {
  const c = loadConfig(schema, source);
  const problems: string[] = [];
  const clusterNetworks = c.clusterNetworks.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of clusterNetworks) if (!isCidr(n)) problems.push(`WEFT_DESTINATION_CLUSTER_NETWORKS: "${n}" is not a CIDR`);
  if (c.source === 'file' && !c.discoveryFile) problems.push('WEFT_DESTINATION_DISCOVERY_FILE is required when WEFT_DESTINATION_SOURCE=file');
  let tracing: TraceConfig | undefined;
  try {
    tracing = controlPlaneTraceConfig('DESTINATION', 'destination', c);
  } catch (err) {
    problems.push(...(err as ConfigError).problems);
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    logLevel: c.logLevel,
    source: c.source === 'file' ? { kind: 'file', path: c.discoveryFile! } : { kind: 'kubernetes', ...(c.kubeconfig ? { kubeconfig: c.kubeconfig } : {}) },
    host: c.host,
    destinationPort: c.destinationPort,
    policyPort: c.policyPort,
    adminPort: c.adminPort,
    tlsCertFile: c.tlsCertFile,
    tlsKeyFile: c.tlsKeyFile,
    trustAnchorsFile: c.trustAnchorsFile,
    filePollMs: c.filePollMs,
    shutdownDrainMs: c.shutdownDrainMs,
    settings: {
      ...DEFAULT_SETTINGS,
      controlNamespace: c.controlNamespace,
      trustDomain: c.trustDomain,
      clusterDomain: c.clusterDomain,
      defaultInboundPolicy: c.defaultInboundPolicy,
      clusterNetworks,
      proxyInboundPort: c.proxyInboundPort,
    },
    tracing,
  };
}
