/**
 * The names more than one component relies on (docs/contracts.md): ports,
 * Kubernetes object names, annotations and labels, headers and token
 * audiences. The proxy, the control plane, the charts' synthesis and the CLI
 * import them from here, so a name is changed in one place. Plain constants,
 * no imports: anything can depend on this module.
 */

// --- proxy -----------------------------------------------------------------

/** The proxy's listeners (ARCHITECTURE §ports). */
export const PROXY_PORTS = { outbound: 4140, inbound: 4143, admin: 4191, tap: 4190 } as const;
/** The proxy's user: weft-init excludes its traffic from redirection. */
export const PROXY_UID = 2102;
export const PROXY_CONTAINER = 'weft-proxy';
export const INIT_CONTAINER = 'weft-init';

/** Default inbound policies a pod, namespace or cluster may name. */
export const INBOUND_POLICIES = ['all-unauthenticated', 'all-authenticated', 'cluster-authenticated', 'deny'] as const;
export type InboundPolicy = (typeof INBOUND_POLICIES)[number];

/** Headers the proxies add between themselves (stripped at the edges of the mesh). */
export const HEADERS = {
  /** The original destination port of a request carried over a mesh connection. */
  dstPort: 'weft-dst-port',
  /** The verified client identity, given to the application by the inbound proxy. */
  clientId: 'weft-client-id',
  /** The application's protocol when HTTP/1 rides an h2 mesh connection. */
  origProto: 'weft-orig-proto',
} as const;

/** ALPN protocol of opaque TCP carried over mesh mTLS. */
export const ALPN_TCP = 'weft.tcp';

// --- Kubernetes objects of the control plane ----------------------------------

export const CONTROL_PLANE_DEPLOYMENTS = ['weft-identity', 'weft-destination', 'weft-injector'] as const;
/** The issuer certificate and key identity signs with (cert-manager or the chart writes it). */
export const ISSUER_SECRET = 'weft-identity-issuer';
/** The trust anchor bundle identity and every proxy verify against. */
export const TRUST_ROOTS_CONFIGMAP = 'weft-identity-trust-roots';
export const TRUST_ROOTS_KEY = 'ca-bundle.crt';
/** Serving certificates of destination and of the injector's webhook. */
export const DESTINATION_SECRET = 'weft-destination-tls';
export const WEBHOOK_SECRET = 'weft-injector-k8s-tls';
export const WEBHOOK_CONFIG = 'weft-proxy-injector-webhook-config';
/** weft-viz's client certificate for the proxies' tap servers (the weft-viz chart's default). */
export const VIZ_TAP_SECRET = 'weft-viz-tap-tls';

/** API groups and versions of weft's CRDs (docs/crds.md). */
export const PROFILE_GROUP = 'weft.io';
export const POLICY_GROUP = 'policy.weft.io';
/** The version every weft client reads and writes, and the storage version. */
export const CRD_VERSION = 'v1beta1';
/** Still served, deprecated, with the same schema (conversion None); removed once clusters migrated their storage (`weft crds migrate`). */
export const CRD_DEPRECATED_VERSION = 'v1alpha1';
/** weft's CRDs; each is named `<plural>.<group>`. */
export const WEFT_CRDS = [
  { group: PROFILE_GROUP, kind: 'ServiceProfile', plural: 'serviceprofiles' },
  { group: POLICY_GROUP, kind: 'Server', plural: 'servers' },
  { group: POLICY_GROUP, kind: 'AuthorizationPolicy', plural: 'authorizationpolicies' },
  { group: POLICY_GROUP, kind: 'MeshTLSAuthentication', plural: 'meshtlsauthentications' },
  { group: POLICY_GROUP, kind: 'NetworkAuthentication', plural: 'networkauthentications' },
] as const;
export type WeftCrd = (typeof WEFT_CRDS)[number];
/** The Gateway API group (HTTPRoute, GRPCRoute, ReferenceGrant) and the controller name weft writes in route status. */
export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
export const ROUTE_CONTROLLER_NAME = 'weft.io/destination';

/** Audiences of the ServiceAccount tokens weft's servers accept. */
export const TOKEN_AUDIENCES = { identity: 'identity.weft.io', tap: 'tap.weft.io' } as const;

// --- annotations and labels on workloads -----------------------------------------

/** `weft.io/inject: enabled | disabled | ingress` on a namespace or a pod (template). */
export const INJECT_ANNOTATION = 'weft.io/inject';
/** Written by the injector: marks a pod as injected (and lets the webhook skip it). */
export const INJECT_STATUS_ANNOTATION = 'weft.io/inject-status';
export const PROXY_VERSION_ANNOTATION = 'weft.io/proxy-version';
/** Set by whoever runs the proxy on a non-default inbound port (the local demo). */
export const PROXY_INBOUND_PORT_ANNOTATION = 'weft.io/proxy-inbound-port';
/** Label on injected pods naming the control plane that meshes them (selectable, unlike annotations). */
export const CONTROL_PLANE_NS_LABEL = 'weft.io/control-plane-ns';
/** Prefix of the per-pod (or per-namespace) proxy settings, e.g. `config.weft.io/opaque-ports`. */
export const CONFIG_PREFIX = 'config.weft.io/';
export const OPAQUE_PORTS_ANNOTATION = `${CONFIG_PREFIX}opaque-ports`;
export const DEFAULT_INBOUND_POLICY_ANNOTATION = `${CONFIG_PREFIX}default-inbound-policy`;

/**
 * The proxy's connection settings (proxy/src/transport/connections.ts) a platform sets mesh-wide (chart value
 * `proxy.<key>`, the injector's `injectorVariable`) or per workload (`config.weft.io/<annotation>`): the proxy's
 * variable, its default, and the bounds
 * the proxy holds a value to — the injector holds annotations and chart values to the same, so that no value it
 * accepts stops a proxy from starting.
 */
export const PROXY_CONNECTION_SETTINGS = {
  connectTimeout: { variable: 'WEFT_PROXY_CONNECT_TIMEOUT', injectorVariable: 'WEFT_INJECTOR_PROXY_CONNECT_TIMEOUT', annotation: 'proxy-connect-timeout', default: '1s', min: '1ms', max: '24h' },
  tlsHandshakeTimeout: { variable: 'WEFT_PROXY_TLS_HANDSHAKE_TIMEOUT', injectorVariable: 'WEFT_INJECTOR_PROXY_TLS_HANDSHAKE_TIMEOUT', annotation: 'proxy-tls-handshake-timeout', default: '10s', min: '1ms', max: '24h' },
  // The kernel counts keepalive in whole seconds.
  keepalive: { variable: 'WEFT_PROXY_KEEPALIVE', injectorVariable: 'WEFT_INJECTOR_PROXY_KEEPALIVE', annotation: 'proxy-keepalive', default: '10s', min: '1s', max: '24h' },
  userTimeout: { variable: 'WEFT_PROXY_USER_TIMEOUT', injectorVariable: 'WEFT_INJECTOR_PROXY_USER_TIMEOUT', annotation: 'proxy-user-timeout', default: '20s', min: '1ms', max: '24h' },
  peerPingInterval: { variable: 'WEFT_PROXY_PEER_PING_INTERVAL', injectorVariable: 'WEFT_INJECTOR_PROXY_PEER_PING_INTERVAL', annotation: 'proxy-peer-ping-interval', default: '10s', min: '1ms', max: '24h' },
} as const;
export type ProxyConnectionSetting = keyof typeof PROXY_CONNECTION_SETTINGS;
