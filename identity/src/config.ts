/**
 * identity's process configuration, from the environment (names in
 * docs/contracts.md, set by the weft-control-plane chart), parsed once at the
 * edge (main.ts) into a typed object; every problem is reported at once.
 */
import { ConfigError } from '@weft/common/errors';
import { env, loadConfig, parseListenAddr, type ListenAddr } from '@weft/common/config';
import { LOG_LEVELS } from '@weft/common/log';
import { controlPlaneTraceConfig, controlPlaneTraceSchema, type TraceConfig } from '@weft/common/trace/config';
import type { LevelWithSilent } from 'pino';
import { ISSUER_SECRET, TRUST_ROOTS_CONFIGMAP } from '@weft/api/names';
import { DEFAULT_CERTIFY_RATE_LIMIT, type CertifyRateLimit } from './source-rate-limiter.js';
import { TOKEN_AUDIENCE } from './token-validator.js';

/** Where the issuer comes from: the Kubernetes Secret + ConfigMap (in the cluster) or files (elsewhere). */
export const ISSUER_SOURCES = ['kubernetes', 'files'] as const;
export type IssuerSourceKind = (typeof ISSUER_SOURCES)[number];
/** The chart's `identity.issuer.scheme`; both read the same kubernetes.io/tls Secret (cert-manager's, or one the chart wrote). */
export const ISSUER_SCHEMES = ['kubernetes.io/tls', 'weft.io/tls'] as const;

export interface IdentityConfig {
  readonly logLevel: LevelWithSilent;
  readonly listen: ListenAddr;
  readonly adminListen: ListenAddr;
  readonly trustDomain: string;
  /** identity's namespace: where the issuer Secret and trust-roots ConfigMap live, and part of every DNS identity. */
  readonly controlNamespace: string;
  readonly issuanceLifetimeMs: number;
  readonly clockSkewMs: number;
  /** Certify calls per caller IP. */
  readonly certifyRateLimit: CertifyRateLimit;
  readonly tokenAudience: string;
  readonly issuerSource: IssuerSourceKind;
  readonly issuerSecret: string;
  readonly trustRootsConfigMap: string;
  readonly issuerCertFile: string | undefined;
  readonly issuerKeyFile: string | undefined;
  readonly trustAnchorsFile: string | undefined;
  readonly kubeconfig: string | undefined;
  /** Undefined: tracing is off (WEFT_IDENTITY_TRACE_COLLECTOR unset). */
  readonly tracing: TraceConfig | undefined;
}

const schema = {
  logLevel: env.oneOf('WEFT_IDENTITY_LOG_LEVEL', LOG_LEVELS, 'info'),
  listen: env.string('WEFT_IDENTITY_LISTEN_ADDR', '0.0.0.0:8080'),
  adminListen: env.string('WEFT_IDENTITY_ADMIN_LISTEN_ADDR', '0.0.0.0:9990'),
  trustDomain: env.string('WEFT_IDENTITY_TRUST_DOMAIN', 'cluster.local'),
  controlNamespace: env.string('WEFT_IDENTITY_CONTROL_NAMESPACE', 'weft'),
  issuanceLifetime: env.string('WEFT_IDENTITY_ISSUANCE_LIFETIME', '24h0m0s'),
  clockSkew: env.string('WEFT_IDENTITY_CLOCK_SKEW_ALLOWANCE', '20s'),
  certifySourceBurst: env.int('WEFT_IDENTITY_CERTIFY_SOURCE_BURST', DEFAULT_CERTIFY_RATE_LIMIT.burst, { min: 1, max: 100_000 }),
  certifySourcePerMinute: env.int('WEFT_IDENTITY_CERTIFY_SOURCE_PER_MINUTE', DEFAULT_CERTIFY_RATE_LIMIT.perMinute, { min: 1, max: 1_000_000 }),
  tokenAudience: env.string('WEFT_IDENTITY_TOKEN_AUDIENCE', TOKEN_AUDIENCE),
  issuerScheme: env.oneOf('WEFT_IDENTITY_ISSUER_SCHEME', ISSUER_SCHEMES, 'kubernetes.io/tls'),
  issuerSource: env.oneOf('WEFT_IDENTITY_ISSUER_SOURCE', ISSUER_SOURCES, 'kubernetes'),
  issuerSecret: env.string('WEFT_IDENTITY_ISSUER_SECRET', ISSUER_SECRET),
  trustRootsConfigMap: env.string('WEFT_IDENTITY_TRUST_ROOTS_CONFIGMAP', TRUST_ROOTS_CONFIGMAP),
  issuerCertFile: env.optionalString('WEFT_IDENTITY_ISSUER_CERT_FILE'),
  issuerKeyFile: env.optionalString('WEFT_IDENTITY_ISSUER_KEY_FILE'),
  trustAnchorsFile: env.optionalString('WEFT_IDENTITY_TRUST_ANCHORS_FILE'),
  kubeconfig: env.optionalString('WEFT_IDENTITY_KUBECONFIG'),
  ...controlPlaneTraceSchema('IDENTITY'),
};

