/**
 * The standard label helpers every chart defines in `_helpers.tpl`:
 * `<chart>.labels` (app.kubernetes.io/*, helm.sh/chart, plus `commonLabels`)
 * and `<chart>.selectorLabels` (only what never changes across upgrades,
 * since Deployment selectors are immutable).
 */
import { chart, concat, include, release, spread, type RefExpr } from '../template/expr.js';
import type { HelperDef } from '../template/helpers.js';

export function labelHelpers(chartName: string, commonLabels: RefExpr): HelperDef[] {
  return [
    {
      name: `${chartName}.labels`,
      kind: 'map',
      description: 'Labels on every object: Kubernetes recommended labels, the chart, and commonLabels.',
      body: {
        'helm.sh/chart': concat`${chart.name}-${chart.version}`,
        'app.kubernetes.io/part-of': 'weft',
        'app.kubernetes.io/instance': release.name,
        'app.kubernetes.io/version': chart.appVersion,
        'app.kubernetes.io/managed-by': release.service,
        ...spread(commonLabels),
      },
    },
    {
      name: `${chartName}.selectorLabels`,
      kind: 'map',
      description: 'Labels that select pods; never includes values that change on upgrade.',
      body: {
        'app.kubernetes.io/part-of': 'weft',
        'app.kubernetes.io/instance': release.name,
      },
    },
  ];
}

/** Object labels: the chart labels plus the component name. */
export function objectLabels(chartName: string, component: string): Record<string, string> {
  return { ...spread(include(`${chartName}.labels`)), 'app.kubernetes.io/name': `weft-${component}`, 'app.kubernetes.io/component': component };
}

export function selectorLabels(chartName: string, component: string): Record<string, string> {
  return { ...spread(include(`${chartName}.selectorLabels`)), 'app.kubernetes.io/name': `weft-${component}` };
}
