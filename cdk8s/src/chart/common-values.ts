/**
 * Value groups every weft chart shares (image, scheduling, extra metadata),
 * so the same key means the same thing in each chart.
 */
import { bool, group, int, object, oneOf, str, stringList, stringMap, tolerations } from '../values/model.js';

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
  });

export const schedulingValues = () => ({
  imagePullSecrets: stringList({ default: [], description: 'Names of Secrets used to pull images.' }),
  commonLabels: stringMap({ default: {}, description: 'Extra labels on every object.' }),
  podLabels: stringMap({ default: {}, description: 'Extra labels on every pod.' }),
  podAnnotations: stringMap({ default: {}, description: 'Extra annotations on every pod.' }),
  nodeSelector: stringMap({ default: { 'kubernetes.io/os': 'linux' }, description: 'nodeSelector of every pod.' }),
  tolerations: tolerations({ default: [], description: 'Tolerations of every pod.' }),
  priorityClassName: str({ default: '', description: 'PriorityClass of every pod (empty: none).' }),
});

export const podDisruptionBudgetValues = () =>
  group('PodDisruptionBudgets (HA).', {
    enabled: bool({ default: false, description: 'Render a PodDisruptionBudget per component.' }),
    maxUnavailable: int({ default: 1, minimum: 1, maximum: 100, description: 'maxUnavailable of each PodDisruptionBudget.' }),
  });

export const replicas = (what: string, def = 1) => int({ default: def, minimum: 1, maximum: 100, description: `Replicas of ${what}.` });

export { object };
