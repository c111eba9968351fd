/**
 * Jaeger for the mesh's traces (`jaeger.enabled`): Jaeger v2 all-in-one with
 * an OTLP receiver (4318 HTTP, 4317 gRPC), in-memory storage and the UI
 * (16686), behind the Service `weft-jaeger`. Its config is a text helper, so
 * the Deployment's checksum annotation follows the ConfigMap.
 */
import { concat, include, pipe, textOf, truthy, v as typed } from '../template/expr.js';
import type { HelperDef } from '../template/helpers.js';
import type { RefsOf } from '../values/model.js';
import { objectLabels, selectorLabels } from '../chart/labels.js';
import { deployment, serviceAccount } from '../chart/workload.js';
import type { WeftChart } from '../chart/weft-chart.js';
import type { vizValues } from './values.js';
import { VIZ_CHART } from './prometheus.js';

const CONFIG_HELPER = `${VIZ_CHART}.jaegerConfig`;
const PORTS = { otlpHttp: 4318, otlpGrpc: 4317, ui: 16686 } as const;

export function jaegerConfigHelper(v: RefsOf<typeof vizValues>): HelperDef {
  return {
    name: CONFIG_HELPER,
    kind: 'text',
    description: 'Jaeger v2 config: OTLP receivers, in-memory store, query UI.',
    body: {
      service: {
        extensions: ['jaeger_storage', 'jaeger_query'],
        pipelines: { traces: { receivers: ['otlp'], processors: ['batch'], exporters: ['jaeger_storage_exporter'] } },
      },
      extensions: {
        jaeger_storage: { backends: { memstore: { memory: { max_traces: v.jaeger.maxTraces } } } },
        jaeger_query: { storage: { traces: 'memstore' }, http: { endpoint: `0.0.0.0:${PORTS.ui}` } },
      },
      receivers: { otlp: { protocols: { grpc: { endpoint: `0.0.0.0:${PORTS.otlpGrpc}` }, http: { endpoint: `0.0.0.0:${PORTS.otlpHttp}` } } } },
      processors: { batch: {} },
      exporters: { jaeger_storage_exporter: { trace_storage: 'memstore' } },
    },
  };
}

export function addJaeger(c: WeftChart, v: RefsOf<typeof vizValues>): void {
  const on = truthy(v.jaeger.enabled);
  const file = 'jaeger.yaml';
  c.add(file, serviceAccount(VIZ_CHART, 'jaeger'), on);
  c.add(file, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    name: 'weft-jaeger-config',
    labels: objectLabels(VIZ_CHART, 'jaeger'),
    body: { data: { 'config.yaml': textOf(CONFIG_HELPER) } },
  }, on);
  c.add(file, {
    apiVersion: 'v1',
    kind: 'Service',
    name: 'weft-jaeger',
    labels: objectLabels(VIZ_CHART, 'jaeger'),
    body: {
      spec: {
        type: 'ClusterIP',
        selector: selectorLabels(VIZ_CHART, 'jaeger'),
        ports: [
          { name: 'otlp-http', port: PORTS.otlpHttp, targetPort: 'otlp-http', protocol: 'TCP' },
          { name: 'otlp-grpc', port: PORTS.otlpGrpc, targetPort: 'otlp-grpc', protocol: 'TCP' },
          { name: 'ui', port: PORTS.ui, targetPort: 'ui', protocol: 'TCP' },
        ],
      },
    },
  }, on);
  c.add(file, deployment({
    chartName: VIZ_CHART,
    component: 'jaeger',
    serviceAccount: 'weft-jaeger',
    replicas: v.jaeger.replicas,
    image: concat`${v.jaeger.image.repository}:${v.jaeger.image.tag}`,
    pullPolicy: v.image.pullPolicy,
    args: ['--config=/etc/jaeger/config.yaml'],
    env: [],
    ports: [
      { name: 'otlp-http', containerPort: PORTS.otlpHttp },
      { name: 'otlp-grpc', containerPort: PORTS.otlpGrpc },
      { name: 'ui', containerPort: PORTS.ui },
    ],
    adminPort: 'ui',
    probePaths: { live: '/', ready: '/' },
    resources: v.jaeger.resources,
    volumes: [{ name: 'config', configMap: { name: 'weft-jaeger-config' } }],
    volumeMounts: [{ name: 'config', mountPath: '/etc/jaeger', readOnly: true }],
    annotations: { 'checksum/config': typed<string>(pipe(include(CONFIG_HELPER), 'sha256sum')) },
    scheduling: v,
    runAsUser: 10001,
  }), on);
}
