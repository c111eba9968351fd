/**
 * The Deployment, Service and PodDisruptionBudget shape shared by weft's
 * control-plane and viz components: hardened pod security, admin-port probes,
 * values-driven image/resources/scheduling, and anti-affinity when asked.
 */
import { concat, each, item, nameOf, orDefault, spread, truthy, when, yamlOf, type Cond, type Expr, type RefExpr } from '../template/expr.js';
import { objectLabels, selectorLabels } from './labels.js';
import type { ObjectSpec } from './weft-chart.js';

/** Values every workload reads (same keys in every chart). */
export interface SchedulingValues {
  readonly imagePullSecrets: RefExpr<(string | { name: string })[]>;
  readonly affinity: RefExpr<Record<string, unknown>>;
  readonly topologySpreadConstraints: RefExpr<Record<string, unknown>[]>;
  readonly deploymentStrategy: RefExpr<Record<string, unknown>>;
  readonly podLabels: RefExpr<Record<string, string>>;
  readonly podAnnotations: RefExpr<Record<string, string>>;
  readonly nodeSelector: RefExpr<Record<string, string>>;
  readonly tolerations: RefExpr<unknown[]>;
  readonly priorityClassName: RefExpr<string>;
}

export interface ImageValues {
  readonly registry: RefExpr<string>;
  readonly tag: RefExpr<string>;
  readonly pullPolicy: RefExpr<string>;
}

export interface ComponentImage {
  readonly name: RefExpr<string>;
  readonly tag: RefExpr<string>;
  readonly digest: RefExpr<string>;
}

/** `<registry>/<name>@<digest>` when pinned, else `<registry>/<name>:<tag>`; the tag falls back to the chart-wide tag, then to appVersion. */
export function imageRef(global: ImageValues, own: ComponentImage, appVersion: Expr): Expr {
  return when<Expr>(truthy(own.digest), concat`${global.registry}/${own.name}@${own.digest}`, concat`${global.registry}/${own.name}:${orDefault(orDefault(own.tag, global.tag), appVersion)}`);
}

export type EnvVar = { name: string; value: Expr | string } | { name: string; valueFrom: Record<string, unknown> };

/** A setting taken from the pod rather than from values (`fieldRef`). */
export interface EnvFrom {
  readonly valueFrom: Record<string, unknown>;
}

/**
 * A component's settings as `<prefix>_<NAME>` environment variables (the names its config parser reads, e.g.
 * `WEFT_DESTINATION_PORT`), in the order given.
 */
export function settingsEnv(prefix: string, settings: Readonly<Record<string, Expr | string | EnvFrom>>): EnvVar[] {
  return Object.entries(settings).map(([key, v]) =>
    typeof v === 'object' && 'valueFrom' in v ? { name: `${prefix}_${key}`, valueFrom: v.valueFrom } : { name: `${prefix}_${key}`, value: v },
  );
}

export interface WorkloadProps {
  readonly chartName: string;
  readonly component: string;
  readonly serviceAccount: string;
  readonly replicas: RefExpr<number>;
  readonly image: Expr;
  readonly pullPolicy: RefExpr<string>;
  readonly args?: readonly (string | Expr)[];
  readonly env: readonly EnvVar[];
  readonly ports: readonly { name: string; containerPort: number }[];
  /** Port name serving `/live` and `/ready`. */
  readonly adminPort: string;
  readonly probePaths?: { live: string; ready: string };
  readonly resources: RefExpr;
  readonly volumes?: readonly unknown[];
  readonly volumeMounts?: readonly unknown[];
  /** Pod annotations beyond values.podAnnotations (checksums). */
  readonly annotations?: Record<string, string>;
  readonly scheduling: SchedulingValues;
  readonly antiAffinity?: Cond;
  /** Run as this UID; images may need a writable /tmp, given as an emptyDir. */
  readonly runAsUser?: number;
}

const name = (component: string): string => `weft-${component}`;

export function deployment(p: WorkloadProps): ObjectSpec {
  const selector = selectorLabels(p.chartName, p.component);
  const s = p.scheduling;
  const probe = (path: string): Record<string, unknown> => ({ httpGet: { path, port: p.adminPort }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 });
  const paths = p.probePaths ?? { live: '/live', ready: '/ready' };
  const affinity = p.antiAffinity
    ? when(p.antiAffinity, {
        podAntiAffinity: {
          // One replica per node is required (a node loss takes one replica); spreading over zones is preferred.
          requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: selector }, topologyKey: 'kubernetes.io/hostname' }],
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 100, podAffinityTerm: { labelSelector: { matchLabels: selector }, topologyKey: 'topology.kubernetes.io/zone' } },
          ],
        },
      })
    : undefined;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    name: name(p.component),
    labels: objectLabels(p.chartName, p.component),
    body: {
      spec: {
        replicas: p.replicas,
        revisionHistoryLimit: 3,
        strategy: yamlOf(s.deploymentStrategy, { omitEmpty: true }),
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels: { ...objectLabels(p.chartName, p.component), ...spread(s.podLabels) },
            annotations: {
              // The mesh must not inject its own control plane.
              'weft.io/inject': 'disabled',
              ...(p.annotations ?? {}),
              ...spread(s.podAnnotations),
            },
          },
          spec: {
            serviceAccountName: name(p.component),
            automountServiceAccountToken: true,
            enableServiceLinks: false,
            priorityClassName: yamlOf(s.priorityClassName, { omitEmpty: true }),
            imagePullSecrets: when(s.imagePullSecrets, each(s.imagePullSecrets, { name: nameOf(item<unknown>(undefined, 'object')) })),
            nodeSelector: yamlOf(s.nodeSelector, { omitEmpty: true }),
            tolerations: yamlOf(s.tolerations, { omitEmpty: true }),
            affinity: when(truthy(s.affinity), yamlOf(s.affinity), affinity),
            topologySpreadConstraints: yamlOf(s.topologySpreadConstraints, { omitEmpty: true }),
            securityContext: {
              runAsNonRoot: true,
              runAsUser: p.runAsUser ?? 2103,
              runAsGroup: p.runAsUser ?? 2103,
              fsGroup: p.runAsUser ?? 2103,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: p.component,
                image: p.image,
                imagePullPolicy: p.pullPolicy,
                ...(p.args ? { args: p.args } : {}),
                env: p.env,
                ports: p.ports.map((port) => ({ ...port, protocol: 'TCP' })),
                livenessProbe: probe(paths.live),
                readinessProbe: probe(paths.ready),
                resources: yamlOf(p.resources),
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  privileged: false,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...(p.volumeMounts ?? [])],
              },
            ],
            volumes: [{ name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } }, ...(p.volumes ?? [])],
          },
        },
      },
    },
  };
}

export function service(chartName: string, component: string, ports: readonly { name: string; port: number; targetPort: string }[]): ObjectSpec {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    name: name(component),
    labels: objectLabels(chartName, component),
    body: {
      spec: {
        type: 'ClusterIP',
        selector: selectorLabels(chartName, component),
        ports: ports.map((p) => ({ ...p, protocol: 'TCP' })),
      },
    },
  };
}

export function podDisruptionBudget(chartName: string, component: string, maxUnavailable: RefExpr<number>): ObjectSpec {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    name: name(component),
    labels: objectLabels(chartName, component),
    body: { spec: { maxUnavailable, selector: { matchLabels: selectorLabels(chartName, component) } } },
  };
}

export function serviceAccount(chartName: string, component: string): ObjectSpec {
  return { apiVersion: 'v1', kind: 'ServiceAccount', name: name(component), labels: objectLabels(chartName, component), body: { automountServiceAccountToken: false } };
}
