/** Values of the weft-viz chart: viz (metrics-api, tap, web) and Prometheus. */
import { bool, group, int, oneOf, resources, str } from '../values/model.js';
import { componentImage, imageValues, replicas, schedulingValues } from '../chart/common-values.js';

const DURATION = '^([0-9]+(ms|s|m|h|d|w|y))+$';

export const vizValues = group('weft-viz values', {
  controlPlaneNamespace: str({ default: 'weft', description: 'Namespace of the weft control plane (scraped, and part of identities).', pattern: '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$' }),
  identityTrustDomain: str({ default: 'cluster.local', description: 'Trust domain of workload identities.', pattern: '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$' }),
  identityTrustAnchorsPEM: str({ default: '', description: 'PEM trust anchors (same as the control plane); viz verifies proxies\' tap servers with them.', pattern: '^$|-----BEGIN CERTIFICATE-----' }),
  logLevel: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const, { default: 'info', description: 'Log level of viz.' }),
  image: imageValues(),
  ...schedulingValues(),
  viz: group('viz: metrics-api (8085), tap (8088) and web dashboard (8084) in one process.', {
    replicas: replicas('viz'),
    image: componentImage('viz'),
    resources: resources({ default: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } }, description: 'Resources of the viz container.' }),
    tapAuth: str({ default: 'kubernetes', description: 'Who may tap: comma-separated `loopback`, `token`, `kubernetes` (SubjectAccessReview on `tap` of the target).', pattern: '^(loopback|token|kubernetes)(,(loopback|token|kubernetes))*$' }),
    tapTlsSecret: str({ default: 'weft-viz-tap-tls', description: 'kubernetes.io/tls Secret with viz\'s client certificate for proxies\' tap servers (e.g. from cert-manager, signed by the identity issuer).', pattern: '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$' }),
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
    replicas: int({ default: 1, minimum: 1, maximum: 1, description: 'Replicas of Prometheus (one: its storage is an emptyDir).' }),
  }),
});
