/** viz's entry point: configuration from the environment, then `startViz`. */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '@weft/common/errors';
import { createLogger } from '@weft/common/log';
import { loadConfig, parseListenAddr } from '@weft/common/config';
import { loadKubeConfig } from '@weft/common/k8s/client';
import { watchFiles } from '@weft/common/file-watch';
import { vizSchema } from './config.js';
import { AllowedHosts, serviceHostNames } from './http/allowed-hosts.js';
import { isNamespaceName } from './resource.js';
import { FileTargetSource, type TargetSource } from './targets.js';
import { KubernetesTargetSource } from './kubernetes-targets.js';
import { AnyOfAuthorizer, KubernetesAuthorizer, LoopbackAuthorizer, TokenAuthorizer, type TapAuthorizer } from './tap/authorizer.js';
import { kubernetesReviews } from './tap/kubernetes-reviews.js';
import { startViz, type Listen } from './viz.js';
import type { TapClientTls } from './tap/aggregator.js';

/** The shared listen-address syntax (`host:port`, `[v6]:port`, `:port`), refused with the variable's name. */
function listenAddr(variable: string, raw: string): Listen {
  try {
    return parseListenAddr(raw);
  } catch (err) {
    throw new ConfigError([`${variable}=${(err as Error).message}`]);
  }
}

function read(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${variable}: cannot read ${path}: ${(err as Error).message}`]);
  }
}

/** In a pod, the namespace the ServiceAccount token is mounted for. */
const POD_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function list(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * The Host names viz answers to besides localhost and IPs: its Services'
 * names in its namespace, and the configured extras. Outside a pod, without
 * WEFT_VIZ_NAMESPACE, there are no Services to name.
 */
function allowedHosts(cfg: ReturnType<typeof loadConfig<typeof vizSchema>>): string[] {
  let namespace = cfg.namespace;
  if (namespace === undefined) {
    try {
      namespace = readFileSync(POD_NAMESPACE_FILE, 'utf8').trim();
    } catch {
      namespace = undefined;
    }
  }
  const problems: string[] = [];
  if (namespace !== undefined && !isNamespaceName(namespace)) problems.push(`WEFT_VIZ_NAMESPACE: "${namespace}" is not a valid namespace name`);
  const services = list(cfg.serviceNames);
  for (const s of services) if (!isNamespaceName(s)) problems.push(`WEFT_VIZ_SERVICE_NAMES: "${s}" is not a valid Service name`);
  const extra = list(cfg.allowedHosts);
  for (const h of extra) {
    try {
      new AllowedHosts([h]);
    } catch (err) {
      problems.push(`WEFT_VIZ_ALLOWED_HOSTS: ${(err as Error).message}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return [...(namespace ? serviceHostNames(services, namespace, cfg.clusterDomain) : []), ...extra];
}

async function main(): Promise<void> {
  const cfg = loadConfig(vizSchema, process.env);
  const hosts = allowedHosts(cfg);
  const log = createLogger('viz', cfg.logLevel);
  let kc: ReturnType<typeof loadKubeConfig> | undefined;
  const kube = () => (kc ??= loadKubeConfig());
  const targets: TargetSource = cfg.proxiesFile
    ? new FileTargetSource(cfg.proxiesFile)
    : new KubernetesTargetSource(kube(), { controlNamespace: cfg.controlNamespace, trustDomain: cfg.trustDomain });
  const modes: TapAuthorizer[] = [];
  for (const mode of cfg.tapAuth.split(',').map((m) => m.trim()).filter(Boolean)) {
    if (mode === 'loopback') modes.push(new LoopbackAuthorizer());
    else if (mode === 'token') {
      if (!cfg.tapTokenFile) throw new ConfigError(['WEFT_VIZ_TAP_AUTH includes token but WEFT_VIZ_TAP_TOKEN_FILE is not set']);
      modes.push(new TokenAuthorizer(read('WEFT_VIZ_TAP_TOKEN_FILE', cfg.tapTokenFile).trim()));
    } else if (mode === 'kubernetes') modes.push(new KubernetesAuthorizer(kubernetesReviews(kube(), cfg.tapTokenAudience)));
    else throw new ConfigError([`WEFT_VIZ_TAP_AUTH: "${mode}" is not one of loopback, token, kubernetes`]);
  }
  if (modes.length === 0) throw new ConfigError(['WEFT_VIZ_TAP_AUTH names no mode']);
  // The tap client certificate and the anchors are mounted Secrets/ConfigMaps that cert-manager renews and
  // the kubelet swaps (`..data`): follow them; the tap client reads the current material for each new connection.
  const tapTls: { -readonly [K in keyof TapClientTls]: TapClientTls[K] } = {
    ca: read('WEFT_VIZ_TRUST_ANCHORS_FILE', cfg.trustAnchorsFile),
    cert: read('WEFT_VIZ_TAP_CERT_FILE', cfg.tapCertFile),
    key: read('WEFT_VIZ_TAP_KEY_FILE', cfg.tapKeyFile),
  };
  const tlsWatch = watchFiles([cfg.trustAnchorsFile, cfg.tapCertFile, cfg.tapKeyFile], cfg.filePollMs, ([ca, cert, key]) => {
    try {
      createSecureContext({ ca, cert, key });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'new tap client certificate does not load yet; keeping the old one');
      return;
    }
    Object.assign(tapTls, { ca, cert, key });
    log.info({ certFile: cfg.tapCertFile }, 'tap client certificate reloaded');
  });
  const viz = await startViz({
    prometheusUrl: cfg.prometheusUrl,
    targets,
    tapTls,
    authorizer: modes.length === 1 ? modes[0] : new AnyOfAuthorizer(modes),
    api: listenAddr('WEFT_VIZ_API_LISTEN_ADDR', cfg.apiListenAddr),
    tap: listenAddr('WEFT_VIZ_TAP_LISTEN_ADDR', cfg.tapListenAddr),
    web: listenAddr('WEFT_VIZ_WEB_LISTEN_ADDR', cfg.webListenAddr),
    allowedHosts: hosts,
    log,
  });
  log.info({ api: viz.apiUrl, tap: viz.tapUrl, web: viz.webUrl, tapAuth: cfg.tapAuth, allowedHosts: ['localhost', 'IP addresses', ...hosts] }, 'viz started');
  const stop = () => {
    tlsWatch.close();
    void viz.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`viz: ${(err as Error).message}\n`);
  process.exit(1);
});
