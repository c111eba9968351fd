/**
 * `weft inject` / `weft uninject` over a manifest stream: YAML (several
 * documents) or JSON, `List` kinds, every workload kind with a pod template.
 * Other kinds pass through untouched. Changes are replayed onto the parsed
 * YAML documents as JSON Patch operations, so comments and layout of the
 * parts weft does not touch survive.
 */
import { parseAllDocuments, isSeq, type Document } from 'yaml';
import { InvalidArgumentError } from '@weft/common/errors';
import { inject, isInjected, uninject, type PodLike } from './inject.js';
import { diff, type PatchOperation } from './json-patch.js';
import type { MeshConfig } from './mesh-config.js';
import { podTemplate, withPodTemplate, isWorkloadKind, type ManifestObject } from './workload.js';

export class ManifestError extends InvalidArgumentError {}

export interface ObjectSummary {
  /** 1-based document number in the stream. */
  readonly document: number;
  /** `kind/name`, e.g. `deployment/web`. */
  readonly object: string;
  readonly result: string;
  readonly warnings: readonly string[];
}

export interface ManifestResult {
  readonly output: string;
  readonly summaries: readonly ObjectSummary[];
}

export type ManifestAction = { readonly action: 'inject'; readonly mesh: MeshConfig; readonly ingress?: boolean } | { readonly action: 'uninject' };

const isObject = (v: unknown): v is ManifestObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(obj: ManifestObject): string {
  const kind = (obj.kind ?? 'object').toLowerCase();
  return `${kind}/${obj.metadata?.name ?? obj.metadata?.generateName ?? '<unnamed>'}`;
}

function transformWorkload(obj: ManifestObject, what: ManifestAction, document: number, out: ObjectSummary[]): ManifestObject {
  const summary = (result: string, warnings: readonly string[] = []): void => {
    out.push({ document, object: describe(obj), result, warnings });
  };
  const template = podTemplate(obj);
  if (!template) {
    summary(`no pod template; passed through`);
    return obj;
  }
  if (what.action === 'uninject') {
    const r = uninject(template);
    summary(r.uninjected ? 'uninjected' : 'not injected; unchanged');
    return r.uninjected ? withPodTemplate(obj, r.pod) : obj;
  }
  // Injecting an injected object re-injects it (so a new proxy version or
  // override takes effect); with the same config the result is identical.
  const wasInjected = isInjected(template);
  const base: PodLike = wasInjected ? uninject(template).pod : template;
  const r = inject(base, what.mesh, {
    namespace: obj.metadata?.namespace,
    workload: obj.metadata?.name ? { kind: obj.kind!.toLowerCase(), name: obj.metadata.name } : undefined,
    defaultMode: what.ingress ? 'ingress' : 'enabled',
  });
  if (!r.injected) {
    summary(`skipped: ${r.reason}`, r.warnings);
    return obj;
  }
  const next = withPodTemplate(obj, r.pod);
  const unchanged = wasInjected && diff(template, r.pod).length === 0;
  summary(unchanged ? 'already injected; unchanged' : wasInjected ? `re-${r.reason}` : r.reason, r.warnings);
  return next;
}

function transformObject(value: unknown, what: ManifestAction, document: number, out: ObjectSummary[]): unknown {
  if (!isObject(value)) return value;
  if (Array.isArray(value.items) && typeof value.kind === 'string' && value.kind.endsWith('List')) {
    return { ...value, items: value.items.map((item) => transformObject(item, what, document, out)) };
  }
  if (!isWorkloadKind(value.kind)) {
    out.push({ document, object: describe(value), result: 'not a workload; passed through', warnings: [] });
    return value;
  }
  return transformWorkload(value, what, document, out);
}

function applyToDocument(doc: Document, ops: readonly PatchOperation[]): void {
  for (const op of ops) {
    if (op.path.length === 0) {
      if (op.op !== 'remove') doc.contents = doc.createNode(op.value);
      continue;
    }
    if (op.op === 'remove') {
      doc.deleteIn(op.path);
      continue;
    }
    const parent = op.path.length === 1 ? doc.contents : doc.getIn(op.path.slice(0, -1), true);
    const key = op.path[op.path.length - 1]!;
    if (op.op === 'add' && isSeq(parent)) parent.items.splice(Number(key), 0, doc.createNode(op.value));
    else doc.setIn(op.path, doc.createNode(op.value));
  }
}

function looksLikeJson(text: string): boolean {
  const first = /\S/.exec(text)?.[0];
  return first === '{' || first === '[';
}

/** Injects into (or uninjects from) every workload of a manifest stream. */
export function transformManifest(text: string, what: ManifestAction): ManifestResult {
  const summaries: ObjectSummary[] = [];
  if (looksLikeJson(text)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new ManifestError(`document 1: invalid JSON: ${(err as Error).message}`);
    }
    const out = transformObject(value, what, 1, summaries);
    return { output: JSON.stringify(out, null, 2) + '\n', summaries };
  }
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return { output: text, summaries };
  for (const [i, doc] of docs.entries()) {
    const problem = doc.errors[0];
    if (problem) throw new ManifestError(`document ${i + 1}: invalid YAML: ${problem.message}`);
  }
  for (const [i, doc] of docs.entries()) {
    const before: unknown = doc.toJS();
    if (before === null || before === undefined) continue;
    const after = transformObject(before, what, i + 1, summaries);
    if (after !== before) applyToDocument(doc, diff(before, after));
  }
  return { output: docs.map((d) => d.toString()).join(''), summaries };
}

/** One line per object (plus its warnings), as printed on stderr. */
export function formatSummary(summaries: readonly ObjectSummary[]): string {
  return summaries
    .map((s) => [`${s.object}: ${s.result}`, ...s.warnings.map((w) => `${s.object}: warning: ${w}`)].join('\n') + '\n')
    .join('');
}
