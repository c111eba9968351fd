import { test } from 'node:test';
import assert from 'node:assert/strict';
import { incomingSampling, injectContext, parseContext, Sampling, traceparentSampled } from './context.js';
import { Tracer, traceparentOf } from './tracer.js';
import type { SpanRecord } from './span.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

test('a valid traceparent gives its sampled flag; malformed ones are ignored', () => {
  assert.equal(traceparentSampled(`00-${TRACE}-${SPAN}-01`), 1);
  assert.equal(traceparentSampled(`00-${TRACE}-${SPAN}-00`), 0);
  assert.equal(traceparentSampled(`00-${TRACE}-${SPAN}-03`), 1, 'other flag bits do not hide the sampled bit');
  // A later version may carry more fields; version 00 may not.
  assert.equal(traceparentSampled(`01-${TRACE}-${SPAN}-01-extra`), 1);
  for (const bad of [
    `00-${TRACE}-${SPAN}-01-extra`,
    `ff-${TRACE}-${SPAN}-01`,
    `00-${'0'.repeat(32)}-${SPAN}-01`,
    `00-${TRACE}-${'0'.repeat(16)}-01`,
    `00-${TRACE.toUpperCase()}-${SPAN}-01`,
    `00-${TRACE}-${SPAN}`,
    `00_${TRACE}_${SPAN}_01`,
    '',
  ]) {
    assert.equal(traceparentSampled(bad), -1, bad);
  }
});

test('the caller decides: W3C first, then B3 single, then B3 multi; nothing means no decision', () => {
  assert.equal(incomingSampling({ traceparent: `00-${TRACE}-${SPAN}-00`, b3: '1' }), Sampling.Unsampled);
  assert.equal(incomingSampling({ traceparent: 'garbage', b3: `${TRACE}-${SPAN}-1` }), Sampling.Sampled);
  assert.equal(incomingSampling({ b3: '0' }), Sampling.Unsampled);
  assert.equal(incomingSampling({ b3: 'd' }), Sampling.Sampled);
  assert.equal(incomingSampling({ b3: `${SPAN}-${SPAN}` }), Sampling.NoDecision);
  assert.equal(incomingSampling({ b3: `${TRACE}-${SPAN}-0-${SPAN}` }), Sampling.Unsampled);
  assert.equal(incomingSampling({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-sampled': '1' }), Sampling.Sampled);
  assert.equal(incomingSampling({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-sampled': 'false' }), Sampling.Unsampled);
  assert.equal(incomingSampling({ 'x-b3-flags': '1' }), Sampling.Sampled);
  assert.equal(incomingSampling({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN }), Sampling.NoDecision);
  assert.equal(incomingSampling({}), Sampling.NoDecision);
  assert.equal(incomingSampling({ traceparent: ['a', 'b'] }), Sampling.NoDecision);
});

test('B3 single in: W3C and B3 single out, same trace, our span as the parent; a 64-bit trace id is padded for W3C only', () => {
  const ctx = parseContext({ b3: `${SPAN}-${SPAN}-1` })!;
  assert.equal(ctx.traceId, `${'0'.repeat(16)}${SPAN}`);
  assert.equal(ctx.parentSpanId, SPAN);
  const out = injectContext<Record<string, string>>({ b3: `${SPAN}-${SPAN}-1`, other: 'kept' }, ctx, ctx.traceId, 'aaaaaaaaaaaaaaaa');
  assert.equal(out.traceparent, `00-${ctx.traceId}-aaaaaaaaaaaaaaaa-01`);
  assert.equal(out.b3, `${SPAN}-aaaaaaaaaaaaaaaa-1-${SPAN}`);
  assert.equal(out.other, 'kept');
});

test('B3 multi in: the multi headers are written back with our span, and W3C added', () => {
  const h: Record<string, string> = { 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-sampled': '1' };
  const ctx = parseContext(h)!;
  const out = injectContext(h, ctx, ctx.traceId, 'bbbbbbbbbbbbbbbb');
  assert.deepEqual(
    { tp: out.traceparent, t: out['x-b3-traceid'], s: out['x-b3-spanid'], p: out['x-b3-parentspanid'], sampled: out['x-b3-sampled'] },
    { tp: `00-${TRACE}-bbbbbbbbbbbbbbbb-01`, t: TRACE, s: 'bbbbbbbbbbbbbbbb', p: SPAN, sampled: '1' },
  );
  assert.equal(h['x-b3-spanid'], SPAN, 'the caller\'s headers are not changed (a retry re-reads them)');
});

test('W3C in: tracestate travels unchanged; a trace the proxy starts drops a stray tracestate', () => {
  const h = { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'vendor=x' };
  const ctx = parseContext(h);
  assert.equal(injectContext(h, ctx, TRACE, 'cccccccccccccccc').tracestate, 'vendor=x');
  assert.equal(injectContext({ tracestate: 'vendor=x' }, undefined, TRACE, 'cccccccccccccccc').tracestate, undefined);
});

test('the tracer keeps the caller\'s decision whatever its own rate, and samples undecided requests at its rate', () => {
  const spans: SpanRecord[] = [];
  const all = new Tracer(1, { push: (s) => spans.push(s) });
  assert.equal(all.sampled({ traceparent: `00-${TRACE}-${SPAN}-00` }), false);
  assert.equal(all.sampled({}), true);
  const none = new Tracer(0, { push: (s) => spans.push(s) });
  assert.equal(none.sampled({ traceparent: `00-${TRACE}-${SPAN}-01` }), true);
  assert.equal(none.sampled({}), false);
  let r = 0.3;
  const some = new Tracer(0.25, { push: () => undefined }, () => r);
  assert.equal(some.sampled({}), false);
  r = 0.2;
  assert.equal(some.sampled({}), true);
  const opened = all.start({}, 'GET', 'client', 0);
  assert.match(opened.span.traceId, /^[0-9a-f]{32}$/);
  assert.equal(opened.span.parentSpanId, undefined);
  assert.equal(all.openParent(opened.headers), opened.span);
  all.finish(opened.span);
  assert.deepEqual(spans, [opened.span]);
  assert.equal(all.openParent(opened.headers), undefined);
});

test('a child span continues its parent\'s trace; without a parent the tracer\'s rate decides whether a trace starts', () => {
  const spans: SpanRecord[] = [];
  const none = new Tracer(0, { push: (s) => spans.push(s) });
  const parent = none.start({ traceparent: `00-${TRACE}-${SPAN}-01` }, 'weft.identity.v1.Identity/Certify', 'server', 0).span;
  const child = none.startChild(parent, 'POST', 'client')!;
  assert.equal(child.traceId, TRACE);
  assert.equal(child.parentSpanId, parent.spanId);
  assert.equal(traceparentOf(child), `00-${TRACE}-${child.spanId}-01`);
  assert.equal(none.startChild(undefined, 'GET', 'client'), undefined, 'rate 0: no root span');
  const root = new Tracer(1, { push: () => undefined }).startChild(undefined, 'GET', 'client')!;
  assert.equal(root.parentSpanId, undefined);
  assert.match(root.traceId, /^[0-9a-f]{32}$/);
  none.finish(child);
  none.finish(child);
  assert.deepEqual(spans, [child], 'a span is exported once');
});
