/** The weft-viz chart: viz (metrics-api, tap, web) and Prometheus. */
import { TRUST_ROOTS_KEY } from '@weft/api/names';
import { defineChart } from '../chart/definition.js';
import { labelHelpers, objectLabels, selectorLabels } from '../chart/labels.js';
import { clusterRole } from '../chart/rbac.js';
import { CHART_VERSION } from '../chart/versions.js';
import type { WeftChart } from '../chart/weft-chart.js';
import { deployment, imageRef, podDisruptionBudget, serviceAccount, settingsEnv } from '../chart/workload.js';
import { addTapTls } from './tap-tls.js';
import { chart, concat, pipe, release, required, truthy, v as typed, when } from '../template/expr.js';
import { helpers } from '../template/helpers.js';
import { refsOf, type RefsOf } from '../values/model.js';
import { VIZ_CHART, addPrometheus, prometheusConfigHelper } from './prometheus.js';
import { addJaeger, jaegerConfigHelper } from './jaeger.js';
import { vizValues } from './values.js';

type V = RefsOf<typeof vizValues>;
const refs = refsOf(vizValues);
const TRUST = '/var/run/weft/trust-roots';
const TAP_TLS = '/var/run/weft/viz/tap-tls';

function addViz(c: WeftChart, v: V): void {
  const file = 'viz.yaml';
  c.add('viz-trust-roots.yaml', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    name: 'weft-viz-trust-roots',
    labels: objectLabels(VIZ_CHART, 'viz'),
    body: { data: { [TRUST_ROOTS_KEY]: required(v.identityTrustAnchorsPEM, 'identityTrustAnchorsPEM is required: pass the PEM of the mesh trust anchor(s), e.g. --set-file identityTrustAnchorsPEM=ca.crt') } },
  });
  c.add(file, serviceAccount(VIZ_CHART, 'viz'));
  for (const o of clusterRole(VIZ_CHART, 'viz', [
    { apiGroups: [''], resources: ['pods', 'namespaces'], verbs: ['list', 'watch'] },
    { apiGroups: ['apps'], resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'], verbs: ['list', 'watch'] },
    { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
    { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
  ])) c.add('viz-rbac.yaml', o);
  // Who may tap: `watch` on `<kind>s/tap` in tap.weft.io (viz's SubjectAccessReview). weft-viz-tap-admin is
  // aggregated into the built-in `admin` role, so a namespace's admins may tap it; bind weft-viz-tap to others.
  const tapResources = ['namespaces/tap', 'deployments/tap', 'statefulsets/tap', 'daemonsets/tap', 'pods/tap'];
  c.add('viz-tap-rbac.yaml', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    name: 'weft-viz-tap-admin',
    namespaced: false,
    labels: { ...objectLabels(VIZ_CHART, 'viz'), 'rbac.authorization.k8s.io/aggregate-to-admin': 'true' },
    body: { rules: [{ apiGroups: ['tap.weft.io'], resources: tapResources, verbs: ['watch'] }] },
  });
  c.add('viz-tap-rbac.yaml', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    name: 'weft-viz-tap',
    namespaced: false,
    labels: objectLabels(VIZ_CHART, 'viz'),
    body: { rules: [{ apiGroups: ['tap.weft.io'], resources: tapResources, verbs: ['watch'] }] },
  });
  for (const [svc, port, target] of [['weft-metrics-api', 8085, 'api'], ['weft-tap', 8088, 'tap'], ['weft-web', 8084, 'web']] as const) {
    c.add(file, {
      apiVersion: 'v1',
      kind: 'Service',
      name: svc,
      labels: objectLabels(VIZ_CHART, 'viz'),
      body: { spec: { type: 'ClusterIP', selector: selectorLabels(VIZ_CHART, 'viz'), ports: [{ name: target, port, targetPort: target, protocol: 'TCP' }] } },
    });
  }
  const promUrl = when(truthy(v.prometheus.enabled), typed<string>(concat`http://weft-prometheus.${release.namespace}.svc:9090`), typed<string>(required(v.prometheus.url, 'prometheus.url is required when prometheus.enabled=false')));
  c.add(file, deployment({
    chartName: VIZ_CHART,
    component: 'viz',
    serviceAccount: 'weft-viz',
    replicas: v.viz.replicas,
    image: imageRef(v.image, v.viz.image, chart.appVersion),
    pullPolicy: v.image.pullPolicy,
    env: settingsEnv('WEFT_VIZ', {
      LOG_LEVEL: v.logLevel,
      PROMETHEUS_URL: promUrl as never,
      API_LISTEN_ADDR: '0.0.0.0:8085',
      TAP_LISTEN_ADDR: '0.0.0.0:8088',
      WEB_LISTEN_ADDR: '0.0.0.0:8084',
      TRUST_ANCHORS_FILE: `${TRUST}/ca-bundle.crt`,
      TAP_CERT_FILE: `${TAP_TLS}/tls.crt`,
      TAP_KEY_FILE: `${TAP_TLS}/tls.key`,
      TAP_AUTH: v.viz.tapAuth,
      CONTROL_NAMESPACE: v.controlPlaneNamespace,
      TRUST_DOMAIN: v.identityTrustDomain,
    }),
    ports: [
      { name: 'api', containerPort: 8085 },
      { name: 'tap', containerPort: 8088 },
      { name: 'web', containerPort: 8084 },
    ],
    adminPort: 'web',
    probePaths: { live: '/', ready: '/' },
    resources: v.viz.resources,
    volumes: [
      { name: 'trust-roots', configMap: { name: 'weft-viz-trust-roots' } },
      { name: 'tap-tls', secret: { secretName: v.viz.tapTlsSecret } },
    ],
    volumeMounts: [
      { name: 'trust-roots', mountPath: TRUST, readOnly: true },
      { name: 'tap-tls', mountPath: TAP_TLS, readOnly: true },
    ],
    annotations: { 'checksum/trust-roots': typed<string>(pipe(v.identityTrustAnchorsPEM, 'sha256sum')) },
    scheduling: v,
    antiAffinity: truthy(v.enablePodAntiAffinity),
  }));
  c.add('viz-pdb.yaml', podDisruptionBudget(VIZ_CHART, 'viz', v.podDisruptionBudget.maxUnavailable), truthy(v.podDisruptionBudget.enabled));
  addTapTls(c, v);
}

