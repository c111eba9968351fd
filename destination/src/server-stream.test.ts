// A stream's backlog is one pending state whatever the pace of its reader: a
// reader that stops while thousands of changes happen gets one catch-up diff
// and ends with the current endpoints; an aborted stream releases its watch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Code, ConnectError } from '@connectrpc/connect';
import type { destination } from '@weft/api';
import { InvalidArgumentError } from '@weft/common/errors';
import type { EndpointState, ResolvedEndpoint } from './resolve/endpoints.js';
import { streamOf } from './server-stream.js';
import { EndpointTranslator } from './translators/endpoint-translator.js';

/** A watch driven by the test: `push` delivers a state as the discovery core would. */
function source<S>(initial: S) {
  const w = { push: undefined as ((s: S) => void) | undefined, unwatched: 0 };
  const start = (push: (s: S) => void) => {
    w.push = push;
    push(initial);
    return () => void w.unwatched++;
  };
  return { w, start };
}

function counting() {
  const c = { sent: 0, superseded: 0 };
  return { c, hooks: { sent: () => void c.sent++, superseded: () => void c.superseded++ } };
}

const endpoint = (i: number): ResolvedEndpoint => ({ ip: `10.1.${i >> 8}.${i & 255}`, port: 8080, weight: 10_000, identity: undefined, hint: undefined, labels: { pod: `web-${i}` } });

/** Endpoints [from, to): each change moves the window, so every state differs from the last. */
function window(from: number, to: number): EndpointState & { kind: 'endpoints' } {
  const endpoints = new Map<string, ResolvedEndpoint>();
  for (let i = from; i < to; i++) endpoints.set(`${endpoint(i).ip}:8080`, endpoint(i));
  return { kind: 'endpoints', endpoints, setLabels: { namespace: 'demo', service: 'web' } };
}

/** What a proxy holds after applying the updates it received. */
function apply(held: Map<string, string>, u: destination.Update): void {
  if (u.update.case === 'add') for (const a of u.update.value.addrs) held.set(`${a.addr!.ip}:${a.addr!.port}`, a.metricLabels.pod!);
  else if (u.update.case === 'remove') for (const a of u.update.value.addrs) held.delete(`${a.ip}:${a.port}`);
  else if (u.update.case === 'noEndpoints') held.clear();
}

function endpointMessages() {
  let out: destination.Update[] = [];
  const translations = { count: 0 };
  const translator = new EndpointTranslator((u) => out.push(u));
  const toMessages = (s: EndpointState) => {
    translations.count++;
    out = [];
    translator.update(s);
    return out;
  };
  return { toMessages, translations };
}

test('a reader that stops while 10,000 changes happen holds one pending state and catches up with one diff', async () => {
  const ac = new AbortController();
  const { w, start } = source(window(0, 50));
  const { toMessages, translations } = endpointMessages();
  const { c, hooks } = counting();
  const stream = streamOf({ signal: ac.signal }, start, toMessages, hooks);
  const held = new Map<string, string>();
  apply(held, (await stream.next()).value as destination.Update);
  assert.equal(held.size, 50);

  // The reader does not read: every change only replaces the pending state.
  for (let n = 1; n <= 10_000; n++) w.push!(window(n, n + 50));
  assert.equal(translations.count, 1, 'states are translated only when the reader asks');
  assert.equal(c.superseded, 9_999);

  // Reading again: one remove and one add take the reader to the last state.
  apply(held, (await stream.next()).value as destination.Update);
  apply(held, (await stream.next()).value as destination.Update);
  assert.equal(translations.count, 2);
  assert.deepEqual([...held.keys()].sort(), [...window(10_000, 10_050).endpoints.keys()].sort());
  assert.equal(c.sent, 3);

  // And live diffs flow again for a reader that keeps up.
  w.push!(window(10_001, 10_051));
  apply(held, (await stream.next()).value as destination.Update);
  apply(held, (await stream.next()).value as destination.Update);
  assert.deepEqual([...held.keys()].sort(), [...window(10_001, 10_051).endpoints.keys()].sort());
  assert.equal(c.superseded, 9_999);
  ac.abort();
  assert.equal((await stream.next()).done, true);
  assert.equal(w.unwatched, 1);
});

test('whole messages (profiles, policies): a slow reader gets the latest only', async () => {
  const ac = new AbortController();
  const { w, start } = source('v0');
  const { c, hooks } = counting();
  const stream = streamOf({ signal: ac.signal }, start, (s: string) => [s], hooks);
  assert.equal((await stream.next()).value, 'v0');
  for (let n = 1; n <= 1000; n++) w.push!(`v${n}`);
  assert.equal((await stream.next()).value, 'v1000');
  assert.equal(c.superseded, 999);
  ac.abort();
  assert.equal((await stream.next()).done, true);
});

test('going empty while the reader is away ends with no endpoints, not with stale ones', async () => {
  const ac = new AbortController();
  const { w, start } = source<EndpointState>(window(0, 3));
  const { toMessages } = endpointMessages();
  const stream = streamOf({ signal: ac.signal }, start, toMessages, counting().hooks);
  const held = new Map<string, string>();
  apply(held, (await stream.next()).value as destination.Update);
  w.push!(window(5, 9));
  w.push!({ kind: 'none', exists: true });
  const cases: string[] = [];
  for (let i = 0; i < 2; i++) {
    const u = (await stream.next()).value as destination.Update;
    cases.push(u.update.case!);
    apply(held, u);
  }
  assert.deepEqual(cases, ['remove', 'noEndpoints']);
  assert.equal(held.size, 0);
  ac.abort();
});

test('a watch that cannot start fails the call with its own status', () => {
  const start = () => {
    throw new InvalidArgumentError('"x:y" is not an authority');
  };
  assert.throws(
    () => streamOf({ signal: new AbortController().signal }, start, (s: string) => [s], counting().hooks),
    (err: unknown) => err instanceof ConnectError && err.code === Code.InvalidArgument,
  );
});
