/** Pieces the three control-plane components share. */
import { chart, not, pipe, truthy, v as typed, when, type Expr } from '../template/expr.js';
import type { RefsOf } from '../values/model.js';
import { imageRef, type ComponentImage, type SchedulingValues } from '../chart/workload.js';
import type { EnvVar } from '../chart/workload.js';
import type { ControlPlaneValues } from './values.js';
import { DESTINATION_SECRET, ISSUER_SECRET, TRUST_ROOTS_CONFIGMAP, WEBHOOK_SECRET } from '@weft/api/names';

export const CHART = 'weft-control-plane';

export { DESTINATION_SECRET, ISSUER_SECRET, TRUST_ROOTS_CONFIGMAP, WEBHOOK_SECRET };
export const TRUST_ROOTS_DIR = '/var/run/weft/trust-roots';

export type Values = RefsOf<ControlPlaneValues>;

export function scheduling(v: Values): SchedulingValues {
  return v;
}

export function image(v: Values, own: ComponentImage): Expr {
  return imageRef(v.image, own, chart.appVersion);
}

export const fieldRef = (fieldPath: string) => ({ fieldRef: { fieldPath } });

/**
 * A component's own tracing (`controlPlaneTracing`, read by common/src/trace/config.ts as `WEFT_<PREFIX>_TRACE_*`):
 * empty values leave it off / at its default rate; the pod's namespace, name and node name the spans' resource.
 */
export function tracingEnv(v: Values, prefix: string): EnvVar[] {
  return [
    { name: `${prefix}_TRACE_COLLECTOR`, value: v.controlPlaneTracing.collector },
    { name: `${prefix}_TRACE_SAMPLING`, value: v.controlPlaneTracing.sampling },
    { name: `${prefix}_POD_NAMESPACE`, valueFrom: fieldRef('metadata.namespace') },
    { name: `${prefix}_POD_NAME`, valueFrom: fieldRef('metadata.name') },
    { name: `${prefix}_NODE_NAME`, valueFrom: fieldRef('spec.nodeName') },
  ];
}

/** The trust-roots ConfigMap mounted read-only; kubelet refreshes it in place on rotation. */
export const trustRootsVolume = { name: 'trust-roots', configMap: { name: TRUST_ROOTS_CONFIGMAP } };
export const trustRootsMount = { name: 'trust-roots', mountPath: TRUST_ROOTS_DIR, readOnly: true };

/**
 * Rolls the pods when the chart-owned trust roots change (the checksum of the
 * ConfigMap's only input). With externalCA the ConfigMap is not ours to hash.
 */
export function trustRootsChecksum(v: Values): Record<string, string> {
  return { 'checksum/trust-roots': when(not(truthy(v.identity.externalCA)), typed<string>(pipe(v.identityTrustAnchorsPEM, 'sha256sum'))) };
}
