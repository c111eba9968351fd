/**
 * The identity service, assembled: issuer + trust sources → ActiveIssuer →
 * Certifier → gRPC server on TLS. identity serves with a leaf it issues to
 * itself (`weft-identity.<controlNs>...`) and re-issues when the issuer
 * rotates or the leaf nears expiry. main.ts, the local demo and e2e tests
 * all start it through `startIdentityService`.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { formatDnsIdentity, type WorkloadIdentity } from '@weft/common/identity-name';
import { startGrpcServer, type GrpcServer, type GrpcServerLimits, type TlsMaterial } from '@weft/common/grpc';
import type { Tracer } from '@weft/common/trace/tracer';
import { toPem } from '@weft/common/x509';
import { ActiveIssuer, type IssuerState } from './active-issuer.js';
import { Certifier } from './certifier.js';
import { certifyRoutes } from './certify-route.js';
import { DEFAULT_LEAF_POLICY, issueLeaf, type LeafPolicy } from './leaf.js';
import { IdentityMetrics } from './metrics.js';
import { generateEcdsaKeyPair, privateKeyPem, px509 } from './pki-keys.js';
import { DEFAULT_CERTIFY_RATE_LIMIT, SourceRateLimiter, type CertifyRateLimit } from './source-rate-limiter.js';
import type { IssuerSource, TrustAnchorSource } from './sources.js';
import type { TokenValidator } from './token-validator.js';

/** Floor between serving-certificate renewals, and the retry delay after a failed one. */
const RENEWAL_RETRY_MS = 30_000;
/** How often the issuer's remaining lifetime is re-checked for the 60-day warning. */
const EXPIRY_CHECK_MS = 6 * 3_600_000;

/**
 * Any pod reaches Certify without a client certificate, so its server is tight. A request is a token and a CSR
 * (each at most 16 KiB: MAX_TOKEN_BYTES, MAX_CSR_BYTES) and a name: 64 KiB is ample, nothing in it is worth compressing, and a
 * proxy has one call in flight. Compressed requests are refused outright rather than inflated (no zlib work for
 * strangers). docs/identity.md "Abuse limits".
 */
export const CERTIFY_SERVER_LIMITS: GrpcServerLimits = {
  maxMessageBytes: 64 * 1024,
  acceptGzip: false,
  maxConcurrentStreams: 16,
  maxSessionMemoryMiB: 4,
};

/** identity's own ServiceAccount (docs/contracts.md: control-plane identities). */
export const IDENTITY_SERVICE_ACCOUNT = 'weft-identity';

export interface IdentityServiceOptions {
  readonly host: string;
  /** 8080 in the cluster (docs/contracts.md); 0 picks a free port. */
  readonly port: number;
  readonly trustDomain: string;
  readonly controlNamespace: string;
  readonly leafPolicy?: LeafPolicy;
  /** Certify calls per caller IP; DEFAULT_CERTIFY_RATE_LIMIT when absent. */
  readonly certifyRateLimit?: CertifyRateLimit;
  readonly validator: TokenValidator;
  readonly issuerSource: IssuerSource;
  readonly trustSource: TrustAnchorSource;
  readonly log: Logger;
  readonly registry: Registry;
  readonly now?: () => Date;
  /** Traces each Certify call (docs/tracing.md); undefined: off. */
  readonly tracer?: Tracer;
}

export interface IdentityService {
  readonly port: number;
  /** The DNS identity identity's serving certificate carries (`WEFT_PROXY_IDENTITY_SVC_NAME`). */
  readonly serverName: string;
  readonly issuer: ActiveIssuer;
  /** The PEM trust bundle in use (what proxies get as `WEFT_PROXY_IDENTITY_TRUST_ANCHORS`). */
  trustAnchorsPem(): string;
  /** Why identity cannot issue now (its `/ready`), or undefined: an expired issuer signs nothing until cert-manager's renewal arrives. */
  notReadyReason(): string | undefined;
  close(): Promise<void>;
}

