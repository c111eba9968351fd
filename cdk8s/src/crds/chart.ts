/** The weft-crds chart: weft's CustomResourceDefinitions. */
import { defineChart } from '../chart/definition.js';
import { labelHelpers, objectLabels } from '../chart/labels.js';
import { CRD_DEPRECATED_VERSION, CRD_VERSION, WEFT_CRDS, type WeftCrd } from '@weft/api/names';
import { CHART_VERSION } from '../chart/versions.js';
import type { WeftChart } from '../chart/weft-chart.js';
import { truthy, when } from '../template/expr.js';
import { helpers } from '../template/helpers.js';
import { bool, group, refsOf, type RefsOf } from '../values/model.js';
import { schedulingValues } from '../chart/common-values.js';
import { addGatewayApiCrds, GATEWAY_API_VERSION } from './gateway-api.js';
import { authorizationPolicySpec, meshTLSAuthenticationSpec, networkAuthenticationSpec, serverSpec, serviceProfileSpec } from './schemas.js';

const CHART = 'weft-crds';

export const crdsValues = group('weft-crds values', {
  keepOnUninstall: bool({ default: true, description: 'Annotate the CRDs `helm.sh/resource-policy: keep` so `helm uninstall` does not delete every ServiceProfile and policy.' }),
  commonLabels: schedulingValues().commonLabels,
  gatewayAPI: group('Gateway API CRDs (standard channel, pinned).', {
    install: bool({
      default: false,
      description: `Install the Gateway API CRDs weft reads (HTTPRoute, GRPCRoute, ReferenceGrant; standard channel ${GATEWAY_API_VERSION}). Leave off when the cluster or a Gateway controller already provides them.`,
    }),
  }),
});

interface CrdProps {
  readonly group: string;
  readonly kind: string;
  readonly plural: string;
  readonly shortNames: string[];
  readonly spec: Record<string, unknown>;
  readonly columns: { name: string; type: string; jsonPath: string }[];
}

/** What each of WEFT_CRDS adds to its name: short names, schema and printer columns. */
const CRD_DETAILS: Record<WeftCrd['kind'], Omit<CrdProps, 'group' | 'kind' | 'plural'>> = {
  ServiceProfile: { shortNames: ['sp'], spec: serviceProfileSpec, columns: [{ name: 'RetryRatio', type: 'number', jsonPath: '.spec.retryBudget.retryRatio' }] },
  Server: { shortNames: ['srv'], spec: serverSpec, columns: [{ name: 'Port', type: 'string', jsonPath: '.spec.port' }, { name: 'Protocol', type: 'string', jsonPath: '.spec.proxyProtocol' }] },
  AuthorizationPolicy: { shortNames: ['authzpol'], spec: authorizationPolicySpec, columns: [{ name: 'Target', type: 'string', jsonPath: '.spec.targetRef.name' }, { name: 'Kind', type: 'string', jsonPath: '.spec.targetRef.kind' }] },
  MeshTLSAuthentication: { shortNames: ['meshtlsauthn'], spec: meshTLSAuthenticationSpec, columns: [] },
  NetworkAuthentication: { shortNames: ['netauthn'], spec: networkAuthenticationSpec, columns: [] },
};

/**
 * The served versions (docs/crds.md): CRD_VERSION is stored; the previous
 * CRD_DEPRECATED_VERSION stays served, deprecated, until every cluster has
 * rewritten its objects (`weft crds migrate`). One schema for both: a field
 * that changes shape would need a conversion webhook.
 */
export function crdVersions(p: Pick<CrdProps, 'group' | 'kind' | 'spec' | 'columns'>): Record<string, unknown>[] {
  const schema = { openAPIV3Schema: { type: 'object', required: ['spec'], properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec: p.spec } } };
  const additionalPrinterColumns = [...p.columns, { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }];
  return [
    { name: CRD_VERSION, served: true, storage: true, schema, additionalPrinterColumns },
    {
      name: CRD_DEPRECATED_VERSION,
      served: true,
      storage: false,
      deprecated: true,
      deprecationWarning: `${p.group}/${CRD_DEPRECATED_VERSION} ${p.kind} is deprecated; use ${p.group}/${CRD_VERSION} ${p.kind}`,
      schema,
      additionalPrinterColumns,
    },
  ];
}

function addCrd(c: WeftChart, v: RefsOf<typeof crdsValues>, p: CrdProps): void {
  c.add(`${p.plural}.yaml`, {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    name: `${p.plural}.${p.group}`,
    namespaced: false,
    labels: objectLabels(CHART, 'crds'),
    annotations: when(truthy(v.keepOnUninstall), { 'helm.sh/resource-policy': 'keep' }),
    body: {
      spec: {
        group: p.group,
        scope: 'Namespaced',
        names: { kind: p.kind, listKind: `${p.kind}List`, plural: p.plural, singular: p.kind.toLowerCase(), shortNames: p.shortNames, categories: ['weft'] },
        versions: crdVersions(p),
        // Both versions share one schema, so the API server only rewrites apiVersion between them.
        conversion: { strategy: 'None' },
      },
    },
  });
}

export const crdsChart = defineChart({
  name: CHART,
  description: "weft's CustomResourceDefinitions: ServiceProfile (weft.io) and the policy.weft.io resources.",
  version: CHART_VERSION,
  model: crdsValues,
  valuesSource: 'cdk8s/src/crds/chart.ts',
  helpers: helpers(...labelHelpers(CHART, refsOf(crdsValues).commonLabels)),
  notes: `weft CRDs {{ .Chart.AppVersion }} are installed: ServiceProfile (weft.io), Server, AuthorizationPolicy,
MeshTLSAuthentication and NetworkAuthentication (policy.weft.io). Install weft-control-plane next.
`,
  examples: {},
  build(c, v) {
    for (const crd of WEFT_CRDS) addCrd(c, v, { ...crd, ...CRD_DETAILS[crd.kind] });
    addGatewayApiCrds(c, truthy(v.gatewayAPI.install), objectLabels(CHART, 'crds'), truthy(v.keepOnUninstall));
  },
});
