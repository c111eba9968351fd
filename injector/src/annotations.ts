/**
 * The annotation and label names weft reads and writes on pods, pod
 * templates and namespaces (ARCHITECTURE §1), and the names of everything
 * the injector adds to a pod, so that `uninject` can find them again.
 */

/** `weft.io/inject: enabled | disabled | ingress` on a namespace or a pod (template). */
export const INJECT_ANNOTATION = 'weft.io/inject';
export const INJECT_MODES = ['enabled', 'disabled', 'ingress'] as const;
export type InjectMode = (typeof INJECT_MODES)[number];

/** Written by the injector: marks a pod as injected (and lets the webhook skip it). */
export const INJECT_STATUS_ANNOTATION = 'weft.io/inject-status';
export const INJECT_STATUS_INJECTED = 'injected';
export const PROXY_VERSION_ANNOTATION = 'weft.io/proxy-version';
/** Label on injected pods naming the control plane that meshes them (selectable, unlike annotations). */
export const CONTROL_PLANE_NS_LABEL = 'weft.io/control-plane-ns';

/** Prefix of the per-pod (or per-namespace) proxy overrides. */
export const CONFIG_PREFIX = 'config.weft.io/';

/** Prometheus scrape annotations, pointing at the proxy's admin port. */
export const PROMETHEUS_ANNOTATIONS = {
  'prometheus.io/scrape': 'true',
  'prometheus.io/port': '4191',
  'prometheus.io/path': '/metrics',
} as const;

export const PROXY_CONTAINER = 'weft-proxy';
export const INIT_CONTAINER = 'weft-init';
export const TOKEN_VOLUME = 'weft-identity-token';
/** emptyDir for iptables' lock file: the init container's root filesystem is read-only. */
export const XTABLES_VOLUME = 'weft-init-xtables';
export const TOKEN_MOUNT_PATH = '/var/run/secrets/tokens';
export const TOKEN_FILE = 'weft-identity-token';
