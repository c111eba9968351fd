/**
 * Prometheus for viz: scrapes every meshed pod's `weft-proxy` container on
 * the admin port 4191 and the control plane's `admin-http` ports. Its config
 * is a text helper, so the Deployment's checksum annotation is the hash of
 * the very text in the ConfigMap and a config change rolls the pod.
 */
import { and, concat, eq, include, pipe, spread, textOf, truthy, v as typed, when } from '../template/expr.js';
import type { HelperDef } from '../template/helpers.js';
import type { RefsOf } from '../values/model.js';
import { objectLabels, selectorLabels } from '../chart/labels.js';
import { clusterRole } from '../chart/rbac.js';
import { deployment, serviceAccount } from '../chart/workload.js';
import type { WeftChart } from '../chart/weft-chart.js';
import type { vizValues } from './values.js';

export const VIZ_CHART = 'weft-viz';
const CONFIG_HELPER = `${VIZ_CHART}.prometheusConfig`;

export function prometheusConfigHelper(v: RefsOf<typeof vizValues>): HelperDef {
  return {
    name: CONFIG_HELPER,
    kind: 'text',
    description: 'prometheus.yml: scrape jobs for weft proxies and the control plane.',
    body: {
      global: { scrape_interval: v.prometheus.scrapeInterval, evaluation_interval: v.prometheus.scrapeInterval },
      scrape_configs: [
        {
          job_name: 'weft-proxy',
          // The proxy's own namespace/pod/workload labels win over target labels.
          honor_labels: true,
          kubernetes_sd_configs: [{ role: 'pod' }],
          relabel_configs: [
            { source_labels: ['__meta_kubernetes_pod_container_name', '__meta_kubernetes_pod_container_port_number'], action: 'keep', regex: 'weft-proxy;4191' },
            { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
            { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
          ],
        },
        {
          job_name: 'weft-controller',
          kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [v.controlPlaneNamespace] } }],
          relabel_configs: [
            { source_labels: ['__meta_kubernetes_pod_container_port_name'], action: 'keep', regex: 'admin-http' },
            { source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_component'], target_label: 'component' },
            { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
          ],
        },
        { job_name: 'prometheus', static_configs: [{ targets: ['localhost:9090'] }] },
      ],
    },
  };
}

const DATA_CLAIM = 'weft-prometheus-data';

export function addPrometheus(c: WeftChart, v: RefsOf<typeof vizValues>): void {
  const on = truthy(v.prometheus.enabled);
  const file = 'prometheus.yaml';
  const pvc = eq(v.prometheus.storage.type, 'pvc');
  c.add(file, {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    name: DATA_CLAIM,
    labels: objectLabels(VIZ_CHART, 'prometheus'),
    body: {
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: when(truthy(v.prometheus.storage.storageClassName), typed<string>(v.prometheus.storage.storageClassName)),
        resources: { requests: { storage: v.prometheus.storage.size } },
      },
    },
  }, and(on, pvc));
  addPodMonitors(c, v);
  c.add(file, serviceAccount(VIZ_CHART, 'prometheus'), on);
  for (const o of clusterRole(VIZ_CHART, 'prometheus', [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }])) c.add('prometheus-rbac.yaml', o, on);
  c.add(file, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    name: 'weft-prometheus-config',
    labels: objectLabels(VIZ_CHART, 'prometheus'),
    body: { data: { 'prometheus.yml': textOf(CONFIG_HELPER) } },
  }, on);
  c.add(file, {
    apiVersion: 'v1',
    kind: 'Service',
    name: 'weft-prometheus',
    labels: objectLabels(VIZ_CHART, 'prometheus'),
    body: { spec: { type: 'ClusterIP', selector: selectorLabels(VIZ_CHART, 'prometheus'), ports: [{ name: 'http', port: 9090, targetPort: 'http', protocol: 'TCP' }] } },
  }, on);
  c.add(file, deployment({
    chartName: VIZ_CHART,
    component: 'prometheus',
    serviceAccount: 'weft-prometheus',
    replicas: v.prometheus.replicas,
    image: concat`${v.prometheus.image.repository}:${v.prometheus.image.tag}`,
    pullPolicy: v.image.pullPolicy,
    args: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/data', concat`--storage.tsdb.retention.time=${v.prometheus.retention}`],
    env: [],
    ports: [{ name: 'http', containerPort: 9090 }],
    adminPort: 'http',
    probePaths: { live: '/-/healthy', ready: '/-/ready' },
    resources: v.prometheus.resources,
    volumes: [
      { name: 'config', configMap: { name: 'weft-prometheus-config' } },
      when(pvc, { name: 'data', persistentVolumeClaim: { claimName: DATA_CLAIM } }, { name: 'data', emptyDir: {} }),
    ],
    volumeMounts: [
      { name: 'config', mountPath: '/etc/prometheus', readOnly: true },
      { name: 'data', mountPath: '/data' },
    ],
    annotations: { 'checksum/config': typed<string>(pipe(include(CONFIG_HELPER), 'sha256sum')) },
    scheduling: v,
    runAsUser: 65534,
  }), on);
}

/**
 * PodMonitors for a Prometheus Operator (monitoring.coreos.com/v1): the same two jobs as the chart's own
 * Prometheus, with the same target labels, so viz's queries work against the operator's Prometheus.
 */
function addPodMonitors(c: WeftChart, v: RefsOf<typeof vizValues>): void {
  const on = truthy(v.prometheusOperator.podMonitor);
  const labels = { ...objectLabels(VIZ_CHART, 'prometheus'), ...spread(v.prometheusOperator.labels) };
  c.add('podmonitors.yaml', {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    name: 'weft-proxy',
    labels,
    body: {
      spec: {
        namespaceSelector: { any: true },
        // The injector labels every meshed pod with its control plane's namespace.
        selector: { matchLabels: { 'weft.io/control-plane-ns': v.controlPlaneNamespace } },
        podMetricsEndpoints: [{
          port: 'weft-admin',
          honorLabels: true,
          interval: v.prometheus.scrapeInterval,
          relabelings: [
            { sourceLabels: ['__meta_kubernetes_pod_container_name'], action: 'keep', regex: 'weft-proxy' },
            { sourceLabels: ['__meta_kubernetes_namespace'], targetLabel: 'namespace' },
            { sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'pod' },
          ],
        }],
      },
    },
  }, on);
  c.add('podmonitors.yaml', {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    name: 'weft-controller',
    labels,
    body: {
      spec: {
        namespaceSelector: { matchNames: [v.controlPlaneNamespace] },
        selector: { matchLabels: { 'app.kubernetes.io/part-of': 'weft' } },
        podMetricsEndpoints: [{
          port: 'admin-http',
          interval: v.prometheus.scrapeInterval,
          relabelings: [
            { sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_component'], targetLabel: 'component' },
            { sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'pod' },
          ],
        }],
      },
    },
  }, on);
}
