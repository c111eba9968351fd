/**
 * The proxy's configuration, parsed once from the environment
 * (docs/contracts.md) into a typed object; the rest of the proxy never reads
 * `process.env`.
 */
import { INBOUND_POLICIES, PROXY_CONNECTION_SETTINGS, type ProxyConnectionSetting } from '@weft/api/names';
import { env, loadConfig, parseListenAddr, type ListenAddr, type Setting } from '@weft/common/config';
import { ConfigError } from '@weft/common/errors';
import { LOG_FORMATS, LOG_LEVELS } from '@weft/common/log';
import { traceConfig, type TraceConfig } from './trace/config.js';
import type { MeshHttp1 } from './layers/endpoint-client.js';
import type { ConnectionSettings } from './transport/connections.js';

/** How HTTP/1 requests travel between proxies (docs/proxy.md "Between proxies"). */
const MESH_HTTP1: readonly MeshHttp1[] = ['http1', 'http2', 'mux'];

export type { ListenAddr };

export { INBOUND_POLICIES };

export interface ProxyConfig {
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly logFormat: (typeof LOG_FORMATS)[number];
  readonly outbound: ListenAddr;
  readonly inbound: ListenAddr;
  readonly admin: ListenAddr;
  readonly tap: ListenAddr;
  readonly identity: {
    /** This pod's DNS identity. */
    readonly localName: string;
    readonly trustAnchors: string;
    readonly tokenFile: string;
    readonly svcAddr: string;
    readonly svcName: string;
  };
  readonly destination: {
    readonly svcAddr: string;
    readonly svcName: string;
    /** JSON `{"ns","pod","nodeName"}` sent with every Get. */
    readonly contextToken: string;
  };
  readonly policySvcAddr: string;
  readonly pod: { readonly namespace: string; readonly name: string; readonly workloadKind: string; readonly workloadName: string };
  readonly opaquePorts: readonly number[];
  readonly inboundPorts: readonly number[];
  readonly defaultInboundPolicy: (typeof INBOUND_POLICIES)[number];
  readonly detectTimeoutMs: number;
  /** Connect and handshake bounds, keepalive, the user timeout and the peer PING interval. */
  readonly connections: ConnectionSettings;
  /** How HTTP/1 requests travel to peer proxies: HTTP/1.1 over pooled `weft.tcp` mTLS, or inside the HTTP/2 session. */
  readonly meshHttp1: MeshHttp1;
  /** Where the inbound proxy reaches the application (the pod's loopback). */
  readonly appHost: string;
  /** Explicit mode (no iptables): the application port for inbound connections without an original destination. */
  readonly inboundAppPort: number | undefined;
  /** The one mesh identity allowed to call tap (viz); undefined: tap is off. */
  readonly tapClientId: string | undefined;
  /** `POST /shutdown` on the admin port, for loopback callers only (e.g. a Job's main container); off by default. */
  readonly shutdownEndpoint: boolean;
  /** Span export (docs/tracing.md); undefined: tracing is off. */
  readonly tracing?: TraceConfig;
  /**
   * Threads serving requests (WEFT_PROXY_WORKERS, default 1): more than one needs as many cores in the pod's CPU
   * limit to gain anything (docs/proxy.md, "More than one core").
   */
  readonly workers: number;
}

function connectionSetting(key: ProxyConnectionSetting): Setting<number> {
  const s = PROXY_CONNECTION_SETTINGS[key];
  return env.duration(s.variable, s.default, s);
}

