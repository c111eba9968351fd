/** Object names the control-plane chart creates (cdk8s/src/control-plane), as `weft check` looks for them. */
export const CONTROL_PLANE_DEPLOYMENTS = ['weft-identity', 'weft-destination', 'weft-injector'] as const;
export const TRUST_ROOTS_CONFIGMAP = 'weft-identity-trust-roots';
export const TRUST_ROOTS_KEY = 'ca-bundle.crt';
export const ISSUER_SECRET = 'weft-identity-issuer';
export const WEBHOOK_SECRET = 'weft-injector-k8s-tls';
export const DESTINATION_SECRET = 'weft-destination-tls';
/** weft-viz's tap client certificate (`viz.tapTlsSecret` of the weft-viz chart, default). */
export const VIZ_TAP_SECRET = 'weft-viz-tap-tls';
export const WEBHOOK_CONFIG = 'weft-proxy-injector-webhook-config';
/** Certificates expiring within this many days are warned about. */
export const EXPIRY_WARNING_DAYS = 60;
/** Oldest Kubernetes the charts install on, and the first with native sidecars. */
export const MIN_KUBERNETES = { major: 1, minor: 27 };
export const NATIVE_SIDECAR_KUBERNETES = { major: 1, minor: 29 };
