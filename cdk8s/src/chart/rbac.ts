/** RBAC objects bound to one component's ServiceAccount. */
import { release, type Expr } from '../template/expr.js';
import { objectLabels } from './labels.js';
import type { ObjectSpec } from './weft-chart.js';

export interface Rule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  /** Only these objects; list/watch then need a `metadata.name=<name>` field selector to be allowed. */
  readonly resourceNames?: readonly string[];
}

const subject = (component: string) => [{ kind: 'ServiceAccount', name: `weft-${component}`, namespace: release.namespace as Expr }];

/** A ClusterRole + ClusterRoleBinding (cluster-wide reads, cluster-scoped resources). */
export function clusterRole(chartName: string, component: string, rules: readonly Rule[]): ObjectSpec[] {
  const name = `weft-${component}`;
  return [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name, namespaced: false, labels: objectLabels(chartName, component), body: { rules } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      name,
      namespaced: false,
      labels: objectLabels(chartName, component),
      body: { roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: subject(component) },
    },
  ];
}

/** A Role + RoleBinding in the release namespace. */
export function namespacedRole(chartName: string, component: string, rules: readonly Rule[]): ObjectSpec[] {
  const name = `weft-${component}`;
  return [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', name, labels: objectLabels(chartName, component), body: { rules } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      name,
      labels: objectLabels(chartName, component),
      body: { roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: subject(component) },
    },
  ];
}
