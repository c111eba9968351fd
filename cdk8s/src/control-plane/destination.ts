/**
 * destination: Deployment, Service (discovery 8086, policy 8090) and a
 * read-only ClusterRole over what it watches: Services, EndpointSlices, Pods,
 * Namespaces and weft's route/policy CRDs (list + watch, nothing else), and
 * its serving certificate Secret (cert-manager, or rendered from values).
 */
import { and, not, orDefault, pipe, truthy, v as typed, when } from '../template/expr.js';
import { ISSUER_SHA_ANNOTATION, NOT_AFTER_ANNOTATION, destinationGenerated, destinationPreamble } from './generated-certs.js';
import { objectLabels } from '../chart/labels.js';
import { clusterRole } from '../chart/rbac.js';
import { deployment, podDisruptionBudget, service, serviceAccount, settingsEnv } from '../chart/workload.js';
import type { WeftChart } from '../chart/weft-chart.js';
import { CHART, DESTINATION_SECRET, TRUST_ROOTS_DIR, fieldRef, image, trustRootsChecksum, trustRootsMount, trustRootsVolume, tracingEnv, type Values } from './shared.js';

const TLS_DIR = '/var/run/weft/destination/tls';

export function addDestination(c: WeftChart, v: Values): void {
  const file = 'destination.yaml';
  const d = v.destination;
  // The chart renders the Secret unless cert-manager issues it or you create it: from PEMs in values, else generated.
  const ownSecret = and(not(truthy(v.certManager.create)), not(truthy(d.tls.certManager)), not(truthy(d.tls.externalSecret)));
  const fromValues = truthy(d.tls.crtPEM);
  c.check(and(ownSecret, fromValues, not(truthy(d.tls.keyPEM))), 'destination.tls.keyPEM is required with destination.tls.crtPEM');
  const secretFile = 'destination-tls-secret.yaml';
  c.preamble(secretFile, destinationPreamble());
  c.add(secretFile, {
    apiVersion: 'v1',
    kind: 'Secret',
    name: DESTINATION_SECRET,
    labels: objectLabels(CHART, 'destination'),
    annotations: when(not(fromValues), { [NOT_AFTER_ANNOTATION]: typed<string>(destinationGenerated.notAfter), [ISSUER_SHA_ANNOTATION]: typed<string>(destinationGenerated.issuerSha) }),
    body: {
      type: 'kubernetes.io/tls',
      stringData: {
        'tls.crt': orDefault(d.tls.crtPEM, destinationGenerated.crt),
        'tls.key': orDefault(d.tls.keyPEM, destinationGenerated.key),
      },
    },
  }, ownSecret);
  c.add(file, serviceAccount(CHART, 'destination'));
  const watch = ['list', 'watch'];
  for (const o of clusterRole(CHART, 'destination', [
    { apiGroups: [''], resources: ['services', 'pods', 'namespaces'], verbs: watch },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: watch },
    { apiGroups: ['weft.io'], resources: ['serviceprofiles'], verbs: watch },
    { apiGroups: ['policy.weft.io'], resources: ['servers', 'authorizationpolicies', 'meshtlsauthentications', 'networkauthentications'], verbs: watch },
    // Gateway API routes attached to Services (docs/routes.md), and the status destination writes on them.
    { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes', 'grpcroutes', 'referencegrants'], verbs: watch },
    { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes/status', 'grpcroutes/status'], verbs: ['update'] },
  ])) c.add('destination-rbac.yaml', o);
  c.add(file, service(CHART, 'destination', [
    { name: 'grpc', port: 8086, targetPort: 'grpc' },
    { name: 'policy-grpc', port: 8090, targetPort: 'policy-grpc' },
  ]));
  c.add(file, deployment({
    chartName: CHART,
    component: 'destination',
    serviceAccount: 'weft-destination',
    replicas: d.replicas,
    image: image(v, d.image),
    pullPolicy: v.image.pullPolicy,
    env: settingsEnv('WEFT_DESTINATION', {
      LOG_LEVEL: v.logLevel,
      SOURCE: 'kubernetes',
      LISTEN_HOST: '0.0.0.0',
      PORT: '8086',
      POLICY_PORT: '8090',
      ADMIN_PORT: '9996',
      TLS_CERT_FILE: `${TLS_DIR}/tls.crt`,
      TLS_KEY_FILE: `${TLS_DIR}/tls.key`,
      TRUST_ANCHORS_FILE: `${TRUST_ROOTS_DIR}/ca-bundle.crt`,
      CONTROL_NAMESPACE: { valueFrom: fieldRef('metadata.namespace') },
      CLUSTER_DOMAIN: v.clusterDomain,
      TRUST_DOMAIN: v.identityTrustDomain,
      DEFAULT_INBOUND_POLICY: d.defaultInboundPolicy,
      CLUSTER_NETWORKS: d.clusterNetworks,
    }).concat(tracingEnv(v, 'WEFT_DESTINATION')),
    ports: [
      { name: 'grpc', containerPort: 8086 },
      { name: 'policy-grpc', containerPort: 8090 },
      { name: 'admin-http', containerPort: 9996 },
    ],
    adminPort: 'admin-http',
    resources: d.resources,
    volumes: [trustRootsVolume, { name: 'tls', secret: { secretName: DESTINATION_SECRET } }],
    volumeMounts: [trustRootsMount, { name: 'tls', mountPath: TLS_DIR, readOnly: true }],
    annotations: {
      ...trustRootsChecksum(v),
      // A generated certificate is followed by destination through the mounted Secret; PEMs from values roll it.
      'checksum/tls': when(and(ownSecret, fromValues), typed<string>(pipe(d.tls.crtPEM, 'sha256sum'))),
    },
    scheduling: v,
    antiAffinity: truthy(v.enablePodAntiAffinity),
  }));
  c.add('pdb.yaml', podDisruptionBudget(CHART, 'destination', v.podDisruptionBudget.maxUnavailable), truthy(v.podDisruptionBudget.enabled));
}
