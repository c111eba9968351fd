/**
 * RFC 6902 JSON Patch computed from a before and an after document: what the
 * webhook returns to the API server, and what `weft inject` replays onto the
 * YAML document so that untouched parts keep their comments and layout.
 * Arrays are diffed by common prefix and suffix, so inserting the proxy at
 * the front of `containers` is one `add`, not a rewrite of every container.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type PathSegment = string | number;

export type PatchOperation =
  | { readonly op: 'add' | 'replace'; readonly path: readonly PathSegment[]; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: readonly PathSegment[] };

/** The wire form (RFC 6902 with RFC 6901 pointers). */
export interface JsonPatchOperation {
  readonly op: 'add' | 'replace' | 'remove';
  readonly path: string;
  readonly value?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

function diffInto(before: unknown, after: unknown, path: PathSegment[], ops: PatchOperation[]): void {
  if (deepEqual(before, after)) return;
  if (isObject(before) && isObject(after)) {
    for (const k of Object.keys(before)) {
      if (before[k] !== undefined && after[k] === undefined) ops.push({ op: 'remove', path: [...path, k] });
    }
    for (const k of Object.keys(after)) {
      if (after[k] === undefined) continue;
      if (before[k] === undefined) ops.push({ op: 'add', path: [...path, k], value: after[k] });
      else diffInto(before[k], after[k], [...path, k], ops);
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    let head = 0;
    while (head < before.length && head < after.length && deepEqual(before[head], after[head])) head++;
    let tail = 0;
    while (
      tail < before.length - head &&
      tail < after.length - head &&
      deepEqual(before[before.length - 1 - tail], after[after.length - 1 - tail])
    ) tail++;
    const removed = before.length - head - tail;
    const added = after.length - head - tail;
    const common = Math.min(removed, added);
    for (let i = 0; i < common; i++) diffInto(before[head + i], after[head + i], [...path, head + i], ops);
    for (let i = common; i < removed; i++) ops.push({ op: 'remove', path: [...path, head + common] });
    for (let i = common; i < added; i++) ops.push({ op: 'add', path: [...path, head + i], value: after[head + i] });
    return;
  }
  ops.push({ op: 'replace', path, value: after });
}

/** The operations that turn `before` into `after`, applied in order. */
export function diff(before: unknown, after: unknown): PatchOperation[] {
  const ops: PatchOperation[] = [];
  diffInto(before, after, [], ops);
  return ops;
}

/** RFC 6901: `~` → `~0`, `/` → `~1` (annotation keys such as `weft.io/inject` contain slashes). */
export function toPointer(path: readonly PathSegment[]): string {
  return path.map((s) => '/' + String(s).replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}

export function toJsonPatch(ops: readonly PatchOperation[]): JsonPatchOperation[] {
  return ops.map((o) => (o.op === 'remove' ? { op: o.op, path: toPointer(o.path) } : { op: o.op, path: toPointer(o.path), value: o.value }));
}
