/**
 * The proxy injector: Deployment, Service (443 -> 8443), a ClusterRole that
 * only reads Namespaces (for their inject annotations), the
 * MutatingWebhookConfiguration, and its serving certificate (from
 * cert-manager, or rendered from values; never generated at render time, so
 * `helm upgrade` keeps the certificate running pods and the API server trust).
 */
import { PROXY_CONNECTION_SETTINGS, WEBHOOK_CONFIG } from '@weft/api/names';
import { type Expr, type RefExpr, and, chart, concat, each, item, itemsOf, not, or, orDefault, pipe, ref, release, truthy, v as typed, when, yamlOf } from '../template/expr.js';
import { NOT_AFTER_ANNOTATION, webhookGenerated, webhookPreamble } from './generated-certs.js';
import { objectLabels } from '../chart/labels.js';
import { clusterRole } from '../chart/rbac.js';
import { deployment, podDisruptionBudget, service, serviceAccount } from '../chart/workload.js';
import type { WeftChart } from '../chart/weft-chart.js';
import { serviceAddr } from './identity.js';
import { CHART, TRUST_ROOTS_DIR, WEBHOOK_SECRET, fieldRef, image, trustRootsChecksum, trustRootsMount, trustRootsVolume, tracingEnv, type Values } from './shared.js';

const TLS_DIR = '/var/run/weft/injector/tls';
const WEBHOOK_FILE = 'injector-webhook.yaml';

/**
 * The values' LabelSelector plus `kubernetes.io/metadata.name NotIn` the
 * excluded namespaces and the release namespace: with failurePolicy Fail, a
 * webhook that is down must not block the pods that bring it back (cert-manager
 * issues its certificate; the control plane runs its pods).
 */
function namespaceSelector(v: Values) {
  const selector = v.proxyInjector.namespaceSelector;
  // namespaceSelector is one free-form value; reach into its two fields by path.
  const field = <T>(name: string, type: 'object' | 'list') => ref<T>('Values', [...selector.path, name], type);
  return {
    matchLabels: yamlOf(field<Record<string, string>>('matchLabels', 'object'), { omitEmpty: true }),
    matchExpressions: [
      ...itemsOf(field<Record<string, unknown>[]>('matchExpressions', 'list')),
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...each(v.proxyInjector.excludedNamespaces, item()), release.namespace] },
    ],
  };
}

/** The values' LabelSelector plus `app.kubernetes.io/part-of NotIn weft`. */
function objectSelector(v: Values) {
  const selector = v.proxyInjector.objectSelector;
  const field = <T>(name: string, type: 'object' | 'list') => ref<T>('Values', [...selector.path, name], type);
  return {
    matchLabels: yamlOf(field<Record<string, string>>('matchLabels', 'object'), { omitEmpty: true }),
    matchExpressions: [...itemsOf(field<Record<string, unknown>[]>('matchExpressions', 'list')), { key: 'app.kubernetes.io/part-of', operator: 'NotIn', values: ['weft'] }],
  };
}

type ProxyValue = Exclude<keyof Values['proxy'], '$ref' | 'image'>;

/**
 * Each `proxy.*` value and the injector variable that carries it (injector/src/mesh-config.ts reads it).
 * Keyed by the values model: a new proxy value without its variable does not compile, and
 * `control-plane/injector-env.test.ts` parses what the chart renders with the injector's own parser.
 */
