/**
 * Writes a JSON tree with templating markers as Helm template text: value
 * references become `{{ .Values.x }}`, `when` becomes `{{- if }}`, `each`
 * becomes `{{- range }}`, `yamlOf` and `itemsOf` become `toYaml | nindent`, `spread`
 * becomes `{{- with }}`/`{{- include }}`. Plain JSON (no markers) comes out as
 * plain YAML, which is also how text helpers are rendered on the TypeScript side.
 */
import { MARK, SPREAD_KEY, isExpr, isMarker, exprType, type Cond, type Expr, type Node, type SpreadNode } from './expr.js';
import type { Helpers } from './helpers.js';
import { blockLines, yamlKey, yamlScalar } from './yaml-scalar.js';

interface Ctx {
  /** Inside `range`: `.` is the element, so values are reached through `$`. */
  readonly inRange: boolean;
  /** Double-quote every string (text helpers: see helpers.ts). */
  readonly quoteAll: boolean;
}

const TOP: Ctx = { inRange: false, quoteAll: false };
const GO_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class TemplateEmitError extends Error {}

function dot(ctx: Ctx): string {
  return ctx.inRange ? '$' : '.';
}

function refText(e: Extract<Expr, { [MARK]: 'ref' }>, ctx: Ctx): string {
  if (e.root === 'item') {
    if (e.path.length === 0) return '.';
    return e.path.every((p) => GO_IDENT.test(p)) ? '.' + e.path.join('.') : `(index . ${e.path.map((p) => JSON.stringify(p)).join(' ')})`;
  }
  const base = `${ctx.inRange ? '$' : ''}.${e.root}`;
  if (e.path.every((p) => GO_IDENT.test(p))) return [base, ...e.path].join('.');
  return `(index ${base} ${e.path.map((p) => JSON.stringify(p)).join(' ')})`;
}

/** A pipeline (no surrounding parentheses needed at the top of `{{ }}`). */
export function pipeline(e: Expr, ctx: Ctx = TOP): string {
  switch (e[MARK]) {
    case 'ref':
      return refText(e, ctx);
    case 'lit':
      return typeof e.value === 'string' ? JSON.stringify(e.value) : String(e.value);
    case 'default':
      return `${pipeline(e.value, ctx)} | default ${arg(e.fallback, ctx)}`;
    case 'required':
      return `required ${JSON.stringify(e.message)} ${arg(e.value, ctx)}`;
    case 'pipe':
      return `${pipeline(e.value, ctx)} | ${e.fn}`;
    case 'include':
      return `include ${JSON.stringify(e.name)} ${dot(ctx)}`;
    case 'generated':
      return `$${e.name}`;
    case 'nameOf': {
      const v = arg(e.value, ctx);
      return `ternary ${v} (get (${v} | default dict | toJson | fromJson) "name") (kindIs "string" ${v})`;
    }
    case 'concat': {
      let format = '';
      const args: string[] = [];
      for (const p of e.parts) {
        if (typeof p === 'string') format += p.replace(/%/g, '%%');
        else {
          format += '%v';
          args.push(arg(p, ctx));
        }
      }
      return `printf ${JSON.stringify(format)} ${args.join(' ')}`.trimEnd();
    }
  }
}

/** An argument: simple references and literals bare, everything else parenthesized. */
function arg(e: Expr, ctx: Ctx): string {
  if (e[MARK] === 'ref' || e[MARK] === 'lit' || e[MARK] === 'generated') return pipeline(e, ctx);
  return `(${pipeline(e, ctx)})`;
}

export function condText(c: Cond, ctx: Ctx = TOP): string {
  const sub = (x: Cond): string => (x[MARK] === 'truthy' ? condText(x, ctx) : `(${condText(x, ctx)})`);
  switch (c[MARK]) {
    case 'truthy':
      return arg(c.value, ctx);
    case 'not':
      return `not ${sub(c.cond)}`;
    case 'eq':
      return `eq ${arg(c.value, ctx)} ${typeof c.other === 'string' ? JSON.stringify(c.other) : String(c.other)}`;
    case 'and':
    case 'or':
      return `${c[MARK]} ${c.conds.map(sub).join(' ')}`;
  }
}

/** A scalar expression in a YAML value position. */
function scalarText(e: Expr, ctx: Ctx): string {
  if (e[MARK] === 'concat') {
    // Readable form: "{{ .Values.image.registry }}/identity:{{ .Values.tag }}".
    let s = '"';
    for (const p of e.parts) s += typeof p === 'string' ? JSON.stringify(p).slice(1, -1) : `{{ ${pipeline(p, ctx)} }}`;
    return s + '"';
  }
  if (e[MARK] === 'lit') return yamlScalar(e.value, ctx.quoteAll);
  return exprType(e) === 'string' ? `{{ ${pipeline(e, ctx)} | quote }}` : `{{ ${pipeline(e, ctx)} }}`;
}

