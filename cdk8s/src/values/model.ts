/**
 * The typed values model: one tree per chart of fields with a type, a default
 * and a description. From it come the TypeScript types of the values, the
 * references the constructs template with, `values.yaml`, `values.schema.json`
 * and the values reference in docs/values.md.
 */
import { ref, type RefExpr, type ScalarType } from '../template/expr.js';

export type JsonSchema = Record<string, unknown>;

export interface Leaf<T> {
  readonly kind: 'leaf';
  readonly type: ScalarType;
  readonly default: T;
  readonly description: string;
  readonly schema: JsonSchema;
  /** How the type reads in docs/values.md. */
  readonly docType: string;
}

export interface Group<S extends Fields> {
  readonly kind: 'group';
  readonly fields: S;
  readonly description: string;
}

export type Field = Leaf<unknown> | Group<Fields>;
export type Fields = { readonly [key: string]: Field };

export type ValuesOf<F> = F extends Leaf<infer T> ? T : F extends Group<infer S> ? { [K in keyof S]: ValuesOf<S[K]> } : never;
/** A values file that sets some of the model's values (values-ha.yaml, …): every key it names must exist with its type. */
export type PartialValuesOf<F> = F extends Leaf<infer T> ? T : F extends Group<infer S> ? { [K in keyof S]?: PartialValuesOf<S[K]> } : never;
export type RefsOf<F> = F extends Leaf<infer T> ? RefExpr<T> : F extends Group<infer S> ? { readonly [K in keyof S]: RefsOf<S[K]> } & { readonly $ref: RefExpr<ValuesOf<F>> } : never;

interface Common<T> {
  readonly default: T;
  readonly description: string;
}

export function group<S extends Fields>(description: string, fields: S): Group<S> {
  return { kind: 'group', fields, description };
}

export function str(o: Common<string> & { pattern?: string; minLength?: number; format?: string }): Leaf<string> {
  const schema: JsonSchema = { type: 'string' };
  if (o.pattern) schema.pattern = o.pattern;
  if (o.minLength !== undefined) schema.minLength = o.minLength;
  return { kind: 'leaf', type: 'string', default: o.default, description: o.description, schema, docType: 'string' };
}

export function oneOf<const E extends readonly string[]>(values: E, o: Common<E[number]>): Leaf<E[number]> {
  return { kind: 'leaf', type: 'string', default: o.default, description: o.description, schema: { type: 'string', enum: [...values] }, docType: values.map((x) => `\`${x}\``).join(' \\| ') };
}

export function int(o: Common<number> & { minimum?: number; maximum?: number }): Leaf<number> {
  // Helm reads numbers as float64 and prints 1e+06 from 1000000: keep integers below a million.
  const schema: JsonSchema = { type: 'integer', minimum: o.minimum ?? 0, maximum: o.maximum ?? 999_999 };
  return { kind: 'leaf', type: 'int', default: o.default, description: o.description, schema, docType: 'int' };
}

export function bool(o: Common<boolean>): Leaf<boolean> {
  return { kind: 'leaf', type: 'bool', default: o.default, description: o.description, schema: { type: 'boolean' }, docType: 'bool' };
}

/** A map of strings (labels, annotations, nodeSelector). */
export function stringMap(o: Common<Record<string, string>>): Leaf<Record<string, string>> {
  return { kind: 'leaf', type: 'object', default: o.default, description: o.description, schema: { type: 'object', additionalProperties: { type: 'string' } }, docType: 'map[string]string' };
}

export function stringList(o: Common<string[]>): Leaf<string[]> {
  return { kind: 'leaf', type: 'list', default: o.default, description: o.description, schema: { type: 'array', items: { type: 'string', minLength: 1 } }, docType: 'list of string' };
}

/** A free-form Kubernetes structure copied with toYaml (resources, tolerations, selectors). */
export function object<T>(o: Common<T> & { schema: JsonSchema; docType: string }): Leaf<T> {
  const isList = o.schema.type === 'array';
  return { kind: 'leaf', type: isList ? 'list' : 'object', default: o.default, description: o.description, schema: o.schema, docType: o.docType };
}

const QUANTITY: JsonSchema = { anyOf: [{ type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$' }, { type: 'number', minimum: 0 }] };

export function resources(o: Common<{ requests?: Record<string, string>; limits?: Record<string, string> }>) {
  const list: JsonSchema = { type: 'object', additionalProperties: QUANTITY };
  return object({ ...o, docType: 'ResourceRequirements', schema: { type: 'object', additionalProperties: false, properties: { requests: list, limits: list } } });
}

export function tolerations(o: Common<Record<string, unknown>[]>) {
  return object({
    ...o,
    docType: 'list of Toleration',
    schema: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {
          key: { type: 'string' },
          operator: { type: 'string', enum: ['Exists', 'Equal'] },
          value: { type: 'string' },
          effect: { type: 'string', enum: ['NoSchedule', 'PreferNoSchedule', 'NoExecute', ''] },
          tolerationSeconds: { type: 'integer' },
        },
      },
    },
  });
}

/** Values references (`.Values.a.b`) shaped like the model. */
export function refsOf<S extends Fields>(model: Group<S>, path: string[] = []): RefsOf<Group<S>> {
  const out: Record<string, unknown> = { $ref: ref('Values', path, 'object') };
  for (const [k, f] of Object.entries(model.fields)) {
    out[k] = f.kind === 'leaf' ? ref('Values', [...path, k], f.type) : refsOf(f as Group<Fields>, [...path, k]);
  }
  return out as RefsOf<Group<S>>;
}

export function defaultsOf<S extends Fields>(model: Group<S>): ValuesOf<Group<S>> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(model.fields)) out[k] = f.kind === 'leaf' ? structuredClone(f.default) : defaultsOf(f as Group<Fields>);
  return out as ValuesOf<Group<S>>;
}

/**
 * values.schema.json. Groups are closed (`additionalProperties: false`) so a
 * misspelt key is rejected by `helm install` instead of silently ignored.
 */
export function schemaOf(model: Group<Fields>, top = true): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const [k, f] of Object.entries(model.fields)) {
    properties[k] = f.kind === 'leaf' ? { ...f.schema, description: f.description } : schemaOf(f as Group<Fields>, false);
  }
  // Helm passes `global` to every chart; allow it so umbrella charts can include ours.
  if (top) properties.global = { type: 'object' };
  const s: JsonSchema = { type: 'object', additionalProperties: false, properties };
  if (top) return { $schema: 'http://json-schema.org/draft-07/schema#', title: 'values', ...s };
  return { description: model.description, ...s };
}

/** Helm's value coalescing: maps merge key by key, null deletes, everything else replaces. */
export function mergeValues(base: unknown, override: unknown): unknown {
  if (override === undefined) return structuredClone(base);
  if (isPlainMap(base) && isPlainMap(override)) {
    const out: Record<string, unknown> = structuredClone(base);
    for (const [k, v] of Object.entries(override)) {
      if (v === null) delete out[k];
      else out[k] = k in out ? mergeValues(out[k], v) : structuredClone(v);
    }
    return out;
  }
  return structuredClone(override);
}

function isPlainMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
