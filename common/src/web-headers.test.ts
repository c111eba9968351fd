// WebHeaders against Node's own Headers (undici's, the reference for the
// proxy's gRPC clients): the same operations give the same answers and the
// same refusals. And the proxy's image bundle really uses it: bundled, the
// proxy certifies through a real identity service without Node's fetch code
// being loaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebHeaders } from './web-headers.js';

type AnyHeaders = Headers | WebHeaders;
type Step = (h: AnyHeaders) => unknown;

/** Runs `steps` on a fresh Node Headers and a fresh WebHeaders built from `init`; each step's result (or TypeError) must match. */
function same(what: string, init: unknown, steps: Step[]): void {
  const run = (make: () => AnyHeaders): unknown[] => {
    let h: AnyHeaders;
    try {
      h = make();
    } catch (err) {
      return [`constructor threw ${(err as Error).constructor.name}`];
    }
    return steps.map((step) => {
      try {
        return step(h);
      } catch (err) {
        return `threw ${(err as Error).constructor.name}`;
      }
    });
  };
  const node = run(() => new Headers(init as ConstructorParameters<typeof Headers>[0]));
  const ours = run(() => new WebHeaders(init as ConstructorParameters<typeof WebHeaders>[0]));
  assert.deepEqual(ours, node, what);
}

const all: Step = (h) => [...h];
const each: Step = (h) => {
  const seen: unknown[] = [];
  h.forEach((value, name, self) => seen.push([name, value, self === h]));
  return seen;
};

test('built from a record, a sequence of pairs, another Headers or nothing, the fields and their order match Node', () => {
  same('record', { 'Content-Type': 'application/grpc', TE: 'trailers', 'x-b': '2', 'X-A': '1' }, [all, each, (h) => h.get('content-type')]);
  same('pairs, repeated names combine', [['grpc-status', '0'], ['X-Multi', 'a'], ['x-multi', 'b']], [all, (h) => h.get('x-multi'), (h) => [...h.keys()], (h) => [...h.values()]]);
  same('from Headers', new Headers([['a', '1'], ['b', '2']]), [all]);
  same('empty', undefined, [all, (h) => h.get('a'), (h) => h.has('a')]);
  same('null', null, [all]);
  same('a pair of three', [['a', '1', '2']], [all]);
  same('a pair that is not iterable', [5], [all]);
  same('a number', 5, [all]);
});

test('append, set, delete, get and has behave as Node, with names case-insensitive and values trimmed', () => {
  same('mutations', undefined, [
    (h) => h.append('Grpc-Message', '  spaced out\t'),
    (h) => h.get('grpc-message'),
    (h) => h.set('GRPC-MESSAGE', 'replaced'),
    (h) => h.get('grpc-message'),
    (h) => h.append('x', ''),
    (h) => h.get('x'),
    (h) => h.has('X'),
    (h) => h.delete('X'),
    (h) => h.has('x'),
    (h) => h.get('x'),
    (h) => h.append('n', 12 as unknown as string),
    (h) => h.get('n'),
    all,
  ]);
});

test('set-cookie values stay apart in iteration and getSetCookie, combined in get', () => {
  same('cookies', [['Set-Cookie', 'a=1'], ['set-cookie', 'b=2; Path=/'], ['x', 'y']], [
    all,
    each,
    (h) => h.get('set-cookie'),
    (h) => h.getSetCookie(),
    (h) => h.set('set-cookie', 'c=3'),
    (h) => h.getSetCookie(),
    (h) => h.delete('set-cookie'),
    (h) => h.getSetCookie(),
    all,
  ]);
});

test('invalid names and values are refused with a TypeError, as Node refuses them, and nothing is stored', () => {
  const badNames = ['', 'a b', 'a:b', 'ä', 'a\n', '(x)', 'x,y'];
  for (const name of badNames) {
    same(`name ${JSON.stringify(name)}`, undefined, [(h) => h.append(name, 'v'), (h) => h.set(name, 'v'), (h) => h.get(name), (h) => h.has(name), (h) => h.delete(name), all]);
  }
  const badValues = ['a\nb', 'a\rb', 'a\0b', 'snow \u2603'];
  for (const value of badValues) {
    same(`value ${JSON.stringify(value)}`, undefined, [(h) => h.append('x', value), (h) => h.set('x', value), all]);
    same(`record value ${JSON.stringify(value)}`, { x: value }, [all]);
  }
  same('latin-1 is allowed', undefined, [(h) => h.append('x', 'caf\u00e9'), all]);
  const w = new WebHeaders();
  assert.throws(() => w.append('a b', 'v'), { name: 'TypeError', message: 'Headers.append: "a b" is an invalid header name' });
  assert.throws(() => w.set('x', 'a\nb'), { name: 'TypeError', message: 'Headers.set: "a\\nb" is an invalid value for header "x"' });
});

test('Object.prototype.toString names it Headers, as Node does', () => {
  assert.equal(Object.prototype.toString.call(new WebHeaders()), Object.prototype.toString.call(new Headers()));
});
