/**
 * The values matrix the chart tests render with helm and with the cdk8s
 * synthesis: defaults, HA, external cert-manager, chart-rendered certs,
 * custom images, resources, disabled optional parts, extra metadata and
 * scheduling. Each case is a list of values files applied in order.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './helm.js';

export interface MatrixCase {
  readonly name: string;
  readonly files: readonly Record<string, unknown>[];
}

export interface Pems {
  readonly anchor: string;
  readonly anchorKey: string;
}

export const RELEASE = 'weft';

export function controlPlaneMatrix(p: Pems): MatrixCase[] {
  // The smallest install without cert-manager: anchors and the issuer in values (Linkerd's names); the
  // webhook and destination certificates are generated.
  const anchor = { identityTrustAnchorsPEM: p.anchor, identity: { issuer: { tls: { crtPEM: p.anchor, keyPEM: p.anchorKey } } } };
  const ha = parse(readFileSync(join(ROOT, 'charts/weft-control-plane/values-ha.yaml'), 'utf8')) as Record<string, unknown>;
  return [
    { name: 'defaults + issuer in values (webhook and destination certificates generated)', files: [anchor] },
    { name: 'issuer in values under scheme kubernetes.io/tls (rendered regardless of scheme)', files: [anchor, { identity: { issuer: { scheme: 'kubernetes.io/tls' } } }] },
    { name: 'cert-manager creates everything', files: [{ identityTrustAnchorsPEM: p.anchor }, { certManager: { create: true } }] },
    {
      name: 'issuer managed outside the chart, anchors by trust-manager, destination from cert-manager, webhook generated',
      files: [{ identity: { externalCA: true, issuer: { scheme: 'kubernetes.io/tls' } }, destination: { tls: { certManager: true } } }],
    },
    { name: 'HA (values-ha.yaml)', files: [anchor, ha] },
    {
      name: 'external cert-manager with chart-owned Issuer/Certificates',
      files: [{ identity: { externalCA: true, issuer: { scheme: 'kubernetes.io/tls' } }, certManager: { create: true, trustAnchorSecret: 'my-root' }, proxyInjector: { externalSecret: true } }],
    },
    { name: 'external cert-manager, explicit injectCaFrom', files: [{ identityTrustAnchorsPEM: p.anchor }, { identity: { issuer: { scheme: 'kubernetes.io/tls' } }, destination: { tls: { externalSecret: true } }, proxyInjector: { externalSecret: true, injectCaFrom: 'certs/weft-webhook' } }] },
    {
      name: 'issuer, webhook and destination certificates all from values',
      files: [anchor, { identity: { issuer: { scheme: 'weft.io/tls', tls: { crtPEM: p.anchor, keyPEM: p.anchorKey } } }, proxyInjector: { externalSecret: false, caBundle: p.anchor, tls: { crtPEM: p.anchor, keyPEM: p.anchorKey } }, destination: { tls: { externalSecret: false, crtPEM: p.anchor, keyPEM: p.anchorKey } } }],
    },
    {
      name: 'custom images, registry and tags',
      files: [anchor, { image: { registry: 'registry.example.com/mesh', tag: '1.2.3', pullPolicy: 'Always' }, identity: { image: { tag: '1.2.4-rc.1' } }, proxy: { image: { name: 'weft-proxy', tag: '2.0.0' } }, proxyInjector: { image: { name: 'inj' } }, imagePullSecrets: ['regcred', 'other'] }],
    },
    {
      name: 'resources',
      files: [anchor, { identity: { resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: 2, memory: '2Gi' } } }, destination: { resources: {} }, proxy: { cpuRequest: '200m', memoryLimit: '1Gi' } }],
    },
    { name: 'disabled optional parts', files: [anchor, { podDisruptionBudget: { enabled: false }, enablePodAntiAffinity: false, nodeSelector: {}, certManager: { create: false }, identity: { externalCA: true } }] },
    { name: 'extra labels and annotations', files: [anchor, { commonLabels: { team: 'mesh', 'example.com/cost-center': '42' }, podLabels: { 'example.com/tier': 'control' }, podAnnotations: { 'example.com/owner': 'ops', 'prometheus.io/scrape': 'true' } }] },
    {
      name: 'tolerations, nodeSelector, priorityClassName',
      files: [anchor, { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'mesh', effect: 'NoSchedule' }, { operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }], nodeSelector: { 'node-role.kubernetes.io/mesh': 'true' }, priorityClassName: 'system-cluster-critical' }],
    },
    { name: 'tuning: log level, failurePolicy, namespaceSelector, trust domain', files: [anchor, { logLevel: 'debug', identityTrustDomain: 'mesh.example.org', clusterDomain: 'k8s.local', proxyInjector: { failurePolicy: 'Fail', timeoutSeconds: 5, namespaceSelector: { matchLabels: { 'weft.io/inject': 'enabled' }, matchExpressions: null } }, destination: { defaultInboundPolicy: 'deny' }, proxy: { await: false, logLevel: 'warn' } }] },
    {
      name: 'production: pull secrets in both shapes, a digest, affinity, topology spread, strategy, proxy defaults, webhook objectSelector',
      files: [anchor, {
        imagePullSecrets: ['regcred', { name: 'linkerd-style' }],
        identity: { image: { digest: `sha256:${'a'.repeat(64)}` } },
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['mesh'] }] }] } } },
        enablePodAntiAffinity: true,
        topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'weft-identity' } } }],
        deploymentStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        proxy: {
          cpuLimit: '1', awaitTimeout: '60s', detectTimeout: '3s', skipInboundPorts: '9000,9100-9102', skipOutboundPorts: '5432', nativeSidecar: 'disabled',
          logFormat: 'plain', skipInboundSubnets: '10.244.0.0/16', skipOutboundSubnets: '192.168.0.0/16,fd00::/8', identityTokenExpirationSeconds: 3600,
          cniEnabled: true, traceCollector: 'http://collector.tracing:4318', traceSampling: '0.5',
        },
        proxyInjector: { objectSelector: { matchLabels: { mesh: 'weft' }, matchExpressions: [{ key: 'legacy', operator: 'DoesNotExist' }] } },
      }],
    },
    {
      name: 'webhook: more selector expressions, own excluded namespaces, image overrides allowed',
      files: [anchor, { proxyInjector: { namespaceSelector: { matchLabels: { mesh: 'weft' }, matchExpressions: [{ key: 'team', operator: 'Exists' }, { key: 'tier', operator: 'In', values: ['a', 'b'] }] }, excludedNamespaces: ['kube-system', 'certs'], allowProxyImageOverride: true } }],
    },
  ];
}

export function vizMatrix(p: Pems): MatrixCase[] {
  // The tap certificate signed by the chart with the issuer from values (Linkerd's names, as for the control plane).
  const anchor = { identityTrustAnchorsPEM: p.anchor, identity: { issuer: { tls: { crtPEM: p.anchor, keyPEM: p.anchorKey } } } };
  const anchorsOnly = { identityTrustAnchorsPEM: p.anchor };
  return [
    { name: 'defaults + issuer in values (tap certificate signed by the chart)', files: [anchor] },
    { name: 'tap certificate from a cert-manager ClusterIssuer', files: [anchorsOnly, { viz: { tapTls: { issuerRef: { name: 'weft-trust-anchor' } } } }] },
    { name: 'tap certificate from a per-namespace Issuer, own Secret name', files: [anchorsOnly, { viz: { tapTlsSecret: 'tap', tapTls: { issuerRef: { name: 'mesh-ca', kind: 'Issuer' }, duration: '48h' } } }] },
    { name: 'tap Secret created outside the chart', files: [anchorsOnly, { viz: { tapTls: { externalSecret: true } } }] },
    { name: 'Jaeger for traces, own image and size', files: [anchor, { jaeger: { enabled: true, maxTraces: 1000, image: { repository: 'r.example.com/jaeger', tag: '2.12.0' } } }] },
    { name: 'HA: replicas, anti-affinity, PodDisruptionBudget', files: [anchor, { viz: { replicas: 3 }, enablePodAntiAffinity: true, podDisruptionBudget: { enabled: true } }] },
    { name: 'production: digest, pull secret maps, strategy', files: [anchor, { viz: { image: { digest: `sha256:${'b'.repeat(64)}` } }, imagePullSecrets: [{ name: 'regcred' }], deploymentStrategy: { rollingUpdate: { maxUnavailable: 0 } } }] },
    { name: 'Prometheus on a PersistentVolumeClaim', files: [anchor, { prometheus: { storage: { type: 'pvc', size: '20Gi', storageClassName: 'fast' } } }] },
    { name: 'Prometheus Operator: external Prometheus and PodMonitors', files: [anchor, { prometheus: { enabled: false, url: 'http://prometheus-operated.monitoring:9090' }, prometheusOperator: { podMonitor: true, labels: { release: 'kube-prometheus-stack' } } }] },
    { name: 'custom images, resources, labels', files: [anchor, { image: { registry: 'r.example.com/w', tag: '9.9.9' }, prometheus: { image: { repository: 'quay.io/prometheus/prometheus', tag: 'v3.0.0' }, scrapeInterval: '30s', retention: '2d', resources: { requests: { cpu: '1' } } }, viz: { resources: { limits: { memory: '1Gi' } }, tapAuth: 'kubernetes,token' }, commonLabels: { team: 'obs' }, podAnnotations: { a: 'b' } }] },
    { name: 'external Prometheus (optional part disabled)', files: [anchor, { prometheus: { enabled: false, url: 'http://prom.monitoring:9090' } }] },
    { name: 'tolerations and nodeSelector', files: [anchor, { controlPlaneNamespace: 'mesh-system', tolerations: [{ operator: 'Exists' }], nodeSelector: { pool: 'obs' }, imagePullSecrets: ['regcred'] }] },
  ];
}

export function crdsMatrix(): MatrixCase[] {
  return [
    { name: 'defaults', files: [] },
    { name: 'not kept on uninstall, extra labels', files: [{ keepOnUninstall: false, commonLabels: { team: 'mesh' } }] },
    { name: 'Gateway API CRDs installed', files: [{ gatewayAPI: { install: true } }] },
  ];
}
