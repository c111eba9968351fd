/** viz's environment, parsed once at start-up (see docs/viz.md for every variable). */
import { env } from '@weft/common/config';
import { LOG_LEVELS } from '@weft/common/log';

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
  /** Comma-separated: loopback, token, kubernetes. */
  tapAuth: env.string('WEFT_VIZ_TAP_AUTH', 'loopback'),
  tapTokenFile: env.optionalString('WEFT_VIZ_TAP_TOKEN_FILE'),
  controlNamespace: env.string('WEFT_VIZ_CONTROL_NAMESPACE', 'weft'),
  trustDomain: env.string('WEFT_VIZ_TRUST_DOMAIN', 'cluster.local'),
};
