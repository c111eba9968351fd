/** viz's environment, parsed once at start-up (see docs/viz.md for every variable). */
import { env } from '@weft/common/config';
import { LOG_LEVELS } from '@weft/common/log';
import { VIZ_SERVICE_NAMES } from './http/allowed-hosts.js';
import { TAP_TOKEN_AUDIENCE } from './tap/authorizer.js';

export const vizSchema = {
  logLevel: env.oneOf('WEFT_VIZ_LOG_LEVEL', LOG_LEVELS, 'info'),
  prometheusUrl: env.string('WEFT_VIZ_PROMETHEUS_URL', 'http://127.0.0.1:9090'),
  apiListenAddr: env.string('WEFT_VIZ_API_LISTEN_ADDR', '0.0.0.0:8085'),
  tapListenAddr: env.string('WEFT_VIZ_TAP_LISTEN_ADDR', '0.0.0.0:8088'),
  webListenAddr: env.string('WEFT_VIZ_WEB_LISTEN_ADDR', '0.0.0.0:8084'),
  /** Static proxy list (JSON/YAML); without it viz lists meshed pods from Kubernetes. */
  proxiesFile: env.optionalString('WEFT_VIZ_PROXIES_FILE'),
  /** PEM files: trust anchors, and viz's client certificate + key for the proxies' tap servers. */
  trustAnchorsFile: env.string('WEFT_VIZ_TRUST_ANCHORS_FILE'),
  tapCertFile: env.string('WEFT_VIZ_TAP_CERT_FILE'),
  tapKeyFile: env.string('WEFT_VIZ_TAP_KEY_FILE'),
  /** How often those files are re-read besides the directory watch (cert-manager renews them in place). */
  filePollMs: env.duration('WEFT_VIZ_FILE_POLL_INTERVAL', '30s'),
  /** Comma-separated: loopback, token, kubernetes. */
  tapAuth: env.string('WEFT_VIZ_TAP_AUTH', 'loopback'),
  tapTokenFile: env.optionalString('WEFT_VIZ_TAP_TOKEN_FILE'),
  /** The audience Kubernetes tokens for tap must carry (TokenReview `spec.audiences`). */
  tapTokenAudience: env.string('WEFT_VIZ_TAP_TOKEN_AUDIENCE', TAP_TOKEN_AUDIENCE),
  /** viz's namespace, for its Service names; unset = the pod's own namespace (none outside a pod). */
  namespace: env.optionalString('WEFT_VIZ_NAMESPACE'),
  /** Comma-separated Service names in front of viz; the Host names viz answers to derive from them. */
  serviceNames: env.string('WEFT_VIZ_SERVICE_NAMES', VIZ_SERVICE_NAMES.join(',')),
  clusterDomain: env.string('WEFT_VIZ_CLUSTER_DOMAIN', 'cluster.local'),
  /** Comma-separated extra Host names viz answers to (e.g. an ingress host); localhost and IP addresses always are. */
  allowedHosts: env.optionalString('WEFT_VIZ_ALLOWED_HOSTS'),
  controlNamespace: env.string('WEFT_VIZ_CONTROL_NAMESPACE', 'weft'),
  trustDomain: env.string('WEFT_VIZ_TRUST_DOMAIN', 'cluster.local'),
};
