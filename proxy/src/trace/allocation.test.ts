// The request path allocates nothing for tracing when tracing is off (the
// layer is the inner service itself) or the request is not sampled. Measured
// in a child Node with a young generation large enough that no scavenge runs
// during the loop: the heap must grow by less than 4 bytes per request (a
// context object, a header copy or a closure per request would add tens).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { traceLayer } from '../layers/trace.js';
import type { HttpResponse, HttpService } from '../svc.js';

const inner: HttpService = () => Promise.resolve({} as HttpResponse);

test('without a tracer the trace layers are not in the path at all', () => {
  assert.equal(traceLayer({ tracer: undefined, kind: 'server', localIdentity: 'x' })(inner), inner);
});

const CHILD = `
const { traceLayer, traceRoute } = await import(${JSON.stringify(new URL('../layers/trace.js', import.meta.url).href)});
const { Tracer } = await import(${JSON.stringify(new URL('./tracer.js', import.meta.url).href)});
const done = Promise.resolve({ status: 200, headers: {}, body: { once() {} }, trailers() {} });
const inner = () => done;
const tracer = new Tracer(0, { push() {} });
const svc = traceLayer({ tracer, kind: 'client', localIdentity: 'x' })(inner);
// A rate of 1e-9: Math.random() is drawn for every request and (in practice) never samples.
const drawn = traceLayer({ tracer: new Tracer(1e-9, { push() {} }), kind: 'client', localIdentity: 'x' })(inner);
// Below the route layer: a request on a named route whose trace is not sampled.
const routed = traceRoute(tracer)(inner);
const cases = [
  ['w3c unsampled', svc, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', 'content-type': 'text/plain' }],
  ['b3 deny', svc, { b3: '0' }],
  ['b3 multi unsampled', svc, { 'x-b3-traceid': '4bf92f3577b34da6a3ce929d0e0e4736', 'x-b3-spanid': '00f067aa0ba902b7', 'x-b3-sampled': '0' }],
  ['no context at rate 0', svc, { accept: '*/*' }],
  ['no context, a random draw that does not sample', drawn, { accept: '*/*' }],
  ['route layer, w3c unsampled', routed, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' }],
];
const N = 1000000;
const out = {};
for (const [name, svc, headers] of cases) {
  const req = { headers, method: 'GET', scheme: 'http', path: '/', authority: 'a:80', version: 'HTTP/1.1', startedAt: 0, conn: { client: { ip: '127.0.0.1', port: 1 }, tls: {} }, route: { params: { name: 'books', kind: 'HTTPRoute' } } };
  for (let i = 0; i < 20000; i++) svc(req); // warm up (JIT)
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < N; i++) svc(req);
  out[name] = (process.memoryUsage().heapUsed - before) / N;
}
process.stdout.write(JSON.stringify(out));
`;

test('a request that is not sampled allocates nothing in the trace layer', () => {
  const raw = execFileSync(process.execPath, ['--expose-gc', '--max-semi-space-size=256', '--input-type=module', '-e', CHILD], { encoding: 'utf8' });
  const perRequest = JSON.parse(raw) as Record<string, number>;
  // The smallest heap object is 16 bytes; what is left below 4 per request is the JIT's own code and feedback.
  for (const [name, bytes] of Object.entries(perRequest)) assert.ok(bytes < 4, `${name}: ${bytes.toFixed(2)} bytes per request`);
});

const CONTROL = CHILD.replace("new Tracer(0, { push() {} })", "new Tracer(1, { push() {} })");

test('the measurement sees the allocations of sampled requests (the test can fail)', () => {
  const raw = execFileSync(process.execPath, ['--expose-gc', '--max-semi-space-size=256', '--input-type=module', '-e', CONTROL], { encoding: 'utf8' });
  const perRequest = JSON.parse(raw) as Record<string, number>;
  assert.ok(perRequest['no context at rate 0']! > 100, `a sampled request: ${perRequest['no context at rate 0']} bytes`);
});