export const vizChart = defineChart({
  name: VIZ_CHART,
  description: 'weft-viz: metrics-api, tap and the web dashboard, with a Prometheus that scrapes the mesh.',
  version: CHART_VERSION,
  model: vizValues,
  valuesSource: 'cdk8s/src/viz/values.ts',
  helpers: helpers(...labelHelpers(VIZ_CHART, refs.commonLabels), prometheusConfigHelper(refs), jaegerConfigHelper(refs)),
  notes: `weft-viz {{ .Chart.AppVersion }} is installed in namespace {{ .Release.Namespace }}.

Open the dashboard:
  kubectl -n {{ .Release.Namespace }} port-forward svc/weft-web 8084
  then browse http://localhost:8084
{{- if not .Values.prometheus.enabled }}
Metrics come from the Prometheus at {{ .Values.prometheus.url }}.
{{- end }}
{{- if .Values.jaeger.enabled }}

Traces: Jaeger receives OTLP at weft-jaeger.{{ .Release.Namespace }}:4318 (HTTP) and :4317 (gRPC).
Have the proxies send their spans there (weft-control-plane value, or per workload):
  proxy.traceCollector=weft-jaeger.{{ .Release.Namespace }}.svc.cluster.local:4318
  config.weft.io/trace-collector: weft-jaeger.{{ .Release.Namespace }}.svc.cluster.local:4318
Open the Jaeger UI:
  kubectl -n {{ .Release.Namespace }} port-forward svc/weft-jaeger 16686
  then browse http://localhost:16686
{{- end }}

Who may tap: namespace admins (weft-viz-tap-admin is aggregated into admin); others through weft-viz-tap:
  kubectl -n <ns> create rolebinding <user>-tap --clusterrole=weft-viz-tap --user=<user>
Check the install:
  weft check --proxy
`,
  examples: {},
  build(c, v) {
    addViz(c, v);
    addPrometheus(c, v);
    addJaeger(c, v);
  },
});
