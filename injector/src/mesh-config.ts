/**
 * What the injector puts into pods: images, control-plane addresses, trust
 * anchors, proxy defaults. Shared by the webhook (from env) and `weft inject`
 * (from flags mapped onto the same variables), parsed once at the edge.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { env, loadConfig, parseDuration, type Cidr, type Setting } from '@weft/common/config';
import { ConfigError } from '@weft/common/errors';
import { LOG_FORMATS, LOG_LEVELS } from '@weft/common/log';
import { formatDnsIdentity } from '@weft/common/identity-name';
import { INBOUND_POLICIES, PROXY_CONNECTION_SETTINGS, type InboundPolicy, type ProxyConnectionSetting } from '@weft/api/names';
import { parseQuantity } from './quantity.js';

export { INBOUND_POLICIES, type InboundPolicy };
export type ProxyLogLevel = (typeof LOG_LEVELS)[number];
export type ProxyLogFormat = (typeof LOG_FORMATS)[number];
export const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;

/** Per-pod proxy settings; the mesh-wide defaults, overridable by `config.weft.io/*`. */
export interface ProxySettings {
  readonly image: string;
  readonly version: string;
  readonly logLevel: ProxyLogLevel;
  readonly logFormat: ProxyLogFormat;
  readonly cpuRequest: string | undefined;
  readonly cpuLimit: string | undefined;
  readonly memoryRequest: string | undefined;
  readonly memoryLimit: string | undefined;
  readonly skipInboundPorts: readonly number[];
  readonly skipOutboundPorts: readonly number[];
  /** Sources whose connections reach the app without the proxy (weft-init `--inbound-subnets-to-ignore`). */
  readonly skipInboundSubnets: readonly Cidr[];
  /** Destinations the app reaches without the proxy (weft-init `--outbound-subnets-to-ignore`). */
  readonly skipOutboundSubnets: readonly Cidr[];
  readonly opaquePorts: readonly number[];
  readonly defaultInboundPolicy: InboundPolicy;
  /** Hold the app containers until the proxy is ready. */
  readonly await: boolean;
  readonly awaitTimeoutSeconds: number;
  readonly detectTimeout: string;
  readonly nativeSidecar: boolean;
  /** OTLP/HTTP collector the proxy sends spans to (docs/tracing.md); undefined: tracing off. */
  readonly traceCollector: string | undefined;
  /** Probability (0..1, as text) of the proxy starting a trace; undefined: the proxy's default. */
  readonly traceSampling: string | undefined;
  /** Connect bounds, keepalive, user timeout, PING interval (durations as text); a setting absent: the proxy's default. */
  readonly connections: ConnectionOverrides;
  /** Threads serving requests (WEFT_PROXY_WORKERS); absent or 1: the proxy's default, one. */
  readonly workers?: number;
}

export type ConnectionOverrides = { readonly [K in ProxyConnectionSetting]?: string };

/** The proxy's bound on WEFT_PROXY_WORKERS (proxy/src/config.ts). */
export const MAX_PROXY_WORKERS = 64;

export const CONNECTION_SETTINGS = Object.keys(PROXY_CONNECTION_SETTINGS) as ProxyConnectionSetting[];

/** Why `v` is not a value the proxy takes for `key` (the proxy would refuse to start), or undefined. */
export function checkConnectionSetting(key: ProxyConnectionSetting, v: string): string | undefined {
  const s = PROXY_CONNECTION_SETTINGS[key];
  let ms: number;
  try {
    ms = parseDuration(v);
  } catch {
    return 'is not a duration (e.g. 500ms, 10s, 1m)';
  }
  if (ms < parseDuration(s.min)) return `is below the proxy's minimum ${s.min}`;
  if (ms > parseDuration(s.max)) return `is above the proxy's maximum ${s.max}`;
  return undefined;
}

export interface MeshConfig {
  readonly controlPlaneNamespace: string;
  readonly trustDomain: string;
  readonly imagePullPolicy: (typeof PULL_POLICIES)[number];
  readonly identityAddr: string;
  readonly identityName: string;
  readonly destinationAddr: string;
  readonly destinationName: string;
  readonly policyAddr: string;
  /** PEM bundle (content), possibly several anchors during a rotation. */
  readonly trustAnchorsPem: string;
  /** A CNI plugin sets up redirection: no `weft-init` container. */
  readonly cniMode: boolean;
  readonly tokenAudience: string;
  readonly tokenExpirationSeconds: number;
  /**
   * Whether `config.weft.io/proxy-image` may change the image of weft-proxy and
   * weft-init (which runs as root with NET_ADMIN); off, it is refused with a warning.
   */
  readonly allowProxyImageOverride: boolean;
  /** The one identity proxies let tap them: viz's ServiceAccount in the viz namespace. */
  readonly tapClientId: string;
  readonly proxy: ProxySettings;
}

const pkgVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Kubernetes added native sidecars (init containers with restartPolicy: Always) as beta-on in 1.29. */
export function supportsNativeSidecars(kubernetesVersion: string): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(kubernetesVersion.trim());
  if (!m) throw new ConfigError([`Kubernetes version "${kubernetesVersion}" is not of the form 1.29 or v1.29.3`]);
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 1 || (major === 1 && minor >= 29);
}

/** Checks that a PEM bundle holds at least one parseable certificate and nothing else. */
export function checkTrustAnchors(pem: string, source: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError([`${source} holds no PEM certificate`]);
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new ConfigError([`${source}: certificate ${i + 1} does not parse: ${(err as Error).message}`]);
    }
  }
  return blocks.join('\n') + '\n';
}

const quantity = (variable: string, fallback: string): { variable: string; parse(raw: string | undefined): string | undefined } => ({
  variable,
  parse(raw) {
    const v = raw === undefined ? fallback : raw.trim();
    if (v === '') return undefined;
    if (parseQuantity(v) === undefined) throw new ConfigError([`${variable}="${v}" is not a Kubernetes quantity (e.g. 100m, 64Mi)`]);
    return v;
  },
});

/** `host:port` or an http(s) URL: what the proxy's WEFT_PROXY_TRACE_COLLECTOR accepts; the error says why not. */
export function checkTraceCollector(v: string): string | undefined {
  if (/^https?:\/\/[^\s/]+(\/\S*)?$/.test(v)) return undefined;
  if (/^[A-Za-z0-9.-]+:\d{1,5}$/.test(v) || /^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(v)) return undefined;
  return 'is not host:port or an http(s) URL of an OTLP/HTTP collector';
}

/** A probability between 0 and 1. */
export function checkTraceSampling(v: string): string | undefined {
  const n = Number(v);
  return v.trim() !== '' && Number.isFinite(n) && n >= 0 && n <= 1 ? undefined : 'is not a probability between 0 and 1';
}

const checked = (variable: string, check: (v: string) => string | undefined) => ({
  variable,
  parse(raw: string | undefined): string | undefined {
    const v = raw?.trim() ?? '';
    if (v === '') return undefined;
    const why = check(v);
    if (why) throw new ConfigError([`${variable}="${v}" ${why}`]);
    return v;
  },
});

function connectionSchema(): { [K in ProxyConnectionSetting as `connection_${K}`]: Setting<string | undefined> } {
  const entries = CONNECTION_SETTINGS.map((k) => [`connection_${k}`, checked(PROXY_CONNECTION_SETTINGS[k].injectorVariable, (v) => checkConnectionSetting(k, v))]);
  return Object.fromEntries(entries) as { [K in ProxyConnectionSetting as `connection_${K}`]: Setting<string | undefined> };
}

