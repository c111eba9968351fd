/**
 * Assembles the injector process: mesh config, namespace informer, the HTTPS
 * webhook on 8443 and the admin server on 9995. `main.ts` calls it with the
 * process's env and flags; tests call it with their own.
 */
import { Counter } from 'prom-client';
import { env, loadConfig } from '@weft/common/config';
import { ConfigError } from '@weft/common/errors';
import { createLogger, LOG_LEVELS, type Logger } from '@weft/common/log';
import { createRegistry } from '@weft/common/metrics';
import { startAdminServer } from '@weft/common/admin';
import { loadKubeConfig, k8s } from '@weft/common/k8s/client';
import { checkTrustAnchors, loadMeshConfig, type MeshConfig } from './mesh-config.js';
import { NamespaceAnnotations } from './namespaces.js';
import { DEFAULT_WEBHOOK_LIMITS, startWebhookServer } from './webhook-server.js';
import { watchFiles } from './file-watch.js';
import { startTracing } from '@weft/common/trace/tracing';
import { loadInjectorTraceConfig } from './config.js';

const serverSchema = {
  listen: env.listenAddr('WEFT_INJECTOR_LISTEN_ADDR', '0.0.0.0:8443'),
  adminListen: env.listenAddr('WEFT_INJECTOR_ADMIN_LISTEN_ADDR', '0.0.0.0:9995'),
  certFile: env.string('WEFT_INJECTOR_TLS_CERT_FILE', '/var/run/weft/tls/tls.crt'),
  keyFile: env.string('WEFT_INJECTOR_TLS_KEY_FILE', '/var/run/weft/tls/tls.key'),
  filePollMs: env.duration('WEFT_INJECTOR_FILE_POLL_INTERVAL', '30s'),
  logLevel: env.oneOf('WEFT_INJECTOR_LOG_LEVEL', LOG_LEVELS, 'info'),
  kubeconfig: env.optionalString('WEFT_INJECTOR_KUBECONFIG'),
  kubeContext: env.optionalString('WEFT_INJECTOR_KUBE_CONTEXT'),
  kubernetesVersion: env.optionalString('WEFT_INJECTOR_KUBERNETES_VERSION'),
  trustAnchorsFile: env.string('WEFT_INJECTOR_TRUST_ANCHORS_FILE', '/var/run/weft/trust-roots/ca-bundle.crt'),
  maxConcurrentReviews: env.int('WEFT_INJECTOR_MAX_CONCURRENT_REVIEWS', DEFAULT_WEBHOOK_LIMITS.maxConcurrentReviews, { min: 1, max: 1000 }),
  /**
   * After SIGTERM, how long the webhook keeps answering before it stops: the API server reaches it through the
   * Service, which still sends calls here for a moment; a call that finds nothing is a pod admitted without a
   * proxy under failurePolicy Ignore (or refused under Fail) during every injector rollout.
   */
  shutdownDrainMs: env.duration('WEFT_INJECTOR_SHUTDOWN_DRAIN', '5s'),
};

export interface RunningInjector {
  readonly webhookPort: number;
  readonly adminPort: number;
  readonly log: Logger;
  /** How long to keep serving after SIGTERM (main.ts). */
  readonly shutdownDrainMs: number;
  mesh(): MeshConfig;
  /** SIGTERM: answer on, closing each webhook connection after its answer, so callers move to a live pod. */
  drain(): void;
  close(): Promise<void>;
}

export async function startInjector(source: NodeJS.ProcessEnv, log?: Logger): Promise<RunningInjector> {
  const cfg = loadConfig(serverSchema, source);
  log ??= createLogger('injector', cfg.logLevel);
  const traceConfig = loadInjectorTraceConfig(source);
  const registry = createRegistry('injector');
  const tracing = traceConfig ? startTracing(traceConfig, 'weft-injector', registry, log) : undefined;
  const kc = loadKubeConfig({ kubeconfig: cfg.kubeconfig, context: cfg.kubeContext, tracer: tracing?.tracer });

  let kubernetesVersion = cfg.kubernetesVersion;
  if (kubernetesVersion === undefined) {
    try {
      kubernetesVersion = (await kc.makeApiClient(k8s.VersionApi).getCode()).gitVersion;
    } catch (err) {
      throw new ConfigError([`cannot ask the API server for its version (set WEFT_INJECTOR_KUBERNETES_VERSION): ${(err as Error).message}`]);
    }
  }
  const meshEnv = { ...source, WEFT_INJECTOR_TRUST_ANCHORS_FILE: cfg.trustAnchorsFile };
  let mesh = loadMeshConfig(meshEnv, { kubernetesVersion });
  log.info({ kubernetesVersion, nativeSidecars: mesh.proxy.nativeSidecar, cni: mesh.cniMode, proxy: `${mesh.proxy.image}:${mesh.proxy.version}` }, 'mesh config loaded');

  // Trust anchors rotate (several anchors in the bundle during a rotation): new pods get the new bundle.
  const anchorsWatch = watchFiles([cfg.trustAnchorsFile], cfg.filePollMs, ([pem]) => {
    try {
      mesh = { ...mesh, trustAnchorsPem: checkTrustAnchors(pem!, cfg.trustAnchorsFile) };
      log!.info({ file: cfg.trustAnchorsFile }, 'trust anchors reloaded');
    } catch (err) {
      log!.warn({ err: (err as Error).message }, 'new trust anchors do not parse; keeping the old ones');
    }
  });

  const admissions = new Counter({
    name: 'injector_admission_total',
    help: 'AdmissionReview requests by result (injected, skipped, ignored, error, malformed, too-large, overloaded)',
    labelNames: ['result'],
    registers: [registry],
  });
  const certReloads = new Counter({
    name: 'injector_certificate_reload_total',
    help: 'Webhook certificate reloads by outcome',
    labelNames: ['ok'],
    registers: [registry],
  });

  const namespaces = new NamespaceAnnotations(kc, log);
  const nsStarted = namespaces.start().catch((err: unknown) => log!.error({ err: String(err) }, 'namespace informer failed to start'));
  const notReadyReason = (): string | undefined => (namespaces.isSynced ? undefined : 'namespace cache not synced yet');

  const webhook = await startWebhookServer({
    host: cfg.listen.host,
    port: cfg.listen.port,
    certFile: cfg.certFile,
    keyFile: cfg.keyFile,
    certPollMs: cfg.filePollMs,
    admission: { mesh: () => mesh, namespaceAnnotations: (ns) => namespaces.get(ns) },
    notReadyReason,
    log,
    limits: { maxConcurrentReviews: cfg.maxConcurrentReviews },
    onAdmission: (result) => admissions.inc({ result }),
    onCertificateReload: (ok) => certReloads.inc({ ok: String(ok) }),
    tracer: tracing?.tracer,
  });
  const admin = await startAdminServer({ host: cfg.adminListen.host, port: cfg.adminListen.port, registry, notReadyReason });
  log.info({ webhookPort: webhook.port, adminPort: admin.port }, 'injector serving');

  return {
    webhookPort: webhook.port,
    adminPort: admin.port,
    log,
    shutdownDrainMs: cfg.shutdownDrainMs,
    mesh: () => mesh,
    drain: () => webhook.drain(),
    async close() {
      anchorsWatch.close();
      await Promise.all([webhook.close(), admin.close()]);
      await nsStarted;
      await namespaces.stop();
      await tracing?.exporter.close();
    },
  };
}
