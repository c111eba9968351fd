/**
 * `config.weft.io/<key>` overrides (ARCHITECTURE §1): per-namespace and
 * per-pod changes to the proxy's settings. The pod's annotation wins over the
 * namespace's. A bad value never blocks a pod: it becomes a warning and the
 * mesh default stays; an unknown key is warned about too (usually a typo).
 * `proxy-image` also picks the image weft-init runs as root with NET_ADMIN,
 * so it is honoured only when the injector's config allows it.
 */
import { parseCidrList, parseDuration, parsePortList } from '@weft/common/config';
import { LOG_FORMATS, LOG_LEVELS } from '@weft/common/log';
import { CONFIG_PREFIX } from './annotations.js';
import { PROXY_CONNECTION_SETTINGS, type ProxyConnectionSetting } from '@weft/api/names';
import { checkConnectionSetting, checkTraceCollector, checkTraceSampling, CONNECTION_SETTINGS, INBOUND_POLICIES, MAX_PROXY_WORKERS, type ProxySettings } from './mesh-config.js';
import { parseQuantity } from './quantity.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Apply = (settings: Mutable<ProxySettings>, value: string) => string | undefined;

const IMAGE = /^[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?::\d+)?(?:\/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

function quantity(field: 'cpuRequest' | 'cpuLimit' | 'memoryRequest' | 'memoryLimit'): Apply {
  return (s, v) => {
    if (parseQuantity(v) === undefined) return 'is not a Kubernetes quantity (e.g. 100m, 64Mi)';
    s[field] = v;
    return undefined;
  };
}

function ports(field: 'skipInboundPorts' | 'skipOutboundPorts' | 'opaquePorts'): Apply {
  return (s, v) => {
    try {
      s[field] = parsePortList(v);
      return undefined;
    } catch (err) {
      return `is not a port list: ${(err as Error).message}`;
    }
  };
}

function subnets(field: 'skipInboundSubnets' | 'skipOutboundSubnets'): Apply {
  return (s, v) => {
    try {
      s[field] = parseCidrList(v);
      return undefined;
    } catch (err) {
      return `is not a CIDR list: ${(err as Error).message}`;
    }
  };
}

function enabledDisabled(field: 'await' | 'nativeSidecar'): Apply {
  return (s, v) => {
    if (v !== 'enabled' && v !== 'disabled') return 'is not enabled or disabled';
    s[field] = v === 'enabled';
    return undefined;
  };
}

function connection(key: ProxyConnectionSetting): Apply {
  return (s, v) => checkConnectionSetting(key, v) ?? void (s.connections = { ...s.connections, [key]: v });
}

/** The override that picks another image (for weft-proxy and weft-init). */
export const IMAGE_OVERRIDE = 'proxy-image';

/** What the injector's own config lets annotations change. */
export interface OverridePolicy {
  readonly allowProxyImageOverride: boolean;
}

/** Every supported override, in the order they are applied and reported. */
export const OVERRIDES: Readonly<Record<string, Apply>> = {
  [IMAGE_OVERRIDE]: (s, v) => (IMAGE.test(v) ? void (s.image = v) : 'is not an image name (without tag), e.g. ghcr.io/weft-mesh/proxy'),
  'proxy-version': (s, v) => (TAG.test(v) ? void (s.version = v) : 'is not an image tag'),
  'proxy-log-level': (s, v) =>
    (LOG_LEVELS as readonly string[]).includes(v) ? void (s.logLevel = v as ProxySettings['logLevel']) : `is not one of ${LOG_LEVELS.join(', ')}`,
  'proxy-log-format': (s, v) =>
    (LOG_FORMATS as readonly string[]).includes(v) ? void (s.logFormat = v as ProxySettings['logFormat']) : `is not one of ${LOG_FORMATS.join(', ')}`,
  'proxy-cpu-request': quantity('cpuRequest'),
  'proxy-cpu-limit': quantity('cpuLimit'),
  'proxy-memory-request': quantity('memoryRequest'),
  'proxy-memory-limit': quantity('memoryLimit'),
  'skip-inbound-ports': ports('skipInboundPorts'),
  'skip-outbound-ports': ports('skipOutboundPorts'),
  'skip-inbound-subnets': subnets('skipInboundSubnets'),
  'skip-outbound-subnets': subnets('skipOutboundSubnets'),
  'opaque-ports': ports('opaquePorts'),
  'default-inbound-policy': (s, v) =>
    (INBOUND_POLICIES as readonly string[]).includes(v)
      ? void (s.defaultInboundPolicy = v as ProxySettings['defaultInboundPolicy'])
      : `is not one of ${INBOUND_POLICIES.join(', ')}`,
  'proxy-await': enabledDisabled('await'),
  'proxy-await-timeout': (s, v) => {
    try {
      s.awaitTimeoutSeconds = Math.max(1, Math.ceil(parseDuration(v) / 1000));
      return undefined;
    } catch {
      return 'is not a duration (e.g. 90s, 2m)';
    }
  },
  'proxy-detect-timeout': (s, v) => {
    try {
      parseDuration(v);
      s.detectTimeout = v;
      return undefined;
    } catch {
      return 'is not a duration (e.g. 500ms, 10s)';
    }
  },
  'proxy-native-sidecar': enabledDisabled('nativeSidecar'),
  // More than one thread serving requests (docs/proxy.md, "More than one core"): worth it with as many cores in the proxy's CPU limit.
  'proxy-workers': (s, v) => {
    if (!/^[1-9][0-9]?$/.test(v) || Number(v) > MAX_PROXY_WORKERS) return `is not a whole number of threads from 1 to ${MAX_PROXY_WORKERS}`;
    s.workers = Number(v);
    return undefined;
  },
  // Tracing (docs/tracing.md): where this workload's proxy sends spans, and how often it starts a trace.
  'trace-collector': (s, v) => checkTraceCollector(v) ?? void (s.traceCollector = v),
  'trace-sampling': (s, v) => checkTraceSampling(v) ?? void (s.traceSampling = v),
  // Connect bounds, keepalive, the user timeout and the PING interval between proxies (docs/proxy.md).
  ...Object.fromEntries(CONNECTION_SETTINGS.map((k): [string, Apply] => [PROXY_CONNECTION_SETTINGS[k].annotation, connection(k)])),
};

export interface ResolvedSettings {
  readonly settings: ProxySettings;
  readonly warnings: string[];
}

/**
 * Applies the namespace's then the pod's overrides to the mesh defaults.
 * Each source's invalid values fall back to what was there before it.
 */
export function resolveSettings(
  defaults: ProxySettings,
  podAnnotations: Readonly<Record<string, string>> | undefined,
  namespaceAnnotations: Readonly<Record<string, string>> | undefined,
  policy: OverridePolicy,
): ResolvedSettings {
  const settings: Mutable<ProxySettings> = { ...defaults };
  const warnings: string[] = [];
  for (const [where, annotations] of [['namespace', namespaceAnnotations], ['pod', podAnnotations]] as const) {
    if (!annotations) continue;
    for (const [name, raw] of Object.entries(annotations)) {
      if (!name.startsWith(CONFIG_PREFIX)) continue;
      const key = name.slice(CONFIG_PREFIX.length);
      const apply = OVERRIDES[key];
      if (!apply) {
        warnings.push(`${where} annotation ${name} is not a weft override; ignored`);
        continue;
      }
      const value = String(raw).trim();
      if (key === IMAGE_OVERRIDE && !policy.allowProxyImageOverride) {
        warnings.push(`${where} annotation ${name}="${value}" is refused: the injector does not allow image overrides (WEFT_INJECTOR_ALLOW_PROXY_IMAGE_OVERRIDE, chart value proxyInjector.allowProxyImageOverride); using ${defaults.image}`);
        continue;
      }
      const before = { ...settings };
      const problem = apply(settings, value);
      if (problem !== undefined) {
        Object.assign(settings, before);
        warnings.push(`${where} annotation ${name}="${value}" ${problem}; using the default`);
      }
    }
  }
  for (const [req, lim, what] of [['cpuRequest', 'cpuLimit', 'cpu'], ['memoryRequest', 'memoryLimit', 'memory']] as const) {
    const r = settings[req];
    const l = settings[lim];
    if (r !== undefined && l !== undefined && parseQuantity(r)! > parseQuantity(l)!) {
      warnings.push(`proxy ${what} request ${r} is above its limit ${l}; using ${l} as the request`);
      settings[req] = l;
    }
  }
  const cores = settings.cpuLimit !== undefined ? Math.ceil(parseQuantity(settings.cpuLimit)!) : undefined;
  if (settings.workers !== undefined && cores !== undefined && cores > 0 && settings.workers > cores) {
    warnings.push(
      `proxy workers ${settings.workers} are more than the ${cores} core(s) of its CPU limit ${settings.cpuLimit}: ` +
        'threads that share a core serve no more and cost CPU and ~19 MiB each (docs/proxy.md, "More than one core")',
    );
  }
  return { settings, warnings };
}
