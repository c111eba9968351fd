/**
 * The Gateway API CRDs weft reads (HTTPRoute, GRPCRoute, ReferenceGrant),
 * standard channel, pinned: unchanged copies from the published
 * `sigs.k8s.io/gateway-api` module in cdk8s/vendor. weft-crds installs them
 * only with `gatewayAPI.install=true` — off by default, because most clusters
 * (and every Gateway controller) already bring their own, and two owners of
 * one CRD fight over it.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { WeftChart } from '../chart/weft-chart.js';
import { when, type Cond } from '../template/expr.js';

export const GATEWAY_API_VERSION = 'v1.3.0';
export const GATEWAY_API_CRDS = ['httproutes', 'grpcroutes', 'referencegrants'] as const;

/** The vendored manifest of one CRD (`cdk8s/vendor/gateway-api-<version>/`). */
export function gatewayApiCrdFile(plural: (typeof GATEWAY_API_CRDS)[number]): URL {
  return new URL(`../../vendor/gateway-api-${GATEWAY_API_VERSION}/gateway.networking.k8s.io_${plural}.yaml`, import.meta.url);
}

interface Crd {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

/** Adds the CRDs to `templates/gateway-api.yaml`, rendered when `install` holds; `keep` adds `helm.sh/resource-policy: keep`. */
export function addGatewayApiCrds(c: WeftChart, install: Cond, labels: Record<string, string>, keep: Cond): void {
  for (const plural of GATEWAY_API_CRDS) {
    const crd = parse(readFileSync(gatewayApiCrdFile(plural), 'utf8')) as Crd;
    c.add(
      'gateway-api.yaml',
      {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        name: crd.metadata.name,
        namespaced: false,
        labels,
        annotations: when(keep, { ...crd.metadata.annotations, 'helm.sh/resource-policy': 'keep' }, { ...crd.metadata.annotations }),
        body: { spec: crd.spec },
      },
      install,
    );
  }
}