const schema = {
  logLevel: env.oneOf('WEFT_PROXY_LOG_LEVEL', LOG_LEVELS, 'info'),
  logFormat: env.oneOf('WEFT_PROXY_LOG_FORMAT', LOG_FORMATS, 'json'),
  outbound: env.string('WEFT_PROXY_OUTBOUND_LISTEN_ADDR', '127.0.0.1:4140'),
  inbound: env.string('WEFT_PROXY_INBOUND_LISTEN_ADDR', '0.0.0.0:4143'),
  admin: env.string('WEFT_PROXY_ADMIN_LISTEN_ADDR', '0.0.0.0:4191'),
  tap: env.string('WEFT_PROXY_TAP_LISTEN_ADDR', '0.0.0.0:4190'),
  identitySvcAddr: env.string('WEFT_PROXY_IDENTITY_SVC_ADDR'),
  identitySvcName: env.string('WEFT_PROXY_IDENTITY_SVC_NAME'),
  destinationSvcAddr: env.string('WEFT_PROXY_DESTINATION_SVC_ADDR'),
  destinationSvcName: env.string('WEFT_PROXY_DESTINATION_SVC_NAME'),
  policySvcAddr: env.string('WEFT_PROXY_POLICY_SVC_ADDR'),
  localName: env.string('WEFT_PROXY_IDENTITY_LOCAL_NAME'),
  tokenFile: env.string('WEFT_PROXY_IDENTITY_TOKEN_FILE', '/var/run/secrets/tokens/weft-identity-token'),
  trustAnchors: env.string('WEFT_PROXY_IDENTITY_TRUST_ANCHORS'),
  contextToken: env.string('WEFT_PROXY_DESTINATION_CONTEXT', '{}'),
  namespace: env.string('WEFT_PROXY_POD_NAMESPACE'),
  pod: env.string('WEFT_PROXY_POD_NAME'),
  workloadKind: env.string('WEFT_PROXY_WORKLOAD_KIND', ''),
  workloadName: env.string('WEFT_PROXY_WORKLOAD_NAME', ''),
  opaquePorts: env.portList('WEFT_PROXY_OPAQUE_PORTS'),
  inboundPorts: env.portList('WEFT_PROXY_INBOUND_PORTS'),
  defaultInboundPolicy: env.oneOf('WEFT_PROXY_DEFAULT_INBOUND_POLICY', INBOUND_POLICIES, 'all-unauthenticated'),
  detectTimeoutMs: env.duration('WEFT_PROXY_DETECT_TIMEOUT', '10s'),
  // transport/connections.ts; the defaults and bounds are shared with the injector (@weft/api/names).
  connectMs: connectionSetting('connectTimeout'),
  handshakeMs: connectionSetting('tlsHandshakeTimeout'),
  keepAliveMs: connectionSetting('keepalive'),
  userTimeoutMs: connectionSetting('userTimeout'),
  peerPingMs: connectionSetting('peerPingInterval'),
  meshHttp1: env.oneOf('WEFT_PROXY_MESH_HTTP1', MESH_HTTP1, 'mux'),
  appHost: env.string('WEFT_PROXY_INBOUND_APP_HOST', '127.0.0.1'),
  tapClientId: env.optionalString('WEFT_PROXY_TAP_CLIENT_ID'),
  shutdownEndpoint: env.bool('WEFT_PROXY_SHUTDOWN_ENDPOINT_ENABLED', false),
  traceCollector: env.optionalString('WEFT_PROXY_TRACE_COLLECTOR'),
  traceSampling: env.optionalString('WEFT_PROXY_TRACE_SAMPLING'),
  traceServiceName: env.optionalString('WEFT_PROXY_TRACE_SERVICE_NAME'),
  traceQueueSize: env.int('WEFT_PROXY_TRACE_QUEUE_SIZE', 2048, { min: 1, max: 1_000_000 }),
  traceFlushIntervalMs: env.duration('WEFT_PROXY_TRACE_FLUSH_INTERVAL', '1s'),
  workers: env.int('WEFT_PROXY_WORKERS', 1, { min: 1, max: 64 }),
  inboundAppPort: { variable: 'WEFT_PROXY_INBOUND_APP_PORT', parse: (raw: string | undefined) => raw },
};

/** The shared listen-address syntax (`host:port`, `[v6]:port`, `:port`); throws a ConfigError naming the variable. */
export function parseListenAddrOf(variable: string, raw: string): ListenAddr {
  try {
    return parseListenAddr(raw);
  } catch (err) {
    throw new ConfigError([`${variable}=${(err as Error).message}`]);
  }
}

export function parseProxyEnv(source: NodeJS.ProcessEnv): ProxyConfig {
  const c = loadConfig(schema, source);
  const appPortRaw = c.inboundAppPort as string | undefined;
  let inboundAppPort: number | undefined;
  if (appPortRaw !== undefined && appPortRaw !== '') {
    inboundAppPort = Number(appPortRaw);
    if (!Number.isInteger(inboundAppPort) || inboundAppPort < 1 || inboundAppPort > 65535) {
      throw new ConfigError([`WEFT_PROXY_INBOUND_APP_PORT="${appPortRaw}" is not a port`]);
    }
  }
  return {
    logLevel: c.logLevel,
    logFormat: c.logFormat,
    outbound: parseListenAddrOf('WEFT_PROXY_OUTBOUND_LISTEN_ADDR', c.outbound),
    inbound: parseListenAddrOf('WEFT_PROXY_INBOUND_LISTEN_ADDR', c.inbound),
    admin: parseListenAddrOf('WEFT_PROXY_ADMIN_LISTEN_ADDR', c.admin),
    tap: parseListenAddrOf('WEFT_PROXY_TAP_LISTEN_ADDR', c.tap),
    identity: { localName: c.localName, trustAnchors: c.trustAnchors, tokenFile: c.tokenFile, svcAddr: c.identitySvcAddr, svcName: c.identitySvcName },
    destination: { svcAddr: c.destinationSvcAddr, svcName: c.destinationSvcName, contextToken: c.contextToken },
    policySvcAddr: c.policySvcAddr,
    pod: { namespace: c.namespace, name: c.pod, workloadKind: c.workloadKind, workloadName: c.workloadName },
    opaquePorts: c.opaquePorts,
    inboundPorts: c.inboundPorts,
    defaultInboundPolicy: c.defaultInboundPolicy,
    detectTimeoutMs: c.detectTimeoutMs,
    connections: { connectMs: c.connectMs, handshakeMs: c.handshakeMs, keepAliveMs: c.keepAliveMs, userTimeoutMs: c.userTimeoutMs, peerPingMs: c.peerPingMs },
    meshHttp1: c.meshHttp1,
    appHost: c.appHost,
    inboundAppPort,
    tapClientId: c.tapClientId || undefined,
    shutdownEndpoint: c.shutdownEndpoint,
    workers: c.workers,
    tracing: traceConfig(
      { collector: c.traceCollector, sampling: c.traceSampling, serviceName: c.traceServiceName, queueSize: c.traceQueueSize, flushIntervalMs: c.traceFlushIntervalMs },
      { namespace: c.namespace, name: c.pod, workloadKind: c.workloadKind, workloadName: c.workloadName, contextToken: c.contextToken },
    ),
  };
}
