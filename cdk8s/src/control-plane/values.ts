/**
 * Values of the weft-control-plane chart: identity, destination and the
 * proxy injector, plus how their certificates are supplied.
 */
import { bool, group, int, object, oneOf, resources, str, stringList } from '../values/model.js';
import { PROXY_CONNECTION_SETTINGS, type ProxyConnectionSetting } from '@weft/api/names';
import { componentImage, imageValues, podDisruptionBudgetValues, replicas, schedulingValues } from '../chart/common-values.js';

/** A proxy connection setting: empty (the proxy's default) or a duration the proxy takes (@weft/api/names). */
function connectionValue(key: ProxyConnectionSetting, what: string) {
  const c = PROXY_CONNECTION_SETTINGS[key];
  return str({
    default: '',
    description: `${what}; empty: the proxy's default, ${c.default} (${c.min} to ${c.max}). A pod's \`config.weft.io/${c.annotation}\` wins.`,
    pattern: '^$|^[0-9]+(\\.[0-9]+)?(ms|s|m|h)$',
  });
}

const DURATION = '^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$';
const PEM_CERT = '^$|-----BEGIN CERTIFICATE-----';
const QUANTITY = '^$|^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$';
const CIDR_LIST = '^[0-9a-fA-F.:/,]*$';
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
const INBOUND_POLICIES = ['all-unauthenticated', 'all-authenticated', 'cluster-authenticated', 'deny'] as const;

const controllerResources = () =>
  resources({ default: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } }, description: 'Resources of the container.' });

