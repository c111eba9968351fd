#!/usr/bin/env node
/**
 * `node identity/dist/main.js`: the identity process. Reads its configuration
 * from the environment (config.ts), checks its Kubernetes permissions, loads
 * and validates the issuer, then serves Certify on 8080 and the admin server
 * on 9990 (/ready once an issuer is loaded, and not while it is expired). Any
 * start-up problem is logged with its reason and the process exits 1.
 */
import { createLogger } from '@weft/common/log';
import { createRegistry } from '@weft/common/metrics';
import { startAdminServer, type AdminServer } from '@weft/common/admin';
import { WeftError } from '@weft/common/errors';
import { loadKubeConfig } from '@weft/common/k8s/client';
import { startTracing, type Tracing } from '@weft/common/trace/tracing';
import { requirePermissions } from './access-review.js';
import { loadIdentityConfig, type IdentityConfig } from './config.js';
import { fileIssuerSource, fileTrustSource } from './file-sources.js';
import { startIdentityService, type IdentityService } from './identity-service.js';
import { configMapTrustSource, secretIssuerSource, sourcePermissions } from './kubernetes-sources.js';
import { KubernetesTokenValidator, TOKEN_REVIEW_PERMISSION } from './kubernetes-token-validator.js';

async function main(): Promise<void> {
  let config: IdentityConfig;
  try {
    config = loadIdentityConfig(process.env);
  } catch (err) {
    process.stderr.write(`weft identity: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const log = createLogger('identity', config.logLevel);
  const registry = createRegistry('identity');
  let service: IdentityService | undefined;
  let admin: AdminServer | undefined;
  // Certify calls and the Kubernetes calls they make (TokenReview) as spans (docs/tracing.md).
  const tracing: Tracing | undefined = config.tracing ? startTracing(config.tracing, 'weft-identity', registry, log) : undefined;

  const shutdown = async (signal: string): Promise<void> => {
    log.info({ signal }, 'shutting down');
    await service?.close();
    await tracing?.exporter.close();
    await admin?.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  try {
    admin = await startAdminServer({
      ...config.adminListen,
      registry,
      notReadyReason: () => (service ? service.notReadyReason() : 'no issuer loaded yet'),
    });
    log.info({ port: admin.port }, 'admin listening');
    const kc = loadKubeConfig({ kubeconfig: config.kubeconfig, tracer: tracing?.tracer });
    const validator = new KubernetesTokenValidator(kc, log, config.tokenAudience);
    const fromKubernetes = config.issuerSource === 'kubernetes';
    const names = { secret: config.issuerSecret, configMap: config.trustRootsConfigMap };
    await requirePermissions(kc, [TOKEN_REVIEW_PERMISSION, ...(fromKubernetes ? sourcePermissions(config.controlNamespace, names) : [])]);
    const sourceOpts = { kc, namespace: config.controlNamespace, log };
    service = await startIdentityService({
      ...config.listen,
      trustDomain: config.trustDomain,
      controlNamespace: config.controlNamespace,
      leafPolicy: { lifetimeMs: config.issuanceLifetimeMs, clockSkewMs: config.clockSkewMs },
      certifyRateLimit: config.certifyRateLimit,
      validator,
      issuerSource: fromKubernetes ? secretIssuerSource({ ...sourceOpts, name: config.issuerSecret }) : fileIssuerSource({ certFile: config.issuerCertFile!, keyFile: config.issuerKeyFile! }),
      trustSource: fromKubernetes ? configMapTrustSource({ ...sourceOpts, name: config.trustRootsConfigMap }) : fileTrustSource({ file: config.trustAnchorsFile! }),
      log,
      registry,
      tracer: tracing?.tracer,
    });
  } catch (err) {
    const known = err instanceof WeftError;
    log.fatal({ code: known ? err.code : undefined, ...(known ? {} : { stack: (err as Error).stack }) }, `identity cannot start: ${(err as Error).message}`);
    await admin?.close();
    process.exit(1);
  }
}

void main();
