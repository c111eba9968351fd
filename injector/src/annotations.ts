/**
 * The annotation and label names weft reads and writes on pods, pod
 * templates and namespaces (ARCHITECTURE §1), and the names of everything
 * the injector adds to a pod, so that `uninject` can find them again.
 */

import { PROXY_PORTS } from '@weft/api/names';

export {
  CONFIG_PREFIX,
  CONTROL_PLANE_NS_LABEL,
  INIT_CONTAINER,
  INJECT_ANNOTATION,
  INJECT_STATUS_ANNOTATION,
  PROXY_CONTAINER,
  PROXY_VERSION_ANNOTATION,
} from '@weft/api/names';

/** Values of `weft.io/inject` on a namespace or a pod (template). */
export const INJECT_MODES = ['enabled', 'disabled', 'ingress'] as const;
export type InjectMode = (typeof INJECT_MODES)[number];

/** Value of `weft.io/inject-status` on a pod the injector changed. */
export const INJECT_STATUS_INJECTED = 'injected';

/** Prometheus scrape annotations, pointing at the proxy's admin port. */
export const PROMETHEUS_ANNOTATIONS = {
  'prometheus.io/scrape': 'true',
  'prometheus.io/port': String(PROXY_PORTS.admin),
  'prometheus.io/path': '/metrics',
} as const;

export const TOKEN_VOLUME = 'weft-identity-token';
/** emptyDir for iptables' lock file: the init container's root filesystem is read-only. */
export const XTABLES_VOLUME = 'weft-init-xtables';
export const TOKEN_MOUNT_PATH = '/var/run/secrets/tokens';
export const TOKEN_FILE = 'weft-identity-token';