export const PROXY_VALUE_ENV: { readonly [K in ProxyValue]: string } = {
  logLevel: 'WEFT_INJECTOR_PROXY_LOG_LEVEL',
  logFormat: 'WEFT_INJECTOR_PROXY_LOG_FORMAT',
  cpuRequest: 'WEFT_INJECTOR_PROXY_CPU_REQUEST',
  cpuLimit: 'WEFT_INJECTOR_PROXY_CPU_LIMIT',
  memoryRequest: 'WEFT_INJECTOR_PROXY_MEMORY_REQUEST',
  memoryLimit: 'WEFT_INJECTOR_PROXY_MEMORY_LIMIT',
  opaquePorts: 'WEFT_INJECTOR_OPAQUE_PORTS',
  await: 'WEFT_INJECTOR_PROXY_AWAIT',
  awaitTimeout: 'WEFT_INJECTOR_PROXY_AWAIT_TIMEOUT',
  detectTimeout: 'WEFT_INJECTOR_PROXY_DETECT_TIMEOUT',
  workers: 'WEFT_INJECTOR_PROXY_WORKERS',
  skipInboundPorts: 'WEFT_INJECTOR_SKIP_INBOUND_PORTS',
  skipOutboundPorts: 'WEFT_INJECTOR_SKIP_OUTBOUND_PORTS',
  skipInboundSubnets: 'WEFT_INJECTOR_SKIP_INBOUND_SUBNETS',
  skipOutboundSubnets: 'WEFT_INJECTOR_SKIP_OUTBOUND_SUBNETS',
  identityTokenExpirationSeconds: 'WEFT_INJECTOR_TOKEN_EXPIRATION_SECONDS',
  cniEnabled: 'WEFT_INJECTOR_CNI_ENABLED',
  traceCollector: 'WEFT_INJECTOR_PROXY_TRACE_COLLECTOR',
  traceSampling: 'WEFT_INJECTOR_PROXY_TRACE_SAMPLING',
  nativeSidecar: 'WEFT_INJECTOR_PROXY_NATIVE_SIDECAR',
  connectTimeout: PROXY_CONNECTION_SETTINGS.connectTimeout.injectorVariable,
  tlsHandshakeTimeout: PROXY_CONNECTION_SETTINGS.tlsHandshakeTimeout.injectorVariable,
  keepalive: PROXY_CONNECTION_SETTINGS.keepalive.injectorVariable,
  userTimeout: PROXY_CONNECTION_SETTINGS.userTimeout.injectorVariable,
  peerPingInterval: PROXY_CONNECTION_SETTINGS.peerPingInterval.injectorVariable,
};

function proxyDefaultsEnv(v: Values): { name: string; value: Expr }[] {
  return (Object.entries(PROXY_VALUE_ENV) as [ProxyValue, string][]).map(([key, name]) => {
    const value: RefExpr = v.proxy[key];
    // Env values are strings: booleans and integers are printed by the template.
    return { name, value: value.type === 'string' ? value : concat`${value}` };
  });
}

