/**
 * Resolves templating markers against concrete values: the cdk8s synthesis
 * of a chart "run with" a values set. Each function mirrors the Go template /
 * Sprig function that emit.ts writes for it (truthiness, `default`, `required`,
 * `toYaml`, `b64enc`, `sha256sum`), so both sides agree object for object.
 */
import { createHash } from 'node:crypto';
import { GENERATED_MARK, MARK, SPREAD_KEY, isExpr, isMarker, type Cond, type Expr, type Node, type SpreadNode } from './expr.js';
import { emitPlain } from './emit.js';
import type { Helpers } from './helpers.js';

export interface RenderScope {
  readonly values: Record<string, unknown>;
  readonly release: { readonly Name: string; readonly Namespace: string; readonly Service: string };
  readonly chart: { readonly Name: string; readonly Version: string; readonly AppVersion: string };
  readonly helpers: Helpers;
}

/** Helm's `required`/`fail` surface as this error, carrying the template's message. */
export class RenderError extends Error {
  readonly code = 'WEFT_CHART_RENDER';
}

interface Frame {
  readonly scope: RenderScope;
  readonly item: unknown;
}

/** Go template truthiness (also Sprig's `empty`, negated). */
export function truth(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function lookup(base: unknown, path: readonly string[]): unknown {
  let cur = base;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** Go's `%v` of a value, as printf and `{{ }}` print it. */
function goPrint(v: unknown): string {
  if (v === undefined || v === null) return '';
  return String(v);
}

export function evalExpr(e: Expr, f: Frame): unknown {
  switch (e[MARK]) {
    case 'ref': {
      const base = e.root === 'Values' ? f.scope.values : e.root === 'Release' ? f.scope.release : e.root === 'Chart' ? f.scope.chart : f.item;
      return lookup(base, e.path);
    }
    case 'lit':
      return e.value;
    case 'default': {
      const v = evalExpr(e.value, f);
      return truth(v) ? v : evalExpr(e.fallback, f);
    }
    case 'required': {
      const v = evalExpr(e.value, f);
      if (v === undefined || v === null || v === '') throw new RenderError(e.message);
      return v;
    }
    case 'pipe': {
      const s = goPrint(evalExpr(e.value, f));
      // A function of a generated value is generated too.
      if (s.includes(GENERATED_MARK)) return `${GENERATED_MARK}${e.fn} ${s.slice(GENERATED_MARK.length)}`;
      return e.fn === 'b64enc' ? Buffer.from(s, 'utf8').toString('base64') : createHash('sha256').update(s, 'utf8').digest('hex');
    }
    case 'concat':
      return e.parts.map((p) => (typeof p === 'string' ? p : goPrint(evalExpr(p, f)))).join('');
    case 'include':
      return helperText(e.name, f.scope);
    case 'generated':
      return `${GENERATED_MARK}$${e.name}⟩`;
    case 'nameOf': {
      const v = evalExpr(e.value, f);
      return typeof v === 'string' ? v : ((v as { name?: unknown } | null)?.name ?? '');
    }
  }
}

export function evalCond(c: Cond, f: Frame): boolean {
  switch (c[MARK]) {
    case 'truthy':
      return truth(evalExpr(c.value, f));
    case 'not':
      return !evalCond(c.cond, f);
    case 'eq':
      return evalExpr(c.value, f) === c.other;
    case 'and':
      return c.conds.every((x) => evalCond(x, f));
    case 'or':
      return c.conds.some((x) => evalCond(x, f));
  }
}

/** The text a `text` helper renders to (what `include` returns in Helm). */
export function helperText(name: string, scope: RenderScope): string {
  const def = scope.helpers.get(name);
  if (!def) throw new Error(`unknown helper ${name}`);
  const body = evaluate(def.body, scope) as Record<string, unknown>;
  if (def.kind === 'map') return emitPlain(body, false);
  return emitPlain(body, true);
}

function deepCopy(v: unknown): unknown {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

function evalNode(v: unknown, f: Frame): unknown {
  if (isExpr(v)) {
    const r = evalExpr(v, f);
    // `{{ x }}` of a missing value prints nothing; Helm's YAML reads that as null.
    return r === undefined ? null : r;
  }
  if (Array.isArray(v)) return evalList(v, f);
  if (isMarker(v)) {
    const node = v as Node;
    if (node[MARK] === 'yamlOf') return deepCopy(evalExpr(node.value, f)) ?? null;
    if (node[MARK] === 'textOf') return helperText(node.name, f.scope) + '\n';
    throw new Error(`${node[MARK]} is not a value`);
  }
  if (typeof v === 'object' && v !== null) return evalMap(v as Record<string, unknown>, f);
  return v;
}

function evalMap(obj: Record<string, unknown>, f: Frame): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(obj)) {
    if (k.startsWith(SPREAD_KEY)) {
      const from = (val as SpreadNode).from;
      const entries = from[MARK] === 'include' ? evalMap(helperBody(from.name, f.scope), f) : evalExpr(from, f);
      if (truth(entries)) Object.assign(out, deepCopy(entries));
      continue;
    }
    const r = evalEntry(val, f);
    if (r.present) out[k] = r.value;
  }
  return out;
}

function helperBody(name: string, scope: RenderScope): Record<string, unknown> {
  const def = scope.helpers.get(name);
  if (!def) throw new Error(`unknown helper ${name}`);
  return def.body;
}

function evalEntry(val: unknown, f: Frame): { present: boolean; value?: unknown } {
  if (isMarker(val) && !isExpr(val)) {
    const node = val as Node;
    if (node[MARK] === 'when') {
      if (evalCond(node.cond, f)) return evalEntry(node.then, f);
      return node.otherwise === undefined ? { present: false } : evalEntry(node.otherwise, f);
    }
    if (node[MARK] === 'yamlOf' && node.omitEmpty) {
      const v = evalExpr(node.value, f);
      return truth(v) ? { present: true, value: deepCopy(v) } : { present: false };
    }
  }
  return { present: true, value: evalNode(val, f) };
}

function evalList(items: readonly unknown[], f: Frame): unknown[] {
  const out: unknown[] = [];
  const push = (x: unknown): void => {
    if (isMarker(x) && !isExpr(x)) {
      const node = x as Node;
      if (node[MARK] === 'when') {
        const chosen = evalCond(node.cond, f) ? node.then : node.otherwise;
        if (chosen === undefined) return;
        if (Array.isArray(chosen)) chosen.forEach(push);
        else out.push(evalNode(chosen, f));
        return;
      }
      if (node[MARK] === 'each') {
        const list = evalExpr(node.list, f);
        if (Array.isArray(list)) for (const el of list) out.push(evalNode(node.item, { scope: f.scope, item: el }));
        return;
      }
      if (node[MARK] === 'itemsOf') {
        const list = evalExpr(node.list, f);
        if (Array.isArray(list)) out.push(...(deepCopy(list) as unknown[]));
        return;
      }
    }
    out.push(evalNode(x, f));
  };
  items.forEach(push);
  return out;
}

/** Resolves every marker in `tree` against the scope's values. */
export function evaluate(tree: unknown, scope: RenderScope): unknown {
  return evalNode(tree, { scope, item: undefined });
}

export { evalCond as evaluateCondition };
export type { Frame };

/** Evaluates an object-level condition (the `{{- if }}` around a whole file). */
export function objectIncluded(cond: Cond | undefined, scope: RenderScope): boolean {
  return cond === undefined || evalCond(cond, { scope, item: undefined });
}