class Writer {
  readonly lines: string[] = [];
  constructor(private readonly helpers: Helpers) {}

  directive(indent: number, text: string): void {
    this.lines.push(`${' '.repeat(indent)}{{- ${text} }}`);
  }

  map(obj: Record<string, unknown>, indent: number, ctx: Ctx, where: string): void {
    const entries = Object.entries(obj);
    const always = entries.some(([k, val]) => !k.startsWith(SPREAD_KEY) && !(isMarker(val) && (val[MARK] === 'when' || (val[MARK] === 'yamlOf' && (val as Node & { omitEmpty: boolean }).omitEmpty))));
    if (!always && !entries.some(([k, val]) => k.startsWith(SPREAD_KEY) && (val as SpreadNode).from[MARK] === 'include')) {
      // Helm would render `key:` (null) where the synthesis has `{}`: make the author decide.
      throw new TemplateEmitError(`map at ${where} may render empty; wrap it in when() or give it a fixed entry`);
    }
    for (const [k, val] of entries) {
      if (k.startsWith(SPREAD_KEY)) this.spread(val as SpreadNode, indent, ctx);
      else this.entry(k, val, indent, ctx, `${where}.${k}`);
    }
  }

  spread(node: SpreadNode, indent: number, ctx: Ctx): void {
    if (node.from[MARK] === 'include') {
      this.helper(node.from.name);
      this.directive(indent, `include ${JSON.stringify(node.from.name)} ${dot(ctx)} | nindent ${indent}`);
    } else {
      this.directive(indent, `with ${arg(node.from, ctx)}`);
      this.directive(indent, `toYaml . | nindent ${indent}`);
      this.directive(indent, 'end');
    }
  }

  helper(name: string): void {
    if (!this.helpers.has(name)) throw new TemplateEmitError(`unknown helper ${name}`);
  }

  /** `guarded`: the entry sits inside `{{- if }}` on its own content, so it may not be empty-checked. */
  entry(key: string, val: unknown, indent: number, ctx: Ctx, where: string, guarded = false): void {
    const pad = ' '.repeat(indent);
    const k = yamlKey(key);
    if (isExpr(val)) {
      this.lines.push(`${pad}${k}: ${scalarText(val, ctx)}`);
      return;
    }
    if (isMarker(val)) {
      const node = val as Node;
      switch (node[MARK]) {
        case 'when':
          this.directive(indent, `if ${condText(node.cond, ctx)}`);
          this.entry(key, node.then, indent, ctx, where, true);
          if (node.otherwise !== undefined) {
            this.directive(indent, 'else');
            this.entry(key, node.otherwise, indent, ctx, where, true);
          }
          this.directive(indent, 'end');
          return;
        case 'yamlOf':
          if (node.omitEmpty && node.value.type !== 'object' && node.value.type !== 'list') {
            // A scalar: `{{- with .Values.x }}` / `key: {{ . | quote }}`.
            this.directive(indent, `with ${arg(node.value, ctx)}`);
            this.lines.push(`${pad}${k}: ${node.value.type === 'string' ? '{{ . | quote }}' : '{{ . }}'}`);
            this.directive(indent, 'end');
          } else if (node.omitEmpty) {
            this.directive(indent, `with ${arg(node.value, ctx)}`);
            this.lines.push(`${pad}${k}:`);
            this.directive(indent + 2, `toYaml . | nindent ${indent + 2}`);
            this.directive(indent, 'end');
          } else {
            this.lines.push(`${pad}${k}:`);
            this.directive(indent + 2, `toYaml ${arg(node.value, ctx)} | nindent ${indent + 2}`);
          }
          return;
        case 'textOf':
          this.helper(node.name);
          this.lines.push(`${pad}${k}: |`);
          this.directive(indent + 2, `include ${JSON.stringify(node.name)} ${dot(ctx)} | nindent ${indent + 2}`);
          return;
        default:
          throw new TemplateEmitError(`${node[MARK]} cannot be a map value (at ${where})`);
      }
    }
    if (Array.isArray(val)) {
      if (val.length === 0) {
        this.lines.push(`${pad}${k}: []`);
        return;
      }
      this.lines.push(`${pad}${k}:`);
      this.list(val, indent + 2, ctx, where, guarded);
      return;
    }
    if (typeof val === 'object' && val !== null) {
      if (Object.keys(val).length === 0) {
        this.lines.push(`${pad}${k}: {}`);
        return;
      }
      this.lines.push(`${pad}${k}:`);
      this.map(val as Record<string, unknown>, indent + 2, ctx, where);
      return;
    }
    if (typeof val === 'string' && !ctx.quoteAll) {
      const block = blockLines(val);
      if (block) {
        this.lines.push(`${pad}${k}: ${block.header}`);
        for (const line of block.lines) this.lines.push(line === '' ? '' : `${pad}  ${line}`);
        return;
      }
    }
    this.lines.push(`${pad}${k}: ${yamlScalar(val, ctx.quoteAll)}`);
  }

