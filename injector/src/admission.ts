/**
 * AdmissionReview v1 in, AdmissionReview v1 out: the webhook's request path
 * without the HTTP. A body that is not an AdmissionReview is rejected with a
 * clear message (HTTP 400 in the server); a Pod that cannot be meshed is
 * still admitted, with the reason in the log and problems as warnings.
 */
import { InvalidArgumentError, UnavailableError } from '@weft/common/errors';
import type { k8s } from '@weft/common/k8s/client';
import { inject, type InjectResult, type PodLike } from './inject.js';
import { diff, toJsonPatch } from './json-patch.js';
import type { MeshConfig } from './mesh-config.js';
import { owningWorkload } from './workload.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

/** The parts of admission.k8s.io/v1 AdmissionRequest the injector reads. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: { readonly group: string; readonly version: string; readonly kind: string };
  readonly operation: string;
  readonly namespace?: string;
  readonly object?: unknown;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  /** base64 of the JSON Patch document. */
  patch?: string;
  warnings?: string[];
  status?: { code: number; message: string };
}

export interface AdmissionReview {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

export class MalformedAdmissionReview extends InvalidArgumentError {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and checks a request body; throws MalformedAdmissionReview saying what is wrong. */
export function parseAdmissionReview(body: string): AdmissionRequest {
  let review: unknown;
  try {
    review = JSON.parse(body);
  } catch (err) {
    throw new MalformedAdmissionReview(`body is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(review)) throw new MalformedAdmissionReview('body is not a JSON object');
  if (review.kind !== 'AdmissionReview') throw new MalformedAdmissionReview(`kind is ${JSON.stringify(review.kind)}, expected "AdmissionReview"`);
  if (review.apiVersion !== ADMISSION_API_VERSION) {
    throw new MalformedAdmissionReview(`apiVersion is ${JSON.stringify(review.apiVersion)}, expected "${ADMISSION_API_VERSION}" (register the webhook with admissionReviewVersions: [v1])`);
  }
  const req = review.request;
  if (!isObject(req)) throw new MalformedAdmissionReview('request is missing');
  if (typeof req.uid !== 'string' || req.uid === '') throw new MalformedAdmissionReview('request.uid is missing');
  const kind = req.kind;
  if (!isObject(kind) || typeof kind.kind !== 'string' || typeof kind.version !== 'string') {
    throw new MalformedAdmissionReview('request.kind is not a GroupVersionKind');
  }
  if (typeof req.operation !== 'string') throw new MalformedAdmissionReview('request.operation is missing');
  if (req.namespace !== undefined && typeof req.namespace !== 'string') throw new MalformedAdmissionReview('request.namespace is not a string');
  return req as unknown as AdmissionRequest;
}

export interface AdmissionContext {
  /** The current mesh config (trust anchors can rotate while the webhook runs). */
  mesh(): MeshConfig;
  /** The namespace's annotations; throws when they cannot be read. */
  namespaceAnnotations(namespace: string): Promise<Readonly<Record<string, string>>>;
}

export interface AdmissionOutcome {
  readonly review: AdmissionReview;
  /** What happened, for logs and metrics: injected | skipped | ignored | error. */
  readonly result: 'injected' | 'skipped' | 'ignored' | 'error';
  readonly reason: string;
}

function respond(response: AdmissionResponse, result: AdmissionOutcome['result'], reason: string): AdmissionOutcome {
  return { review: { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response }, result, reason };
}

/** Decides one admission request: a JSON Patch for a Pod to mesh, a plain allow otherwise. */
export async function admit(req: AdmissionRequest, ctx: AdmissionContext): Promise<AdmissionOutcome> {
  const uid = req.uid;
  const isPod = req.kind.group === '' && req.kind.version === 'v1' && req.kind.kind === 'Pod';
  if (!isPod || req.operation !== 'CREATE') {
    return respond({ uid, allowed: true }, 'ignored', `${req.operation} ${req.kind.kind} is not a Pod creation`);
  }
  if (!isObject(req.object)) throw new MalformedAdmissionReview('request.object is not a Pod');
  const pod = req.object as k8s.V1Pod;
  const namespace = req.namespace || pod.metadata?.namespace;
  if (!namespace) throw new MalformedAdmissionReview('neither request.namespace nor the Pod names a namespace');

  let namespaceAnnotations: Readonly<Record<string, string>>;
  try {
    namespaceAnnotations = await ctx.namespaceAnnotations(namespace);
  } catch (err) {
    // Admitting the pod unmeshed would silently drop mTLS and policy for it;
    // refusing makes its controller retry once the API server answers again.
    const message = `weft injector cannot read namespace ${namespace}: ${(err as Error).message}`;
    return respond({ uid, allowed: false, status: { code: new UnavailableError(message).httpStatus, message } }, 'error', message);
  }
  const r: InjectResult<PodLike> = inject(pod, ctx.mesh(), { namespace, namespaceAnnotations, workload: owningWorkload(pod) });
  const warnings = r.warnings.map((w) => `weft: ${w}`);
  const response: AdmissionResponse = { uid, allowed: true };
  if (warnings.length) response.warnings = warnings;
  if (!r.injected) return respond(response, 'skipped', r.reason);
  response.patchType = 'JSONPatch';
  response.patch = Buffer.from(JSON.stringify(toJsonPatch(diff(pod, r.pod)))).toString('base64');
  return respond(response, 'injected', r.reason);
}