export async function startIdentityService(opts: IdentityServiceOptions): Promise<IdentityService> {
  const now = opts.now ?? (() => new Date());
  const policy = opts.leafPolicy ?? DEFAULT_LEAF_POLICY;
  const metrics = new IdentityMetrics(opts.registry);
  const self: WorkloadIdentity = {
    serviceAccount: IDENTITY_SERVICE_ACCOUNT,
    namespace: opts.controlNamespace,
    controlNamespace: opts.controlNamespace,
    trustDomain: opts.trustDomain,
  };
  const serverName = formatDnsIdentity(self);
  let server: GrpcServer | undefined;
  let renewTimer: NodeJS.Timeout | undefined;
  let closed = false;

  const selfCertify = async (state: IssuerState): Promise<TlsMaterial> => {
    const keys = await generateEcdsaKeyPair();
    const publicKey = await px509.PublicKey.create(keys.publicKey);
    const leaf = await issueLeaf(state.issuer, { identity: self, publicKey, keyType: 'ecdsa-p256' }, policy, now());
    scheduleRenewal(leaf.notAfter);
    return { ca: state.trust.pem, cert: toPem(leaf.der) + state.issuer.chainPem, key: await privateKeyPem(keys.privateKey) };
  };
  // Renew the serving leaf at half its lifetime, like proxies renew theirs early, so clients never meet an expired one.
  const scheduleRenewal = (notAfter: Date): void => {
    clearTimeout(renewTimer);
    if (closed) return;
    const delay = Math.min(Math.max(RENEWAL_RETRY_MS, (notAfter.getTime() - now().getTime()) / 2), 2 ** 31 - 1);
    renewTimer = setTimeout(() => void refreshServing(active.current), delay);
    renewTimer.unref();
  };
  const refreshServing = async (state: IssuerState): Promise<void> => {
    if (!server || closed) return;
    if (now() > state.issuer.notAfter) {
      // Nothing valid can be issued; wait for cert-manager (the rotation re-issues at once) instead of spinning.
      opts.log.error({ issuer: state.issuer.subject }, 'issuer expired; serving certificate not renewed');
      scheduleRenewal(new Date(now().getTime() + 2 * RENEWAL_RETRY_MS));
      return;
    }
    try {
      server.setTls(await selfCertify(state));
      opts.log.info({ serverName }, 'serving certificate re-issued');
    } catch (err) {
      opts.log.error({ err: (err as Error).message }, 'serving certificate re-issue failed; retrying');
      scheduleRenewal(new Date(now().getTime() + 2 * RENEWAL_RETRY_MS));
    }
  };

  const active = await ActiveIssuer.start({
    issuerSource: opts.issuerSource,
    trustSource: opts.trustSource,
    now,
    log: opts.log,
    metrics,
    onRotate: refreshServing,
  });
  const certifier = new Certifier({
    validator: opts.validator,
    issuer: () => active.current.issuer,
    controlNamespace: opts.controlNamespace,
    trustDomain: opts.trustDomain,
    policy,
    now,
  });
  const limiter = new SourceRateLimiter(opts.certifyRateLimit ?? DEFAULT_CERTIFY_RATE_LIMIT, () => now().getTime());
  try {
    server = await startGrpcServer({
      host: opts.host,
      port: opts.port,
      tls: await selfCertify(active.current),
      // Proxies call Certify before they hold a certificate; the token authenticates them.
      requireClientCert: false,
      limits: CERTIFY_SERVER_LIMITS,
      routes: certifyRoutes(certifier, limiter, metrics, opts.log),
      tracer: opts.tracer,
    });
  } catch (err) {
    clearTimeout(renewTimer);
    await active.stop();
    throw err;
  }
  const grpc = server;
  const expiryCheck = setInterval(() => active.warnIfExpiring(), EXPIRY_CHECK_MS);
  expiryCheck.unref();
  opts.log.info({ port: grpc.port, serverName }, 'identity serving Certify');
  return {
    port: grpc.port,
    serverName,
    issuer: active,
    trustAnchorsPem: () => active.current.trust.pem,
    notReadyReason() {
      const { issuer } = active.current;
      return now() > issuer.notAfter ? `issuer certificate "${issuer.subject}" expired at ${issuer.notAfter.toISOString()}` : undefined;
    },
    async close() {
      closed = true;
      clearTimeout(renewTimer);
      clearInterval(expiryCheck);
      await active.stop();
      await grpc.close();
    },
  };
}
