/**
 * The templating layer's vocabulary. Constructs put these markers into the
 * JSON of a cdk8s ApiObject where a value, a condition or a loop depends on
 * the chart's values. Two interpreters read the same tree:
 *  - `evaluate.ts` resolves them against concrete values (the cdk8s synthesis),
 *  - `emit.ts` writes them out as Go template text (the Helm chart).
 * Markers are plain objects because cdk8s' serializer rejects class instances.
 */

export type ScalarType = 'string' | 'int' | 'number' | 'bool' | 'object' | 'list';

/** Where a reference points: `.Values`, `.Release`, `.Chart`, or the current `range` item. */
export type RefRoot = 'Values' | 'Release' | 'Chart' | 'item';

export const MARK = '$weft';

export interface RefExpr<T = unknown> {
  readonly [MARK]: 'ref';
  readonly root: RefRoot;
  readonly path: readonly string[];
  readonly type: ScalarType;
  /** Phantom: the TypeScript type of the referenced value. */
  readonly __type?: T;
}

export interface LitExpr {
  readonly [MARK]: 'lit';
  readonly value: string | number | boolean;
}

/** String concatenation: `"{{ .Values.image.registry }}/identity:{{ ... }}"`. */
export interface ConcatExpr {
  readonly [MARK]: 'concat';
  readonly parts: readonly (string | Expr)[];
}

/** Go's `default`: `a | default b` (b when a is empty). */
export interface DefaultExpr {
  readonly [MARK]: 'default';
  readonly value: Expr;
  readonly fallback: Expr;
}

/** Helm's `required "msg" a`: rendering fails with msg when a is empty. */
export interface RequiredExpr {
  readonly [MARK]: 'required';
  readonly value: Expr;
  readonly message: string;
}

/** A pipeline function with a TypeScript twin in evaluate.ts. */
export type PipeFn = 'b64enc' | 'sha256sum';
export interface PipeExpr {
  readonly [MARK]: 'pipe';
  readonly value: Expr;
  readonly fn: PipeFn;
}

/** `include "name" .` of a named text template (see `helperText`). */
export interface IncludeExpr {
  readonly [MARK]: 'include';
  readonly name: string;
}

/**
 * A Go template variable (`$name`) that a file's preamble (`WeftChart.preamble`) sets at install time,
 * e.g. a certificate generated with `genCA` or reused through `lookup`. The synthesis cannot know it: it
 * evaluates to a placeholder that the chart tests accept for any non-empty string helm renders.
 */
export interface GeneratedExpr {
  readonly [MARK]: 'generated';
  readonly name: string;
}

/** The `name` of a `{name: ...}` map, or the value itself when it is a string (imagePullSecrets in either shape). */
export interface NameOfExpr {
  readonly [MARK]: 'nameOf';
  readonly value: RefExpr;
}

export type Expr = RefExpr | LitExpr | ConcatExpr | DefaultExpr | RequiredExpr | PipeExpr | IncludeExpr | GeneratedExpr | NameOfExpr;

export type Cond =
  | { readonly [MARK]: 'truthy'; readonly value: Expr }
  | { readonly [MARK]: 'not'; readonly cond: Cond }
  | { readonly [MARK]: 'eq'; readonly value: Expr; readonly other: string | number | boolean }
  | { readonly [MARK]: 'and' | 'or'; readonly conds: readonly Cond[] };

/** A map value or list item that exists only when `cond` holds (`{{- if }}`), with an optional `else`. */
export interface WhenNode {
  readonly [MARK]: 'when';
  readonly cond: Cond;
  readonly then: unknown;
  readonly otherwise?: unknown;
}

/** A map value copied from values as YAML (`toYaml | nindent`); with `omitEmpty`, wrapped in `{{- with }}`. */
export interface YamlOfNode {
  readonly [MARK]: 'yamlOf';
  readonly value: RefExpr;
  readonly omitEmpty: boolean;
}

/** List items produced per element of a values list (`{{- range }}`). */
export interface EachNode {
  readonly [MARK]: 'each';
  readonly list: RefExpr;
  readonly item: unknown;
}

/** List items spliced in from a values list as YAML (`{{- with }}` / `toYaml | nindent`), next to fixed items. */
export interface ItemsOfNode {
  readonly [MARK]: 'itemsOf';
  readonly list: RefExpr;
}

/** Map entries spliced in from a values map or a helper (`{{- with }}` / `{{- include }}`). */
export interface SpreadNode {
  readonly [MARK]: 'spread';
  readonly from: RefExpr | IncludeExpr;
}

/** A multi-line string value taken from a named text helper (a config file in a ConfigMap). */
export interface TextOfNode {
  readonly [MARK]: 'textOf';
  readonly name: string;
}

export type Node = WhenNode | YamlOfNode | EachNode | ItemsOfNode | SpreadNode | TextOfNode;

/** Keys that start with this prefix hold a SpreadNode; the rest of the key only keeps them unique. */
export const SPREAD_KEY = '$weft-spread:';

let spreadCounter = 0;

export function isMarker(v: unknown): v is { readonly [MARK]: string } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && MARK in v;
}

const EXPR_KINDS = new Set(['ref', 'lit', 'concat', 'default', 'required', 'pipe', 'include', 'generated', 'nameOf']);
export function isExpr(v: unknown): v is Expr {
  return isMarker(v) && EXPR_KINDS.has(v[MARK]);
}

