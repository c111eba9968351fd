/** The weft-control-plane chart. */
import { defineChart } from '../chart/definition.js';
import { labelHelpers } from '../chart/labels.js';
import { CHART_VERSION } from '../chart/versions.js';
import { helpers } from '../template/helpers.js';
import { refsOf } from '../values/model.js';
import { addCertManager } from './cert-manager.js';
import { addDestination } from './destination.js';
import { addIdentity } from './identity.js';
import { addInjector } from './injector.js';
import { CHART } from './shared.js';
import { controlPlaneValues } from './values.js';

const NOTES = `weft control plane {{ .Chart.AppVersion }} is installed in namespace {{ .Release.Namespace }}.

Identity issuer: {{ .Values.identity.issuer.scheme }}
{{- if eq .Values.identity.issuer.scheme "kubernetes.io/tls" }}
  identity reads the Secret weft-identity-issuer (ca.crt, tls.crt, tls.key)
  {{- if .Values.certManager.create }} issued by the chart's cert-manager Certificate.
  Create the trust anchor Secret {{ .Values.certManager.trustAnchorSecret }} (tls.crt, tls.key) if you have not.
  {{- else }} that cert-manager (or you) must maintain.
  {{- end }}
{{- end }}
{{- if .Values.identity.externalCA }}
Trust roots: the ConfigMap weft-identity-trust-roots is managed outside this chart.
{{- end }}

Mesh a namespace:
  kubectl annotate namespace <ns> weft.io/inject=enabled
then restart its workloads. See docs/install.md for upgrades and certificate rotation.
`;

export const controlPlaneChart = defineChart({
  name: CHART,
  description: 'weft control plane: identity, destination and the proxy injector.',
  version: CHART_VERSION,
  model: controlPlaneValues,
  valuesSource: 'cdk8s/src/control-plane/values.ts',
  helpers: helpers(...labelHelpers(CHART, refsOf(controlPlaneValues).commonLabels)),
  notes: NOTES,
  examples: {
    'values-ha.yaml': {
      enablePodAntiAffinity: true,
      podDisruptionBudget: { enabled: true, maxUnavailable: 1 },
      identity: { replicas: 3, resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } } },
      destination: { replicas: 3, resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } } },
      proxyInjector: { replicas: 3, failurePolicy: 'Fail', resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } } },
    },
  },
  build(chart, v) {
    addIdentity(chart, v);
    addDestination(chart, v);
    addInjector(chart, v);
    addCertManager(chart, v);
  },
});
