/**
 * Value groups every weft chart shares (image, scheduling, extra metadata),
 * so the same key means the same thing in each chart.
 */
import { bool, group, int, object, oneOf, str, stringMap, tolerations } from '../values/model.js';

export const imageValues = () =>
  group('Images: `<registry>/<name>:<tag>`.', {
    registry: str({ default: 'ghcr.io/weft-mesh', description: 'Registry (and path) that holds every weft image.', pattern: '^[a-z0-9]([a-z0-9._:/-]*[a-z0-9])?$' }),
    tag: str({ default: '', description: 'Tag for every weft image; empty means the chart appVersion.', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$|^$' }),
    pullPolicy: oneOf(['Always', 'IfNotPresent', 'Never'] as const, { default: 'IfNotPresent', description: 'imagePullPolicy of every container.' }),
  });

export const componentImage = (name: string) =>
  group(`The ${name} image.`, {
    name: str({ default: name, description: 'Image name under `image.registry`.', pattern: '^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?$' }),
    tag: str({ default: '', description: 'Tag of this image; empty means `image.tag`, then appVersion.', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$|^$' }),
    digest: str({ default: '', description: 'Pin the image by digest (`sha256:<64 hex>`); set, it replaces the tag.', pattern: '^$|^sha256:[a-f0-9]{64}$' }),
  });

export const schedulingValues = () => ({
  imagePullSecrets: object<(string | { name: string })[]>({
    default: [],
    description: 'Secrets used to pull images: names, or `{name: ...}` maps as in a pod spec (Linkerd\'s shape).',
    docType: 'list of string or {name}',
    schema: { type: 'array', items: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1 } } }] } },
  }),
  commonLabels: stringMap({ default: {}, description: 'Extra labels on every object.' }),
  podLabels: stringMap({ default: {}, description: 'Extra labels on every pod.' }),
  podAnnotations: stringMap({ default: {}, description: 'Extra annotations on every pod.' }),
  nodeSelector: stringMap({ default: { 'kubernetes.io/os': 'linux' }, description: 'nodeSelector of every pod.' }),
  tolerations: tolerations({ default: [], description: 'Tolerations of every pod.' }),
  priorityClassName: str({ default: '', description: 'PriorityClass of every pod (empty: none).' }),
  affinity: object<Record<string, unknown>>({ default: {}, description: 'affinity of every pod; set, it replaces the anti-affinity of `enablePodAntiAffinity`.', docType: 'Affinity', schema: { type: 'object' } }),
  topologySpreadConstraints: object<Record<string, unknown>[]>({ default: [], description: 'topologySpreadConstraints of every pod (their labelSelector names the component: `app.kubernetes.io/name: weft-<component>`).', docType: 'list of TopologySpreadConstraint', schema: { type: 'array', items: { type: 'object' } } }),
  deploymentStrategy: object<Record<string, unknown>>({ default: {}, description: 'strategy of every Deployment (empty: Kubernetes\' RollingUpdate 25%/25%), e.g. `{rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}`.', docType: 'DeploymentStrategy', schema: { type: 'object' } }),
});

export const podDisruptionBudgetValues = () =>
  group('PodDisruptionBudgets (HA).', {
    enabled: bool({ default: false, description: 'Render a PodDisruptionBudget per component.' }),
    maxUnavailable: int({ default: 1, minimum: 1, maximum: 100, description: 'maxUnavailable of each PodDisruptionBudget.' }),
  });

export const replicas = (what: string, def = 1) => int({ default: def, minimum: 1, maximum: 100, description: `Replicas of ${what}.` });

export { object };