const schema = {
  controlPlaneNamespace: env.string('WEFT_INJECTOR_CONTROL_PLANE_NAMESPACE', 'weft'),
  trustDomain: env.string('WEFT_INJECTOR_TRUST_DOMAIN', 'cluster.local'),
  clusterDomain: env.string('WEFT_INJECTOR_CLUSTER_DOMAIN', 'cluster.local'),
  proxyImage: env.string('WEFT_INJECTOR_PROXY_IMAGE', 'ghcr.io/weft-mesh/proxy'),
  proxyVersion: env.string('WEFT_INJECTOR_PROXY_VERSION', pkgVersion),
  imagePullPolicy: env.oneOf('WEFT_INJECTOR_PROXY_IMAGE_PULL_POLICY', PULL_POLICIES, 'IfNotPresent'),
  identityAddr: env.optionalString('WEFT_INJECTOR_IDENTITY_ADDR'),
  destinationAddr: env.optionalString('WEFT_INJECTOR_DESTINATION_ADDR'),
  policyAddr: env.optionalString('WEFT_INJECTOR_POLICY_ADDR'),
  trustAnchorsFile: env.optionalString('WEFT_INJECTOR_TRUST_ANCHORS_FILE'),
  cniMode: env.bool('WEFT_INJECTOR_CNI_ENABLED', false),
  kubernetesVersion: env.optionalString('WEFT_INJECTOR_KUBERNETES_VERSION'),
  tokenExpirationSeconds: env.int('WEFT_INJECTOR_TOKEN_EXPIRATION_SECONDS', 86400, { min: 600, max: 2 ** 31 - 1 }),
  allowProxyImageOverride: env.bool('WEFT_INJECTOR_ALLOW_PROXY_IMAGE_OVERRIDE', false),
  vizNamespace: env.string('WEFT_INJECTOR_VIZ_NAMESPACE', 'weft-viz'),
  proxyLogLevel: env.oneOf('WEFT_INJECTOR_PROXY_LOG_LEVEL', LOG_LEVELS, 'info'),
  proxyLogFormat: env.oneOf('WEFT_INJECTOR_PROXY_LOG_FORMAT', LOG_FORMATS, 'json'),
  proxyCpuRequest: quantity('WEFT_INJECTOR_PROXY_CPU_REQUEST', '100m'),
  proxyCpuLimit: quantity('WEFT_INJECTOR_PROXY_CPU_LIMIT', ''),
  proxyMemoryRequest: quantity('WEFT_INJECTOR_PROXY_MEMORY_REQUEST', '64Mi'),
  proxyMemoryLimit: quantity('WEFT_INJECTOR_PROXY_MEMORY_LIMIT', '256Mi'),
  defaultInboundPolicy: env.oneOf('WEFT_INJECTOR_DEFAULT_INBOUND_POLICY', INBOUND_POLICIES, 'all-unauthenticated'),
  // Server-speaks-first protocols that protocol detection would stall on (SMTP, MySQL, ...).
  opaquePorts: { variable: 'WEFT_INJECTOR_OPAQUE_PORTS', parse: (raw: string | undefined) => env.portList('WEFT_INJECTOR_OPAQUE_PORTS').parse(raw ?? '25,587,3306,4444,5432,6379,9300,11211') },
  // Mesh-wide defaults of config.weft.io/skip-inbound-ports / skip-outbound-ports (a pod's annotation replaces them).
  skipInboundPorts: { variable: 'WEFT_INJECTOR_SKIP_INBOUND_PORTS', parse: (raw: string | undefined) => env.portList('WEFT_INJECTOR_SKIP_INBOUND_PORTS').parse(raw ?? '') },
  skipOutboundPorts: { variable: 'WEFT_INJECTOR_SKIP_OUTBOUND_PORTS', parse: (raw: string | undefined) => env.portList('WEFT_INJECTOR_SKIP_OUTBOUND_PORTS').parse(raw ?? '') },
  // Mesh-wide defaults of config.weft.io/skip-inbound-subnets / skip-outbound-subnets (CIDRs).
  skipInboundSubnets: env.cidrList('WEFT_INJECTOR_SKIP_INBOUND_SUBNETS'),
  skipOutboundSubnets: env.cidrList('WEFT_INJECTOR_SKIP_OUTBOUND_SUBNETS'),
  // auto: native sidecars from Kubernetes 1.29 on; enabled/disabled force the layout (a pod's annotation still wins).
  nativeSidecar: env.oneOf('WEFT_INJECTOR_PROXY_NATIVE_SIDECAR', ['auto', 'enabled', 'disabled'] as const, 'auto'),
  proxyAwait: env.bool('WEFT_INJECTOR_PROXY_AWAIT', true),
  // Threads each proxy serves requests on (the proxy's WEFT_PROXY_WORKERS; a pod's config.weft.io/proxy-workers wins).
  proxyWorkers: env.int('WEFT_INJECTOR_PROXY_WORKERS', 1, { min: 1, max: MAX_PROXY_WORKERS }),
  proxyAwaitTimeout: env.duration('WEFT_INJECTOR_PROXY_AWAIT_TIMEOUT', '120s'),
  traceCollector: checked('WEFT_INJECTOR_PROXY_TRACE_COLLECTOR', checkTraceCollector),
  traceSampling: checked('WEFT_INJECTOR_PROXY_TRACE_SAMPLING', checkTraceSampling),
  // Mesh-wide proxy connection settings; empty: the proxy's defaults (@weft/api/names PROXY_CONNECTION_SETTINGS).
  ...connectionSchema(),
  detectTimeout: {
    variable: 'WEFT_INJECTOR_PROXY_DETECT_TIMEOUT',
    parse(raw: string | undefined): string {
      const v = raw === undefined || raw === '' ? '10s' : raw.trim();
      try {
        parseDuration(v);
      } catch (err) {
        throw new ConfigError([`WEFT_INJECTOR_PROXY_DETECT_TIMEOUT: ${(err as Error).message}`]);
      }
      return v;
    },
  },
};

