/**
 * identity's process configuration, from the environment, parsed once at the
 * edge (main.ts) into a typed object; every problem is reported at once.
 */
import { ConfigError } from '@weft/common/errors';
import { env, loadConfig } from '@weft/common/config';
import { LOG_LEVELS } from '@weft/common/log';
import type { LevelWithSilent } from 'pino';

export const ISSUER_SOURCES = ['kubernetes', 'files'] as const;
export type IssuerSourceKind = (typeof ISSUER_SOURCES)[number];

export interface ListenAddr {
  readonly host: string;
  readonly port: number;
}

export interface IdentityConfig {
  readonly logLevel: LevelWithSilent;
  readonly listen: ListenAddr;
  readonly adminListen: ListenAddr;
  readonly trustDomain: string;
  /** identity's namespace: where the issuer Secret and trust-roots ConfigMap live, and part of every DNS identity. */
  readonly controlNamespace: string;
  readonly leafLifetimeMs: number;
  readonly clockSkewMs: number;
  readonly issuerSource: IssuerSourceKind;
  readonly issuerCertFile: string | undefined;
  readonly issuerKeyFile: string | undefined;
  readonly trustAnchorsFile: string | undefined;
  readonly kubeconfig: string | undefined;
}

const schema = {
  logLevel: env.oneOf('WEFT_IDENTITY_LOG_LEVEL', LOG_LEVELS, 'info'),
  listen: env.string('WEFT_IDENTITY_LISTEN_ADDR', '0.0.0.0:8080'),
  adminListen: env.string('WEFT_IDENTITY_ADMIN_LISTEN_ADDR', '0.0.0.0:9990'),
  trustDomain: env.string('WEFT_IDENTITY_TRUST_DOMAIN', 'cluster.local'),
  controlNamespace: env.string('WEFT_IDENTITY_CONTROL_NAMESPACE', 'weft'),
  leafLifetimeMs: env.duration('WEFT_IDENTITY_LEAF_LIFETIME', '24h'),
  clockSkewMs: env.duration('WEFT_IDENTITY_CLOCK_SKEW_ALLOWANCE', '20s'),
  issuerSource: env.oneOf('WEFT_IDENTITY_ISSUER_SOURCE', ISSUER_SOURCES, 'kubernetes'),
  issuerCertFile: env.optionalString('WEFT_IDENTITY_ISSUER_CERT_FILE'),
  issuerKeyFile: env.optionalString('WEFT_IDENTITY_ISSUER_KEY_FILE'),
  trustAnchorsFile: env.optionalString('WEFT_IDENTITY_TRUST_ANCHORS_FILE'),
  kubeconfig: env.optionalString('WEFT_IDENTITY_KUBECONFIG'),
};

export function parseListenAddr(variable: string, raw: string, problems: string[]): ListenAddr {
  const m = /^(.*):(\d+)$/.exec(raw);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || port > 65535) {
    problems.push(`${variable}="${raw}" is not host:port`);
    return { host: '', port: 0 };
  }
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

export function loadIdentityConfig(source: NodeJS.ProcessEnv): IdentityConfig {
  const raw = loadConfig(schema, source);
  const problems: string[] = [];
  const listen = parseListenAddr('WEFT_IDENTITY_LISTEN_ADDR', raw.listen, problems);
  const adminListen = parseListenAddr('WEFT_IDENTITY_ADMIN_LISTEN_ADDR', raw.adminListen, problems);
  if (raw.leafLifetimeMs < 60_000) problems.push(`WEFT_IDENTITY_LEAF_LIFETIME must be at least 1m (proxies renew at 70 % of it)`);
  if (raw.clockSkewMs >= raw.leafLifetimeMs) problems.push('WEFT_IDENTITY_CLOCK_SKEW_ALLOWANCE must be shorter than WEFT_IDENTITY_LEAF_LIFETIME');
  if (raw.issuerSource === 'files') {
    for (const [variable, value] of [
      ['WEFT_IDENTITY_ISSUER_CERT_FILE', raw.issuerCertFile],
      ['WEFT_IDENTITY_ISSUER_KEY_FILE', raw.issuerKeyFile],
      ['WEFT_IDENTITY_TRUST_ANCHORS_FILE', raw.trustAnchorsFile],
    ] as const) {
      if (!value) problems.push(`${variable} is required when WEFT_IDENTITY_ISSUER_SOURCE=files`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...raw, listen, adminListen };
}
