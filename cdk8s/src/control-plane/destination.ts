/**
 * destination: Deployment, Service (discovery 8086, policy 8090) and a
 * read-only ClusterRole over what it watches: Services, EndpointSlices, Pods,
 * Namespaces and weft's route/policy CRDs (list + watch, nothing else).
 */
import { truthy } from '../template/expr.js';
import { clusterRole } from '../chart/rbac.js';
import { deployment, podDisruptionBudget, service, serviceAccount } from '../chart/workload.js';
import type { WeftChart } from '../chart/weft-chart.js';
import { serviceAddr } from './identity.js';
import { CHART, TRUST_ROOTS_DIR, fieldRef, image, trustRootsChecksum, trustRootsMount, trustRootsVolume, type Values } from './shared.js';

export function addDestination(c: WeftChart, v: Values): void {
  const file = 'destination.yaml';
  const d = v.destination;
  c.add(file, serviceAccount(CHART, 'destination'));
  const watch = ['list', 'watch'];
  for (const o of clusterRole(CHART, 'destination', [
    { apiGroups: [''], resources: ['services', 'pods', 'namespaces'], verbs: watch },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: watch },
    { apiGroups: ['weft.io'], resources: ['serviceprofiles'], verbs: watch },
    { apiGroups: ['policy.weft.io'], resources: ['servers', 'authorizationpolicies', 'meshtlsauthentications', 'networkauthentications'], verbs: watch },
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
    env: [
      { name: 'WEFT_DESTINATION_LOG_LEVEL', value: v.logLevel },
      { name: 'WEFT_DESTINATION_LISTEN_ADDR', value: '0.0.0.0:8086' },
      { name: 'WEFT_DESTINATION_POLICY_LISTEN_ADDR', value: '0.0.0.0:8090' },
      { name: 'WEFT_DESTINATION_ADMIN_LISTEN_ADDR', value: '0.0.0.0:9996' },
      { name: 'WEFT_DESTINATION_CONTROL_NAMESPACE', valueFrom: fieldRef('metadata.namespace') },
      { name: 'WEFT_DESTINATION_CLUSTER_DOMAIN', value: v.clusterDomain },
      { name: 'WEFT_DESTINATION_TRUST_DOMAIN', value: v.identityTrustDomain },
      { name: 'WEFT_DESTINATION_TRUST_ANCHORS_FILE', value: `${TRUST_ROOTS_DIR}/ca-bundle.crt` },
      { name: 'WEFT_DESTINATION_IDENTITY_ADDR', value: serviceAddr(v, 'weft-identity', 8080) },
      { name: 'WEFT_DESTINATION_DEFAULT_INBOUND_POLICY', value: d.defaultInboundPolicy },
      { name: 'WEFT_DESTINATION_CLUSTER_NETWORKS', value: d.clusterNetworks },
    ],
    ports: [
      { name: 'grpc', containerPort: 8086 },
      { name: 'policy-grpc', containerPort: 8090 },
      { name: 'admin-http', containerPort: 9996 },
    ],
    adminPort: 'admin-http',
    resources: d.resources,
    volumes: [trustRootsVolume],
    volumeMounts: [trustRootsMount],
    annotations: trustRootsChecksum(v),
    scheduling: v,
    antiAffinity: truthy(v.enablePodAntiAffinity),
  }));
  c.add('pdb.yaml', podDisruptionBudget(CHART, 'destination', v.podDisruptionBudget.maxUnavailable), truthy(v.podDisruptionBudget.enabled));
}