/**
 * Bounds of WEFT_IDENTITY_ISSUANCE_LIFETIME. Leaves cannot be revoked, so their lifetime is how long a stolen
 * proxy key stays useful: at most a week. At least a minute, as proxies renew at 70 % of it.
 */
export const MIN_ISSUANCE_LIFETIME_MS = 60_000;
export const MAX_ISSUANCE_LIFETIME_MS = 7 * 24 * 3_600_000;

const GO_UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration (`24h0m0s`, `1h30m`, `20s`, `1.5h`), as the chart values are written, into ms. */
export function parseGoDuration(raw: string): number {
  const text = raw.trim();
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) throw new Error(`"${raw}" is not a duration (Go syntax, e.g. 24h0m0s, 90m, 20s)`);
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * GO_UNIT_MS[m[2]!]!;
  return Math.round(ms);
}

/** The shared listen-address syntax (`host:port`, `[v6]:port`, `:port`); a bad one is recorded as a problem naming the variable. */
function listenAddr(variable: string, raw: string, problems: string[]): ListenAddr {
  try {
    return parseListenAddr(raw);
  } catch (err) {
    problems.push(`${variable}=${(err as Error).message}`);
    return { host: '', port: 0 };
  }
}

/** The duration, or undefined (with the problem recorded) when it does not parse. */
function duration(variable: string, raw: string, problems: string[]): number | undefined {
  try {
    return parseGoDuration(raw);
  } catch (err) {
    problems.push(`${variable}: ${(err as Error).message}`);
    return undefined;
  }
}

export function loadIdentityConfig(source: NodeJS.ProcessEnv): IdentityConfig {
  const raw = loadConfig(schema, source);
  const problems: string[] = [];
  const listen = listenAddr('WEFT_IDENTITY_LISTEN_ADDR', raw.listen, problems);
  const adminListen = listenAddr('WEFT_IDENTITY_ADMIN_LISTEN_ADDR', raw.adminListen, problems);
  const issuanceLifetimeMs = duration('WEFT_IDENTITY_ISSUANCE_LIFETIME', raw.issuanceLifetime, problems);
  const clockSkewMs = duration('WEFT_IDENTITY_CLOCK_SKEW_ALLOWANCE', raw.clockSkew, problems);
  if (issuanceLifetimeMs !== undefined && issuanceLifetimeMs < MIN_ISSUANCE_LIFETIME_MS) {
    problems.push(`WEFT_IDENTITY_ISSUANCE_LIFETIME="${raw.issuanceLifetime}" must be at least 1m (proxies renew at 70 % of it)`);
  } else if (issuanceLifetimeMs !== undefined && issuanceLifetimeMs > MAX_ISSUANCE_LIFETIME_MS) {
    problems.push(`WEFT_IDENTITY_ISSUANCE_LIFETIME="${raw.issuanceLifetime}" must be at most 168h (7 days): leaves cannot be revoked, so their lifetime bounds a stolen key`);
  } else if (issuanceLifetimeMs !== undefined && clockSkewMs !== undefined && clockSkewMs >= issuanceLifetimeMs) {
    problems.push('WEFT_IDENTITY_CLOCK_SKEW_ALLOWANCE must be shorter than WEFT_IDENTITY_ISSUANCE_LIFETIME');
  }
  if (raw.issuerSource === 'files') {
    for (const [variable, value] of [
      ['WEFT_IDENTITY_ISSUER_CERT_FILE', raw.issuerCertFile],
      ['WEFT_IDENTITY_ISSUER_KEY_FILE', raw.issuerKeyFile],
      ['WEFT_IDENTITY_TRUST_ANCHORS_FILE', raw.trustAnchorsFile],
    ] as const) {
      if (!value) problems.push(`${variable} is required when WEFT_IDENTITY_ISSUER_SOURCE=files`);
    }
  }
  let tracing: TraceConfig | undefined;
  try {
    tracing = controlPlaneTraceConfig('IDENTITY', 'identity', raw);
  } catch (err) {
    problems.push(...(err as ConfigError).problems);
  }
  if (problems.length > 0 || issuanceLifetimeMs === undefined || clockSkewMs === undefined) throw new ConfigError(problems);
  return {
    logLevel: raw.logLevel,
    listen,
    adminListen,
    trustDomain: raw.trustDomain,
    controlNamespace: raw.controlNamespace,
    issuanceLifetimeMs,
    clockSkewMs,
    certifyRateLimit: { burst: raw.certifySourceBurst, perMinute: raw.certifySourcePerMinute },
    tokenAudience: raw.tokenAudience,
    issuerSource: raw.issuerSource,
    issuerSecret: raw.issuerSecret,
    trustRootsConfigMap: raw.trustRootsConfigMap,
    issuerCertFile: raw.issuerCertFile,
    issuerKeyFile: raw.issuerKeyFile,
    trustAnchorsFile: raw.trustAnchorsFile,
    kubeconfig: raw.kubeconfig,
    tracing,
  };
}
