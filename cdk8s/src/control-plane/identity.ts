/**
 * identity: Deployment, Service, RBAC (TokenReviews cluster-wide; in its own
 * namespace only the issuer Secret and the trust-roots ConfigMap, by name),
 * the trust-roots ConfigMap and, for `scheme: weft.io/tls`, the issuer Secret.
 */
import { TRUST_ROOTS_KEY } from '@weft/api/names';
import { and, concat, eq, not, or, release, required, truthy, type Expr } from '../template/expr.js';
import { objectLabels } from '../chart/labels.js';
import { clusterRole, namespacedRole } from '../chart/rbac.js';
import { deployment, podDisruptionBudget, service, serviceAccount } from '../chart/workload.js';
import type { WeftChart } from '../chart/weft-chart.js';
import { CHART, ISSUER_SECRET, TRUST_ROOTS_CONFIGMAP, fieldRef, image, trustRootsChecksum, tracingEnv, type Values } from './shared.js';

export const TRUST_ANCHORS_REQUIRED =
  'identityTrustAnchorsPEM is required: pass the PEM of your trust anchor(s), e.g. --set-file identityTrustAnchorsPEM=ca.crt, or set identity.externalCA=true when the weft-identity-trust-roots ConfigMap is managed outside the chart (trust-manager)';

export const ISSUER_REQUIRED =
  'identity.issuer.tls.crtPEM is required: pass the identity issuer (a CA certificate signed by your trust anchor) with --set-file identity.issuer.tls.crtPEM=issuer.crt,identity.issuer.tls.keyPEM=issuer.key; or set certManager.create=true (cert-manager creates it from the Secret certManager.trustAnchorSecret); or set identity.issuer.scheme=kubernetes.io/tls when you maintain the Secret weft-identity-issuer yourself';

export const ISSUER_TWICE = 'identity.issuer.tls.crtPEM is set and certManager.create=true: both would write the Secret weft-identity-issuer; unset one of them';

export function addIdentity(c: WeftChart, v: Values): void {
  const file = 'identity.yaml';
  const id = v.identity;
  c.add('trust-roots.yaml', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    name: TRUST_ROOTS_CONFIGMAP,
    labels: objectLabels(CHART, 'identity'),
    body: { data: { [TRUST_ROOTS_KEY]: required(v.identityTrustAnchorsPEM, TRUST_ANCHORS_REQUIRED) } },
  }, not(truthy(id.externalCA)));
  const cm = truthy(v.certManager.create);
  c.check(and(cm, truthy(id.issuer.tls.crtPEM)), ISSUER_TWICE);
  c.add('identity-issuer-secret.yaml', {
    apiVersion: 'v1',
    kind: 'Secret',
    name: ISSUER_SECRET,
    labels: objectLabels(CHART, 'identity'),
    body: {
      type: 'kubernetes.io/tls',
      stringData: {
        'ca.crt': required(v.identityTrustAnchorsPEM, TRUST_ANCHORS_REQUIRED),
        'tls.crt': required(id.issuer.tls.crtPEM, ISSUER_REQUIRED),
        'tls.key': required(id.issuer.tls.keyPEM, 'identity.issuer.tls.keyPEM is required with identity.issuer.tls.crtPEM: pass the issuer key, e.g. --set-file identity.issuer.tls.keyPEM=issuer.key'),
      },
    },
  }, and(not(cm), or(eq(id.issuer.scheme, 'weft.io/tls'), truthy(id.issuer.tls.crtPEM))));
  c.add(file, serviceAccount(CHART, 'identity'));
  for (const o of clusterRole(CHART, 'identity', [{ apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] }])) c.add('identity-rbac.yaml', o);
  // By name: other Secrets of the namespace (with certManager.create, the trust
  // anchor's private key) stay unreadable. identity lists and watches each object
  // with `fieldSelector=metadata.name=<name>`, which is how RBAC authorizes
  // list/watch against resourceNames.
  const ownObjects = [
    { apiGroups: [''], resources: ['secrets'], resourceNames: [ISSUER_SECRET], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['configmaps'], resourceNames: [TRUST_ROOTS_CONFIGMAP], verbs: ['get', 'list', 'watch'] },
  ];
  for (const o of namespacedRole(CHART, 'identity', ownObjects)) c.add('identity-rbac.yaml', o);
  c.add(file, service(CHART, 'identity', [{ name: 'grpc', port: 8080, targetPort: 'grpc' }]));
  c.add(file, deployment({
    chartName: CHART,
    component: 'identity',
    serviceAccount: 'weft-identity',
    replicas: id.replicas,
    image: image(v, id.image),
    pullPolicy: v.image.pullPolicy,
    env: [
      { name: 'WEFT_IDENTITY_LOG_LEVEL', value: v.logLevel },
      { name: 'WEFT_IDENTITY_LISTEN_ADDR', value: '0.0.0.0:8080' },
      { name: 'WEFT_IDENTITY_ADMIN_LISTEN_ADDR', value: '0.0.0.0:9990' },
      { name: 'WEFT_IDENTITY_CONTROL_NAMESPACE', valueFrom: fieldRef('metadata.namespace') },
      { name: 'WEFT_IDENTITY_TRUST_DOMAIN', value: v.identityTrustDomain },
      { name: 'WEFT_IDENTITY_ISSUER_SCHEME', value: id.issuer.scheme },
      { name: 'WEFT_IDENTITY_ISSUER_SECRET', value: ISSUER_SECRET },
      { name: 'WEFT_IDENTITY_TRUST_ROOTS_CONFIGMAP', value: TRUST_ROOTS_CONFIGMAP },
      { name: 'WEFT_IDENTITY_ISSUANCE_LIFETIME', value: id.issuer.issuanceLifetime },
      { name: 'WEFT_IDENTITY_CLOCK_SKEW_ALLOWANCE', value: id.issuer.clockSkewAllowance },
      { name: 'WEFT_IDENTITY_TOKEN_AUDIENCE', value: 'identity.weft.io' },
      ...tracingEnv(v, 'WEFT_IDENTITY'),
    ],
    ports: [
      { name: 'grpc', containerPort: 8080 },
      { name: 'admin-http', containerPort: 9990 },
    ],
    adminPort: 'admin-http',
    resources: id.resources,
    annotations: trustRootsChecksum(v),
    scheduling: v,
    antiAffinity: truthy(v.enablePodAntiAffinity),
  }));
  c.add('pdb.yaml', podDisruptionBudget(CHART, 'identity', v.podDisruptionBudget.maxUnavailable), truthy(v.podDisruptionBudget.enabled));
}

/** `<name>.<namespace>.svc.<clusterDomain>:<port>` of a control-plane Service. */
export function serviceAddr(v: Values, svc: string, port: number): Expr {
  return concat`${svc}.${release.namespace}.svc.${v.clusterDomain}:${String(port)}`;
}