/** Every variable loadMeshConfig reads (the chart sets them from its values: cdk8s/src/control-plane/injector.ts). */
export const MESH_CONFIG_VARIABLES: readonly string[] = Object.values(schema).map((s) => s.variable);

export interface MeshConfigSources {
  /** Trust anchors PEM when not read from WEFT_INJECTOR_TRUST_ANCHORS_FILE (e.g. already loaded). */
  readonly trustAnchorsPem?: string;
  /** Kubernetes version when not in WEFT_INJECTOR_KUBERNETES_VERSION (e.g. asked from the API server). */
  readonly kubernetesVersion?: string;
}

/** Builds the mesh config from env-style variables; throws one ConfigError naming every problem. */
export function loadMeshConfig(source: NodeJS.ProcessEnv, extra: MeshConfigSources = {}): MeshConfig {
  const c = loadConfig(schema, source);
  const ns = c.controlPlaneNamespace;
  const svc = (name: string, port: number): string => `${name}.${ns}.svc.${c.clusterDomain}:${port}`;
  const controlIdentity = (sa: string): string =>
    formatDnsIdentity({ serviceAccount: sa, namespace: ns, controlNamespace: ns, trustDomain: c.trustDomain });
  let trustAnchorsPem = extra.trustAnchorsPem;
  if (trustAnchorsPem === undefined) {
    if (c.trustAnchorsFile === undefined) throw new ConfigError(['WEFT_INJECTOR_TRUST_ANCHORS_FILE is required but not set']);
    let pem: string;
    try {
      pem = readFileSync(c.trustAnchorsFile, 'utf8');
    } catch (err) {
      throw new ConfigError([`cannot read trust anchors file ${c.trustAnchorsFile}: ${(err as Error).message}`]);
    }
    trustAnchorsPem = checkTrustAnchors(pem, c.trustAnchorsFile);
  }
  const k8sVersion = c.kubernetesVersion ?? extra.kubernetesVersion ?? '1.29';
  return {
    controlPlaneNamespace: ns,
    trustDomain: c.trustDomain,
    imagePullPolicy: c.imagePullPolicy,
    identityAddr: c.identityAddr ?? svc('weft-identity', 8080),
    identityName: controlIdentity('weft-identity'),
    destinationAddr: c.destinationAddr ?? svc('weft-destination', 8086),
    destinationName: controlIdentity('weft-destination'),
    policyAddr: c.policyAddr ?? svc('weft-destination', 8090),
    trustAnchorsPem,
    cniMode: c.cniMode,
    tokenAudience: 'identity.weft.io',
    tokenExpirationSeconds: c.tokenExpirationSeconds,
    allowProxyImageOverride: c.allowProxyImageOverride,
    tapClientId: formatDnsIdentity({ serviceAccount: 'weft-viz', namespace: c.vizNamespace, controlNamespace: ns, trustDomain: c.trustDomain }),
    proxy: {
      image: c.proxyImage,
      version: c.proxyVersion,
      logLevel: c.proxyLogLevel,
      logFormat: c.proxyLogFormat,
      cpuRequest: c.proxyCpuRequest,
      cpuLimit: c.proxyCpuLimit,
      memoryRequest: c.proxyMemoryRequest,
      memoryLimit: c.proxyMemoryLimit,
      skipInboundPorts: c.skipInboundPorts,
      skipOutboundPorts: c.skipOutboundPorts,
      skipInboundSubnets: c.skipInboundSubnets,
      skipOutboundSubnets: c.skipOutboundSubnets,
      opaquePorts: c.opaquePorts,
      defaultInboundPolicy: c.defaultInboundPolicy,
      await: c.proxyAwait,
      awaitTimeoutSeconds: Math.ceil(c.proxyAwaitTimeout / 1000),
      detectTimeout: c.detectTimeout,
      workers: c.proxyWorkers,
      nativeSidecar: c.nativeSidecar === 'auto' ? supportsNativeSidecars(k8sVersion) : c.nativeSidecar === 'enabled',
      traceCollector: c.traceCollector,
      traceSampling: c.traceSampling,
      connections: Object.fromEntries(CONNECTION_SETTINGS.flatMap((k) => (c[`connection_${k}`] === undefined ? [] : [[k, c[`connection_${k}`]]]))),
    },
  };
}