export function ref<T>(root: RefRoot, path: readonly string[], type: ScalarType): RefExpr<T> {
  return { [MARK]: 'ref', root, path, type };
}

/** Built-in references every chart can use. */
export const release = {
  name: ref<string>('Release', ['Name'], 'string'),
  namespace: ref<string>('Release', ['Namespace'], 'string'),
  service: ref<string>('Release', ['Service'], 'string'),
};
export const chart = {
  name: ref<string>('Chart', ['Name'], 'string'),
  version: ref<string>('Chart', ['Version'], 'string'),
  appVersion: ref<string>('Chart', ['AppVersion'], 'string'),
};

/** The current element of an `each` loop, or one of its fields. */
export function item<T = string>(field?: string, type: ScalarType = 'string'): RefExpr<T> {
  return ref<T>('item', field === undefined ? [] : [field], type);
}

/** Tagged template: concat`${registry}/proxy:${tag}`. */
export function concat(strings: TemplateStringsArray, ...exprs: (Expr | string)[]): ConcatExpr {
  const parts: (string | Expr)[] = [];
  strings.forEach((s, i) => {
    if (s !== '') parts.push(s);
    if (i < exprs.length) parts.push(exprs[i]!);
  });
  return { [MARK]: 'concat', parts };
}

export function orDefault(value: Expr, fallback: Expr | string): DefaultExpr {
  return { [MARK]: 'default', value, fallback: typeof fallback === 'string' ? lit(fallback) : fallback };
}

export function required(value: Expr, message: string): RequiredExpr {
  return { [MARK]: 'required', value, message };
}

export function pipe(value: Expr, fn: PipeFn): PipeExpr {
  return { [MARK]: 'pipe', value, fn };
}

export function lit(value: string | number | boolean): LitExpr {
  return { [MARK]: 'lit', value };
}

/** The placeholder a generated value has in the synthesis (`⟨generated:$name⟩`). */
export const GENERATED_MARK = '⟨generated:';

export function generated(name: string): GeneratedExpr {
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(name)) throw new Error(`generated value name ${name} is not a Go identifier`);
  return { [MARK]: 'generated', name };
}

export function nameOf(value: RefExpr): NameOfExpr {
  return { [MARK]: 'nameOf', value };
}

export function include(name: string): IncludeExpr {
  return { [MARK]: 'include', name };
}

export const truthy = (value: Expr): Cond => ({ [MARK]: 'truthy', value });
export const not = (cond: Cond): Cond => ({ [MARK]: 'not', cond });
export const eq = (value: Expr, other: string | number | boolean): Cond => ({ [MARK]: 'eq', value, other });
export const and = (...conds: Cond[]): Cond => ({ [MARK]: 'and', conds });
export const or = (...conds: Cond[]): Cond => ({ [MARK]: 'or', conds });

/** Accepts a Cond or a boolean-ish reference (treated as truthy). */
export function asCond(c: Cond | Expr): Cond {
  return isExpr(c) ? truthy(c) : c;
}

/**
 * `value` when `cond` holds, else `otherwise` (or nothing). Typed as the value
 * so it fits wherever the value would.
 */
export function when<T>(cond: Cond | Expr, then: T, otherwise?: T): T {
  const node: WhenNode = { [MARK]: 'when', cond: asCond(cond), then, ...(otherwise === undefined ? {} : { otherwise }) };
  return node as unknown as T;
}

/** The referenced values subtree, rendered with `toYaml`. */
export function yamlOf<T>(value: RefExpr<T>, opts: { omitEmpty?: boolean } = {}): T {
  const node: YamlOfNode = { [MARK]: 'yamlOf', value, omitEmpty: opts.omitEmpty ?? false };
  return node as unknown as T;
}

/** One list item per element of `list`; use `item()` inside `template` for the element. */
export function each<T>(list: RefExpr<readonly unknown[]>, template: T): T[] {
  const node: EachNode = { [MARK]: 'each', list, item: template };
  return [node as unknown as T];
}

/** List items copied as they are from a values list (of maps, say); fixed items may follow. */
export function itemsOf<T>(list: RefExpr<readonly T[]>): T[] {
  const node: ItemsOfNode = { [MARK]: 'itemsOf', list };
  return [node as unknown as T];
}

/** A map entry that splices in the entries of a values map or of a helper. */
export function spread(from: RefExpr | IncludeExpr): Record<string, string> {
  spreadCounter += 1;
  const node: SpreadNode = { [MARK]: 'spread', from };
  return { [`${SPREAD_KEY}${spreadCounter}`]: node as unknown as string };
}

export function textOf(name: string): string {
  const node: TextOfNode = { [MARK]: 'textOf', name };
  return node as unknown as string;
}

/** Type-level cast for scalar expressions placed in typed K8s fields. */
export function v<T>(e: Expr): T {
  return e as unknown as T;
}

/** The static type of an expression, used to decide YAML quoting. */
export function exprType(e: Expr): ScalarType {
  switch (e[MARK]) {
    case 'ref':
      return e.type;
    case 'lit':
      return typeof e.value === 'string' ? 'string' : typeof e.value === 'boolean' ? 'bool' : 'number';
    case 'default':
    case 'required':
      return exprType(e.value);
    case 'concat':
    case 'pipe':
    case 'include':
    case 'generated':
    case 'nameOf':
      return 'string';
  }
}