export function addInjector(c: WeftChart, v: Values): void {
  const file = 'injector.yaml';
  const pi = v.proxyInjector;
  const cm = truthy(v.certManager.create);
  // The chart renders the Secret unless cert-manager issues it or you create it: from PEMs in values, else generated.
  const ownSecret = and(not(cm), not(truthy(pi.externalSecret)));
  const fromValues = truthy(pi.tls.crtPEM);
  const generatedCert = and(ownSecret, not(fromValues));
  c.check(and(ownSecret, fromValues, not(truthy(pi.tls.keyPEM))), 'proxyInjector.tls.keyPEM is required with proxyInjector.tls.crtPEM');
  c.check(and(ownSecret, fromValues, not(truthy(pi.caBundle))), 'proxyInjector.caBundle is required with proxyInjector.tls.crtPEM: the CA the API server verifies the webhook with');
  c.check(
    and(not(cm), truthy(pi.externalSecret), not(truthy(pi.caBundle)), not(truthy(pi.injectCaFrom))),
    'proxyInjector.externalSecret=true: the webhook CA is unknown; set proxyInjector.injectCaFrom=<namespace>/<Certificate> (the cert-manager Certificate that writes weft-injector-k8s-tls, CA injected by cainjector) or proxyInjector.caBundle; or certManager.create=true; or proxyInjector.externalSecret=false to let the chart generate the webhook certificate',
  );
  // The Secret and the webhook share one file: a generated CA must be the same in both.
  c.preamble(WEBHOOK_FILE, webhookPreamble());
  c.add(WEBHOOK_FILE, {
    apiVersion: 'v1',
    kind: 'Secret',
    name: WEBHOOK_SECRET,
    labels: objectLabels(CHART, 'injector'),
    annotations: when(not(fromValues), { [NOT_AFTER_ANNOTATION]: typed<string>(webhookGenerated.notAfter) }),
    body: {
      type: 'kubernetes.io/tls',
      stringData: {
        'ca.crt': orDefault(pi.caBundle, webhookGenerated.caCrt),
        'tls.crt': orDefault(pi.tls.crtPEM, webhookGenerated.crt),
        'tls.key': orDefault(pi.tls.keyPEM, webhookGenerated.key),
      },
    },
  }, ownSecret);
  c.add(file, serviceAccount(CHART, 'injector'));
  for (const o of clusterRole(CHART, 'injector', [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] }])) c.add('injector-rbac.yaml', o);
  c.add(file, service(CHART, 'injector', [{ name: 'webhook', port: 443, targetPort: 'webhook' }]));
  c.add(file, deployment({
    chartName: CHART,
    component: 'injector',
    serviceAccount: 'weft-injector',
    replicas: pi.replicas,
    image: image(v, pi.image),
    pullPolicy: v.image.pullPolicy,
    env: [
      { name: 'WEFT_INJECTOR_LOG_LEVEL', value: v.logLevel },
      { name: 'WEFT_INJECTOR_LISTEN_ADDR', value: '0.0.0.0:8443' },
      { name: 'WEFT_INJECTOR_ADMIN_LISTEN_ADDR', value: '0.0.0.0:9995' },
      { name: 'WEFT_INJECTOR_TLS_CERT_FILE', value: `${TLS_DIR}/tls.crt` },
      { name: 'WEFT_INJECTOR_TLS_KEY_FILE', value: `${TLS_DIR}/tls.key` },
      { name: 'WEFT_INJECTOR_CONTROL_PLANE_NAMESPACE', valueFrom: fieldRef('metadata.namespace') },
      { name: 'WEFT_INJECTOR_TRUST_DOMAIN', value: v.identityTrustDomain },
      { name: 'WEFT_INJECTOR_CLUSTER_DOMAIN', value: v.clusterDomain },
      { name: 'WEFT_INJECTOR_TRUST_ANCHORS_FILE', value: `${TRUST_ROOTS_DIR}/ca-bundle.crt` },
      { name: 'WEFT_INJECTOR_IDENTITY_ADDR', value: serviceAddr(v, 'weft-identity', 8080) },
      { name: 'WEFT_INJECTOR_DESTINATION_ADDR', value: serviceAddr(v, 'weft-destination', 8086) },
      { name: 'WEFT_INJECTOR_POLICY_ADDR', value: serviceAddr(v, 'weft-destination', 8090) },
      { name: 'WEFT_INJECTOR_PROXY_IMAGE', value: concat`${v.image.registry}/${v.proxy.image.name}` },
      { name: 'WEFT_INJECTOR_PROXY_VERSION', value: orDefault(orDefault(v.proxy.image.tag, v.image.tag), chart.appVersion) },
      { name: 'WEFT_INJECTOR_PROXY_IMAGE_PULL_POLICY', value: v.image.pullPolicy },
      ...proxyDefaultsEnv(v),
      { name: 'WEFT_INJECTOR_DEFAULT_INBOUND_POLICY', value: v.destination.defaultInboundPolicy },
      { name: 'WEFT_INJECTOR_ALLOW_PROXY_IMAGE_OVERRIDE', value: concat`${pi.allowProxyImageOverride}` },
      { name: 'WEFT_INJECTOR_VIZ_NAMESPACE', value: pi.vizNamespace },
      ...tracingEnv(v, 'WEFT_INJECTOR'),
    ],
    ports: [
      { name: 'webhook', containerPort: 8443 },
      { name: 'admin-http', containerPort: 9995 },
    ],
    adminPort: 'admin-http',
    resources: pi.resources,
    volumes: [trustRootsVolume, { name: 'tls', secret: { secretName: WEBHOOK_SECRET } }],
    volumeMounts: [trustRootsMount, { name: 'tls', mountPath: TLS_DIR, readOnly: true }],
    annotations: {
      ...trustRootsChecksum(v),
      // A generated certificate is followed by the injector through the mounted Secret; PEMs from values roll it.
      'checksum/webhook-tls': when(and(ownSecret, fromValues), typed<string>(pipe(pi.tls.crtPEM, 'sha256sum'))),
    },
    scheduling: v,
    antiAffinity: truthy(v.enablePodAntiAffinity),
  }));
  c.add('pdb.yaml', podDisruptionBudget(CHART, 'injector', v.podDisruptionBudget.maxUnavailable), truthy(v.podDisruptionBudget.enabled));
  const injectCa = and(or(cm, truthy(pi.externalSecret)), not(truthy(pi.caBundle)));
  c.add(WEBHOOK_FILE, {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    name: WEBHOOK_CONFIG,
    namespaced: false,
    labels: objectLabels(CHART, 'injector'),
    annotations: when(injectCa, { 'cert-manager.io/inject-ca-from': orDefault(pi.injectCaFrom, concat`${release.namespace}/weft-injector`) as never }),
    body: {
      webhooks: [
        {
          name: 'weft-proxy-injector.weft.io',
          clientConfig: {
            service: { name: 'weft-injector', namespace: release.namespace, path: '/inject', port: 443 },
            caBundle: when(or(generatedCert, truthy(pi.caBundle)), typed<string>(pipe(orDefault(pi.caBundle, webhookGenerated.caBundle), 'b64enc'))),
          },
          failurePolicy: pi.failurePolicy,
          namespaceSelector: namespaceSelector(v),
          // The control plane's own pods are never injected, whatever objectSelector says.
          objectSelector: objectSelector(v),
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: pi.timeoutSeconds,
          reinvocationPolicy: 'IfNeeded',
        },
      ],
    },
  });
}
