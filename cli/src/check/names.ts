/** Object names the control-plane chart creates, as `weft check` looks for them (one definition: @weft/api/names). */
export {
  CONTROL_PLANE_DEPLOYMENTS,
  DESTINATION_SECRET,
  ISSUER_SECRET,
  TRUST_ROOTS_CONFIGMAP,
  TRUST_ROOTS_KEY,
  VIZ_TAP_SECRET,
  WEBHOOK_CONFIG,
  WEBHOOK_SECRET,
  CRD_VERSION,
  WEFT_CRDS,
} from '@weft/api/names';
/** Certificates expiring within this many days are warned about. */
export const EXPIRY_WARNING_DAYS = 60;
/** Oldest Kubernetes the charts install on, and the first with native sidecars. */
export const MIN_KUBERNETES = { major: 1, minor: 27 };
export const NATIVE_SIDECAR_KUBERNETES = { major: 1, minor: 29 };
/** The variable in which the injector gives each proxy the trust anchors (injector/src/proxy-spec.ts). */
export const PROXY_TRUST_ANCHORS_ENV = 'WEFT_PROXY_IDENTITY_TRUST_ANCHORS';