  list(items: readonly unknown[], indent: number, ctx: Ctx, where: string, guarded = false): void {
    if (!guarded && !items.some((i) => !(isMarker(i) && (i[MARK] === 'when' || i[MARK] === 'each' || i[MARK] === 'itemsOf')))) {
      throw new TemplateEmitError(`list at ${where} may render empty; wrap it in when()`);
    }
    items.forEach((it, i) => this.listItem(it, indent, ctx, `${where}[${i}]`));
  }

  listItem(it: unknown, indent: number, ctx: Ctx, where: string): void {
    if (isMarker(it) && !isExpr(it)) {
      const node = it as Node;
      if (node[MARK] === 'when') {
        this.directive(indent, `if ${condText(node.cond, ctx)}`);
        this.items(node.then, indent, ctx, where);
        if (node.otherwise !== undefined) {
          this.directive(indent, 'else');
          this.items(node.otherwise, indent, ctx, where);
        }
        this.directive(indent, 'end');
        return;
      }
      if (node[MARK] === 'each') {
        this.directive(indent, `range ${arg(node.list, ctx)}`);
        this.item(node.item, indent, { ...ctx, inRange: true }, where);
        this.directive(indent, 'end');
        return;
      }
      if (node[MARK] === 'itemsOf') {
        this.directive(indent, `with ${arg(node.list, ctx)}`);
        this.directive(indent, `toYaml . | nindent ${indent}`);
        this.directive(indent, 'end');
        return;
      }
      throw new TemplateEmitError(`${node[MARK]} cannot be a list item (at ${where})`);
    }
    this.item(it, indent, ctx, where);
  }

  /** A `when` in a list may hold one item or an array of items. */
  items(v: unknown, indent: number, ctx: Ctx, where: string): void {
    if (Array.isArray(v)) v.forEach((x, i) => this.listItem(x, indent, ctx, `${where}[${i}]`));
    else this.item(v, indent, ctx, where);
  }

  item(it: unknown, indent: number, ctx: Ctx, where: string): void {
    const pad = ' '.repeat(indent);
    if (isExpr(it)) {
      this.lines.push(`${pad}- ${scalarText(it, ctx)}`);
    } else if (Array.isArray(it)) {
      this.lines.push(`${pad}-`);
      this.list(it, indent + 2, ctx, where);
    } else if (typeof it === 'object' && it !== null) {
      if (Object.keys(it).length === 0) {
        this.lines.push(`${pad}- {}`);
        return;
      }
      const start = this.lines.length;
      this.map(it as Record<string, unknown>, indent + 2, ctx, where);
      const first = this.lines[start]!;
      const inner = ' '.repeat(indent + 2);
      if (first.startsWith(inner) && !first.slice(indent + 2).startsWith('{{')) this.lines[start] = `${pad}- ${first.slice(indent + 2)}`;
      else this.lines.splice(start, 0, `${pad}-`);
    } else {
      this.lines.push(`${pad}- ${yamlScalar(it, ctx.quoteAll)}`);
    }
  }
}

/** Template text for one object (a map at indent 0). */
export function emitTemplate(obj: Record<string, unknown>, helpers: Helpers, opts: { quoteAll?: boolean } = {}): string {
  const w = new Writer(helpers);
  w.map(obj, 0, { inRange: false, quoteAll: opts.quoteAll ?? false }, '');
  return w.lines.join('\n');
}

/** Plain YAML text of a marker-free tree (used for text helpers on the synthesis side). */
export function emitPlain(obj: Record<string, unknown>, quoteAll: boolean): string {
  return emitTemplate(obj, new Map(), { quoteAll });
}

/** `_helpers.tpl`: one `define` per helper, prefixed by its description. */
export function emitHelpers(h: Helpers): string {
  const out: string[] = [];
  for (const def of h.values()) {
    out.push(`{{/* ${def.description} */}}`);
    out.push(`{{- define ${JSON.stringify(def.name)} -}}`);
    out.push(emitTemplate(def.body, h, { quoteAll: def.kind === 'text' }));
    out.push('{{- end }}', '');
  }
  return out.join('\n');
}

/** An object file, optionally wrapped in an object-level condition. */
export function emitObjectFile(obj: Record<string, unknown>, helpers: Helpers, condition: Cond | undefined): string {
  const body = emitTemplate(obj, helpers);
  if (!condition) return body + '\n';
  return `{{- if ${condText(condition)} }}\n${body}\n{{- end }}\n`;
}
