/**
 * The WHATWG `Headers` class (https://fetch.spec.whatwg.org/#headers-class,
 * guard "none"), for weft's image bundles: Node's own `Headers` global is a
 * getter that loads Node's whole fetch implementation the first time it is
 * read — its JavaScript and the HTTP/1 parser's WebAssembly, compiled — and
 * the proxy reads it only because its gRPC clients (Connect) build request
 * and response metadata with `new Headers()`. That load was ~5 MiB of an idle
 * proxy's RSS. images/lib/bundle.mjs points every bundle's free `Headers`
 * references here (esbuild `inject`); Node's global is left alone, and the
 * code the tests run unbundled uses Node's. web-headers.test.ts checks this
 * class against Node's on the same operations, including the refusals.
 */

const SET_COOKIE = 'set-cookie';

/** RFC 9110 `token` characters: the only ones a header name may have. */
const TOKEN = (() => {
  const ok = new Uint8Array(128);
  for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") ok[c.charCodeAt(0)] = 1;
  return ok;
})();

function checkedName(name: unknown, method: string): string {
  const s = String(name);
  if (s.length === 0) throw new TypeError(`Headers.${method}: a header name cannot be empty`);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) throw new TypeError(`Headers.${method}: ${JSON.stringify(s)} is an invalid header name`);
  }
  return s.toLowerCase();
}

const isHttpWhitespace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** The value with leading and trailing HTTP whitespace removed; a TypeError for NUL, CR, LF inside or a character above U+00FF. */
function checkedValue(value: unknown, name: string, method: string): string {
  const s = String(value);
  let start = 0;
  let end = s.length;
  while (start < end && isHttpWhitespace(s.charCodeAt(start))) start++;
  while (end > start && isHttpWhitespace(s.charCodeAt(end - 1))) end--;
  const v = start === 0 && end === s.length ? s : s.slice(start, end);
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d || c > 0xff) throw new TypeError(`Headers.${method}: ${JSON.stringify(v)} is an invalid value for header ${JSON.stringify(name)}`);
  }
  return v;
}

type Init = Iterable<Iterable<unknown>> | Record<string, unknown>;

export class WebHeaders {
  /** Lower-case name → combined value; `set-cookie` values are also kept one by one in `#cookies`. */
  readonly #fields = new Map<string, string>();
  #cookies: string[] = [];

  constructor(init?: Init) {
    if (init === undefined) return;
    if (init === null || (typeof init !== 'object' && typeof init !== 'function')) throw new TypeError('Headers: init must be a sequence of name-value pairs or a record');
    if (typeof (init as Iterable<unknown>)[Symbol.iterator] === 'function') {
      for (const pair of init as Iterable<Iterable<unknown>>) {
        if (pair === null || typeof pair !== 'object' || typeof (pair as Iterable<unknown>)[Symbol.iterator] !== 'function') {
          throw new TypeError('Headers: each header must be a [name, value] pair');
        }
        const items = [...pair];
        if (items.length !== 2) throw new TypeError(`Headers: a header pair must have exactly 2 items, not ${items.length}`);
        this.append(items[0] as string, items[1] as string);
      }
      return;
    }
    for (const name of Object.keys(init)) this.append(name, (init as Record<string, unknown>)[name] as string);
  }

  append(name: string, value: string): void {
    const key = checkedName(name, 'append');
    const v = checkedValue(value, name, 'append');
    if (key === SET_COOKIE) this.#cookies.push(v);
    const old = this.#fields.get(key);
    this.#fields.set(key, old === undefined ? v : `${old}, ${v}`);
  }

  set(name: string, value: string): void {
    const key = checkedName(name, 'set');
    const v = checkedValue(value, name, 'set');
    if (key === SET_COOKIE) this.#cookies = [v];
    this.#fields.set(key, v);
  }

  delete(name: string): void {
    const key = checkedName(name, 'delete');
    if (key === SET_COOKIE) this.#cookies = [];
    this.#fields.delete(key);
  }

  get(name: string): string | null {
    return this.#fields.get(checkedName(name, 'get')) ?? null;
  }

  has(name: string): boolean {
    return this.#fields.has(checkedName(name, 'has'));
  }

  getSetCookie(): string[] {
    return [...this.#cookies];
  }

  forEach(callback: (value: string, name: string, headers: WebHeaders) => void, thisArg?: unknown): void {
    if (typeof callback !== 'function') throw new TypeError('Headers.forEach: the callback must be a function');
    for (const [name, value] of this.#sorted()) callback.call(thisArg, value, name, this);
  }

  /** Name-value pairs sorted by name; each `set-cookie` value is a pair of its own. */
  *entries(): IterableIterator<[string, string]> {
    yield* this.#sorted();
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.#sorted()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.#sorted()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return 'Headers';
  }

  #sorted(): Array<[string, string]> {
    const names = [...this.#fields.keys()].sort();
    const out: Array<[string, string]> = [];
    for (const name of names) {
      if (name === SET_COOKIE) for (const c of this.#cookies) out.push([name, c]);
      else out.push([name, this.#fields.get(name)!]);
    }
    return out;
  }
}

/** What the bundle's free `Headers` references resolve to (esbuild `inject`). */
export { WebHeaders as Headers };
