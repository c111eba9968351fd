/** Values of the weft-viz chart: viz (metrics-api, tap, web) and Prometheus. */
import { VIZ_TAP_SECRET } from '@weft/api/names';
import { bool, group, int, oneOf, resources, str, stringMap } from '../values/model.js';
import { componentImage, imageValues, podDisruptionBudgetValues, replicas, schedulingValues } from '../chart/common-values.js';

const DURATION = '^([0-9]+(ms|s|m|h|d|w|y))+$';

export const vizValues = group('weft-viz values', {
  controlPlaneNamespace: str({ default: 'weft', description: 'Namespace of the weft control plane (scraped, and part of identities).', pattern: '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$' }),
  identityTrustDomain: str({ default: 'cluster.local', description: 'Trust domain of workload identities.', pattern: '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$' }),
  identityTrustAnchorsPEM: str({ default: '', description: 'PEM trust anchors (same as the control plane); viz verifies proxies\' tap servers with them.', pattern: '^$|-----BEGIN CERTIFICATE-----' }),
  logLevel: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const, { default: 'info', description: 'Log level of viz.' }),
  image: imageValues(),
  ...schedulingValues(),
  enablePodAntiAffinity: bool({ default: false, description: 'Require viz replicas on different nodes (and prefer different zones).' }),
  podDisruptionBudget: podDisruptionBudgetValues(),
  identity: group('The mesh identity issuer, when the chart signs viz\'s tap client certificate itself.', {
    issuer: group('Same names as the control-plane chart, so one values file serves both.', {
      tls: group('Issuer certificate and key (PEM), e.g. `--set-file identity.issuer.tls.crtPEM=issuer.crt,identity.issuer.tls.keyPEM=issuer.key`.', {
        crtPEM: str({ default: '', description: 'Identity issuer certificate (PEM); viz\'s tap certificate is signed with it and kept across upgrades while the issuer stays the same.', pattern: '^$|-----BEGIN CERTIFICATE-----' }),
        keyPEM: str({ default: '', description: 'Identity issuer private key (PEM).', pattern: '^$|-----BEGIN [A-Z ]*PRIVATE KEY-----' }),
      }),
    }),
  }),
  viz: group('viz: metrics-api (8085), tap (8088) and web dashboard (8084) in one process.', {
    replicas: replicas('viz'),
    image: componentImage('viz'),
    resources: resources({ default: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } }, description: 'Resources of the viz container.' }),
    tapAuth: str({ default: 'kubernetes', description: 'Who may tap: comma-separated `loopback`, `token`, `kubernetes` (SubjectAccessReview on `tap` of the target).', pattern: '^(loopback|token|kubernetes)(,(loopback|token|kubernetes))*$' }),
    tapTlsSecret: str({ default: VIZ_TAP_SECRET, description: 'kubernetes.io/tls Secret with viz\'s client certificate for proxies\' tap servers (identity `weft-viz.<ns>.serviceaccount.identity.<controlPlaneNamespace>.<trustDomain>`, chaining to the anchors).', pattern: '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$' }),
    tapTls: group('Where the tap client certificate comes from: cert-manager (`issuerRef`), the chart (signed with `identity.issuer.tls`), or you (`externalSecret`).', {
      issuerRef: group('A cert-manager Issuer in this namespace or a ClusterIssuer whose CA chains to the trust anchors; with a name, the chart renders a Certificate into `viz.tapTlsSecret`.', {
        name: str({ default: '', description: 'Issuer or ClusterIssuer name (empty: not cert-manager).', pattern: '^$|^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$' }),
        kind: oneOf(['ClusterIssuer', 'Issuer'] as const, { default: 'ClusterIssuer', description: 'Kind of the issuer.' }),
      }),
      duration: str({ default: '24h0m0s', description: 'Lifetime of the cert-manager tap certificate (renewed at two thirds; viz reloads it).', pattern: '^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$' }),
      externalSecret: bool({ default: false, description: 'You create `viz.tapTlsSecret` yourself.' }),
    }),
  }),
  prometheus: group('The Prometheus viz queries.', {
    enabled: bool({ default: true, description: 'Run a Prometheus in the chart; when false, set `prometheus.url`.' }),
    url: str({ default: '', description: 'URL of an existing Prometheus when `prometheus.enabled: false`.' }),
    image: group('Prometheus image.', {
      repository: str({ default: 'docker.io/prom/prometheus', description: 'Image repository.' }),
      tag: str({ default: 'v3.5.0', description: 'Image tag.' }),
    }),
    resources: resources({ default: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } }, description: 'Resources of Prometheus.' }),
    scrapeInterval: str({ default: '10s', description: 'How often proxies and the control plane are scraped.', pattern: DURATION }),
    retention: str({ default: '6h', description: 'How long samples are kept.', pattern: DURATION }),
    replicas: int({ default: 1, minimum: 1, maximum: 1, description: 'Replicas of Prometheus (one: each would scrape and store on its own).' }),
    storage: group('Where Prometheus keeps its samples.', {
      type: oneOf(['emptyDir', 'pvc'] as const, { default: 'emptyDir', description: '`emptyDir`: lost when the pod goes; `pvc`: a PersistentVolumeClaim `weft-prometheus-data`.' }),
      size: str({ default: '8Gi', description: 'Size of the claim (`pvc`).', pattern: '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$' }),
      storageClassName: str({ default: '', description: 'StorageClass of the claim; empty: the cluster default.' }),
    }),
  }),
  jaeger: group('A Jaeger all-in-one (OTLP receiver, in-memory store, UI) for the proxies\' spans (docs/tracing.md); point the control plane\'s `proxy.traceCollector` (or a workload\'s `config.weft.io/trace-collector`) at `weft-jaeger.<namespace>:4318`.', {
    enabled: bool({ default: false, description: 'Run Jaeger in the chart.' }),
    image: group('Jaeger v2 image (the release the tracing test builds from its Go module, v1.75.0, is v2.12.0).', {
      repository: str({ default: 'docker.io/jaegertracing/jaeger', description: 'Image repository.' }),
      tag: str({ default: '2.12.0', description: 'Image tag.' }),
    }),
    maxTraces: int({ default: 50000, minimum: 1, description: 'Traces kept in memory (the oldest go first; all are lost when the pod goes).' }),
    replicas: int({ default: 1, minimum: 1, maximum: 1, description: 'Replicas of Jaeger (one: each would hold its own traces in memory).' }),
    resources: resources({ default: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } }, description: 'Resources of Jaeger.' }),
  }),
  prometheusOperator: group('Scrape configuration for a Prometheus Operator you run (with `prometheus.enabled: false` and `prometheus.url`).', {
    podMonitor: bool({ default: false, description: 'Render PodMonitors for the meshed proxies (`weft-proxy` port 4191) and the control plane (`admin-http`).' }),
    labels: stringMap({ default: {}, description: 'Labels your Prometheus selects PodMonitors by (e.g. `release: kube-prometheus-stack`).' }),
  }),
});