export const controlPlaneValues = group('weft-control-plane values', {
  identityTrustDomain: str({ default: 'cluster.local', description: 'Trust domain of workload identities (DNS and SPIFFE names).', pattern: '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$' }),
  clusterDomain: str({ default: 'cluster.local', description: 'Kubernetes cluster DNS domain.', pattern: '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$' }),
  identityTrustAnchorsPEM: str({
    default: '',
    description: 'PEM bundle of trust anchors (root certificates) every proxy trusts; required unless `identity.externalCA` (then the `weft-identity-trust-roots` ConfigMap is managed outside the chart, e.g. by trust-manager). May hold several certificates during a rotation.',
    pattern: PEM_CERT,
  }),
  logLevel: oneOf(LOG_LEVELS, { default: 'info', description: 'Log level of the control-plane components.' }),
  image: imageValues(),
  ...schedulingValues(),
  enablePodAntiAffinity: bool({ default: false, description: 'Require replicas of a component on different nodes (and prefer different zones).' }),
  podDisruptionBudget: podDisruptionBudgetValues(),
  identity: group('The identity service (issues proxy certificates).', {
    replicas: replicas('identity'),
    image: componentImage('identity'),
    resources: controllerResources(),
    externalCA: bool({ default: false, description: 'The trust-roots ConfigMap `weft-identity-trust-roots` is managed outside the chart (e.g. trust-manager); the chart does not render it.' }),
    issuer: group('The issuer certificate identity signs with.', {
      scheme: oneOf(['kubernetes.io/tls', 'weft.io/tls'] as const, {
        default: 'weft.io/tls',
        description: '`weft.io/tls`: the chart renders the Secret `weft-identity-issuer` from `identity.issuer.tls` (required then, unless `certManager.create`). `kubernetes.io/tls`: the Secret is maintained outside the chart (your cert-manager Certificate, or you). Whatever the scheme, issuer PEMs given in `identity.issuer.tls` are rendered into the Secret.',
      }),
      issuanceLifetime: str({ default: '24h0m0s', description: 'Lifetime of the certificates identity issues to proxies.', pattern: DURATION }),
      clockSkewAllowance: str({ default: '20s', description: 'How far back `notBefore` is set, for clock skew between nodes.', pattern: DURATION }),
      tls: group('Issuer certificate and key for `scheme: weft.io/tls`.', {
        crtPEM: str({ default: '', description: 'Issuer certificate (PEM), signed by a trust anchor.', pattern: PEM_CERT }),
        keyPEM: str({ default: '', description: 'Issuer private key (PEM).', pattern: '^$|-----BEGIN [A-Z ]*PRIVATE KEY-----' }),
      }),
    }),
  }),
  destination: group('The destination service (discovery, profiles, inbound policy).', {
    replicas: replicas('destination'),
    image: componentImage('destination'),
    resources: controllerResources(),
    defaultInboundPolicy: oneOf(INBOUND_POLICIES, { default: 'all-unauthenticated', description: 'Inbound policy of ports no Server selects.' }),
    clusterNetworks: str({ default: '10.0.0.0/8,100.64.0.0/10,172.16.0.0/12,192.168.0.0/16,fd00::/8', description: 'CIDRs of the cluster (for `cluster-authenticated`), comma-separated.', pattern: '^[0-9a-fA-F.:/,]+$' }),
    tls: group('Serving certificate of destination (proxies verify it as `weft-destination.<ns>.serviceaccount.identity.<ns>.<trustDomain>`).', {
      externalSecret: bool({ default: false, description: 'You create the Secret `weft-destination-tls` (the chart renders none). Off (default), the chart renders it from `crtPEM`/`keyPEM`, or generates a certificate signed by the identity issuer of `identity.issuer.tls` (kept across upgrades), unless cert-manager issues it (`certManager.create` or `destination.tls.certManager`).' }),
      certManager: bool({ default: false, description: 'Render a cert-manager Certificate for destination, issued by a CA Issuer over `weft-identity-issuer`, when the issuer itself is managed outside the chart (`certManager.create` implies it).' }),
      crtPEM: str({ default: '', description: 'Serving certificate (PEM, the leaf then the identity issuer) for `weft-destination.<ns>.serviceaccount.identity.<ns>.<trustDomain>`; empty: generated.', pattern: PEM_CERT }),
      keyPEM: str({ default: '', description: 'Its private key (PEM).', pattern: '^$|-----BEGIN [A-Z ]*PRIVATE KEY-----' }),
    }),
  }),
  proxyInjector: group('The proxy injector (mutating admission webhook).', {
    replicas: replicas('the proxy injector'),
    image: componentImage('injector'),
    resources: controllerResources(),
    failurePolicy: oneOf(['Fail', 'Ignore'] as const, { default: 'Ignore', description: 'What the API server does when the webhook cannot be reached. `Fail` guarantees every pod in a meshed namespace is meshed; use it with HA.' }),
    timeoutSeconds: int({ default: 10, minimum: 1, maximum: 30, description: 'Webhook call timeout.' }),
    namespaceSelector: object({
      default: { matchExpressions: [{ key: 'weft.io/inject', operator: 'NotIn', values: ['disabled'] }] },
      description: 'Namespaces whose pods the webhook sees (a LabelSelector). Pods are injected when their namespace or pod template says `weft.io/inject: enabled`. Helm merges maps: set `matchExpressions: null` to replace the default expressions. `excludedNamespaces` is added to it as one more expression.',
      docType: 'LabelSelector',
      schema: { type: 'object', properties: { matchLabels: { type: 'object', additionalProperties: { type: 'string' } }, matchExpressions: { type: 'array', items: { type: 'object', required: ['key', 'operator'], properties: { key: { type: 'string' }, operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] }, values: { type: 'array', items: { type: 'string' } } } } } }, additionalProperties: false },
    }),
    excludedNamespaces: stringList({
      default: ['kube-system', 'kube-public', 'kube-node-lease', 'cert-manager'],
      description: 'Namespaces the API server never sends to the webhook (`kubernetes.io/metadata.name NotIn`), whatever `namespaceSelector` says; the release namespace is always added. With `failurePolicy: Fail` a webhook that is down would otherwise block pods there, including cert-manager\'s, which issues the webhook\'s own certificate. List cert-manager\'s namespace here if it is not `cert-manager`; keep `kube-system`.',
    }),
    objectSelector: object({
      default: {},
      description: 'Pods (by label) the webhook sees, a LabelSelector; the control plane\'s own pods (`app.kubernetes.io/part-of: weft`) are always left out.',
      docType: 'LabelSelector',
      schema: { type: 'object', properties: { matchLabels: { type: 'object', additionalProperties: { type: 'string' } }, matchExpressions: { type: 'array', items: { type: 'object', required: ['key', 'operator'], properties: { key: { type: 'string' }, operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] }, values: { type: 'array', items: { type: 'string' } } } } } }, additionalProperties: false },
    }),
    vizNamespace: str({ default: 'weft-viz', description: 'Namespace of the weft-viz chart: injected proxies let only its `weft-viz` ServiceAccount tap them (`WEFT_PROXY_TAP_CLIENT_ID`).', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
    allowProxyImageOverride: bool({ default: false, description: 'Honour `config.weft.io/proxy-image` on pods and namespaces. Off, the annotation is refused with an admission warning and the default proxy image is used: the image also runs the `weft-init` container, as root with `NET_ADMIN`.' }),
    externalSecret: bool({ default: false, description: 'You create the webhook serving certificate Secret `weft-injector-k8s-tls` (e.g. a cert-manager Certificate); then set `injectCaFrom` (cainjector) or `caBundle`. Off (default), the chart renders it from `tls.crtPEM`/`tls.keyPEM` + `caBundle`, or generates a CA and certificate (kept across upgrades), unless `certManager.create`.' }),
    injectCaFrom: str({ default: '', description: '`<namespace>/<Certificate>` whose CA cainjector puts into the webhook (with `externalSecret`); with `certManager.create`, empty means `<release namespace>/weft-injector`.', pattern: '^$|^[a-z0-9-]+/[a-z0-9.-]+$' }),
    caBundle: str({ default: '', description: 'PEM CA bundle of the webhook serving certificate, when it is not generated nor injected by cert-manager.', pattern: PEM_CERT }),
    tls: group('Webhook serving certificate when the chart renders its Secret; empty: generated.', {
      crtPEM: str({ default: '', description: 'Serving certificate (PEM) for `weft-injector.<namespace>.svc`; needs `caBundle`.', pattern: PEM_CERT }),
      keyPEM: str({ default: '', description: 'Its private key (PEM).', pattern: '^$|-----BEGIN [A-Z ]*PRIVATE KEY-----' }),
    }),
  }),
  proxy: group('Defaults for the injected proxy (overridable per workload with `config.weft.io/*`).', {
    image: componentImage('proxy'),
    logLevel: oneOf(LOG_LEVELS, { default: 'info', description: 'Proxy log level.' }),
    logFormat: oneOf(['json', 'plain'] as const, { default: 'json', description: 'Proxy log format: `json` (one JSON object per line, for log pipelines) or `plain` (one readable line per entry). A pod\'s `config.weft.io/proxy-log-format` wins.' }),
    cpuRequest: str({ default: '100m', description: 'Proxy CPU request (empty: none).', pattern: QUANTITY }),
    cpuLimit: str({ default: '', description: 'Proxy CPU limit (empty: none).', pattern: QUANTITY }),
    memoryRequest: str({ default: '64Mi', description: 'Proxy memory request (empty: none).', pattern: QUANTITY }),
    memoryLimit: str({ default: '256Mi', description: 'Proxy memory limit (empty: none).', pattern: QUANTITY }),
    opaquePorts: str({ default: '25,587,3306,4444,5432,6379,9300,11211', description: 'Ports treated as opaque TCP (no protocol detection).', pattern: '^[0-9,-]*$' }),
    await: bool({ default: true, description: 'Hold application containers until the proxy is ready.' }),
    awaitTimeout: str({ default: '120s', description: 'How long an app container is held for the proxy before it starts anyway.', pattern: DURATION }),
    workers: int({ default: 1, minimum: 1, maximum: 64, description: 'Threads each proxy serves requests on (`WEFT_PROXY_WORKERS`): more than one gains only with as many cores in the proxy\'s CPU limit, and each thread holds ~19 MiB more. A pod\'s or namespace\'s `config.weft.io/proxy-workers` wins.' }),
    detectTimeout: str({ default: '10s', description: 'How long the proxy waits for a client\'s first bytes to detect the protocol before treating the connection as opaque TCP.', pattern: DURATION }),
    skipInboundPorts: str({ default: '', description: 'Inbound ports not redirected to the proxy, for every meshed pod (e.g. `9000,9100-9102`); a pod\'s `config.weft.io/skip-inbound-ports` replaces it.', pattern: '^[0-9,-]*$' }),
    skipOutboundPorts: str({ default: '', description: 'Outbound ports not redirected to the proxy (e.g. a database the app reaches directly); a pod\'s `config.weft.io/skip-outbound-ports` replaces it.', pattern: '^[0-9,-]*$' }),
    skipInboundSubnets: str({ default: '', description: 'CIDRs whose connections to a meshed pod are not redirected to its proxy (by source, e.g. `10.244.0.0/16`), comma-separated; a pod\'s `config.weft.io/skip-inbound-subnets` replaces it.', pattern: CIDR_LIST }),
    skipOutboundSubnets: str({ default: '', description: 'CIDRs meshed pods reach without their proxy (by destination, e.g. a database network `192.168.0.0/16,fd00::/8`), comma-separated; a pod\'s `config.weft.io/skip-outbound-subnets` replaces it.', pattern: CIDR_LIST }),
    identityTokenExpirationSeconds: int({ default: 86400, minimum: 600, description: 'Lifetime of the projected ServiceAccount token (audience `identity.weft.io`) the proxy presents to identity; the kubelet refreshes it at 80 %.' }),
    cniEnabled: bool({ default: false, description: 'A CNI plugin sets up each pod\'s redirection (weft ships none; bring one that applies the same rules): the injector adds no `weft-init` container, so meshed pods need no `NET_ADMIN`.' }),
    traceCollector: str({ default: '', description: 'OTLP/HTTP collector the proxies send spans to (`host:port` or an http(s) URL); empty: no tracing. A pod\'s `config.weft.io/trace-collector` wins.', pattern: '^$|^https?://\\S+$|^[A-Za-z0-9.-]+:[0-9]{1,5}$|^\\[[0-9a-fA-F:.]+\\]:[0-9]{1,5}$' }),
    traceSampling: str({ default: '', description: 'Probability (0 to 1) of a proxy starting a trace for a request that carries no sampling decision; empty: the proxy\'s default. A pod\'s `config.weft.io/trace-sampling` wins.', pattern: '^$|^(0(\\.[0-9]+)?|1(\\.0+)?)$' }),
    nativeSidecar: oneOf(['auto', 'enabled', 'disabled'] as const, { default: 'auto', description: '`auto`: the proxy is a native sidecar (init container with `restartPolicy: Always`) on Kubernetes 1.29+, else the first container; `enabled`/`disabled` force it. A pod\'s `config.weft.io/proxy-native-sidecar` wins.' }),
    // The proxy's connections (docs/proxy.md "Between proxies"): empty leaves the proxy's default.
    connectTimeout: connectionValue('connectTimeout', 'How long a proxy waits for a TCP connect to an endpoint or a peer proxy (an address that went away does not refuse)'),
    tlsHandshakeTimeout: connectionValue('tlsHandshakeTimeout', 'How long a proxy waits for the mTLS handshake with a peer proxy once TCP is up'),
    keepalive: connectionValue('keepalive', 'Idle time before a proxy\'s first TCP keepalive probe on connections to endpoints and from peers (then ten probes a second apart; whole seconds)'),
    userTimeout: connectionValue('userTimeout', 'How long bytes a proxy sent to a peer proxy may stay unacknowledged before the connection is closed (TCP_USER_TIMEOUT)'),
    peerPingInterval: connectionValue('peerPingInterval', 'How long a proxy\'s session to a peer proxy, with requests waiting, hears nothing before it sends a PING (and waits as long again for an answer)'),
  }),
  controlPlaneTracing: group('Tracing of the control plane itself: identity, destination and the injector send spans of their gRPC calls, admission reviews and Kubernetes API calls (docs/tracing.md). Separate from `proxy.traceCollector`, which is for the proxies.', {
    collector: str({ default: '', description: 'OTLP/HTTP collector the control-plane components send spans to (`host:port` or an http(s) URL); empty: no control-plane tracing.', pattern: '^$|^https?://\\S+$|^[A-Za-z0-9.-]+:[0-9]{1,5}$|^\\[[0-9a-fA-F:.]+\\]:[0-9]{1,5}$' }),
    sampling: str({ default: '', description: 'Probability (0 to 1) of a component starting a trace for a call that carries no sampling decision; empty: the components\' default (0.01). A caller\'s sampled `traceparent` is always followed.', pattern: '^$|^(0(\\.[0-9]+)?|1(\\.0+)?)$' }),
  }),
  certManager: group('Let the chart render cert-manager Issuers and Certificates (needs cert-manager).', {
    create: bool({ default: false, description: 'Render the Issuer/Certificate objects for the identity issuer and the webhook.' }),
    trustAnchorSecret: str({ default: 'weft-trust-anchor', description: 'Secret (in the release namespace) holding the trust anchor certificate and key the CA Issuer signs the identity issuer with; you create it.', pattern: '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$' }),
    issuerDuration: str({ default: '48h0m0s', description: 'Lifetime of the identity issuer certificate.', pattern: DURATION }),
    issuerRenewBefore: str({ default: '25h0m0s', description: 'Renew the identity issuer this long before it expires.', pattern: DURATION }),
    destinationDuration: str({ default: '24h0m0s', description: 'Lifetime of the destination serving certificate (renewed at two thirds).', pattern: DURATION }),
    webhookDuration: str({ default: '8760h0m0s', description: 'Lifetime of the webhook serving certificate.', pattern: DURATION }),
  }),
});

export type ControlPlaneValues = typeof controlPlaneValues;
