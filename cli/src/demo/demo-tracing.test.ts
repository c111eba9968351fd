// `weft demo --tracing` (loopback mode): Jaeger runs beside the demo, it
// prints the traces URL, and one user request is one trace in Jaeger —
// traffic's proxy → web's proxy (in, out) → authors' proxy (in, out) →
// books' proxy, each span the child of the one before — read back through
// Jaeger's query API. Jaeger is the cached build of test/e2e/lib/jaeger-build.mjs
// (.ci/run builds it before npm test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unusedPort } from '@weft/common/testing/ports';
import { startDemo } from '../testing/demo-process.js';


interface Span {
  spanID: string;
  operationName: string;
  processID: string;
  references: Array<{ refType: string; spanID: string }>;
  tags: Array<{ key: string; value: unknown }>;
}
interface Trace {
  spans: Span[];
  processes: Record<string, { serviceName: string }>;
}

/** The trace as a chain from its root, `service:kind` per span; undefined when it is not a single chain. */
function chain(t: Trace): string[] | undefined {
  const out: string[] = [];
  let parent: string | undefined;
  for (let i = 0; i < t.spans.length; i++) {
    const next = t.spans.filter((s) => s.references.find((r) => r.refType === 'CHILD_OF')?.spanID === parent);
    if (next.length !== 1) return undefined;
    const s = next[0]!;
    out.push(`${t.processes[s.processID]!.serviceName}:${s.tags.find((x) => x.key === 'span.kind')?.value}`);
    parent = s.spanID;
  }
  return out;
}

test('weft demo --tracing shows each request as one trace through every proxy in Jaeger, and stops Jaeger with the demo', { timeout: 300_000 }, async () => {
  const [jaegerPort, prometheusPort, apiPort, tapPort, dashboardPort] = [await unusedPort(), await unusedPort(), await unusedPort(), await unusedPort(), await unusedPort()];
  const demo = await startDemo(['--mode', 'loopback', '--tracing', '--jaeger-port', String(jaegerPort), '--failure-rate', '0', '--rps', '20', '--duration', '60',
    '--prometheus-port', String(prometheusPort), '--api-port', String(apiPort), '--tap-port', String(tapPort), '--dashboard-port', String(dashboardPort)]);
  try {
    const deadline = Date.now() + 240_000;
    const ui = `http://127.0.0.1:${jaegerPort}`;
    assert.match(demo.out(), new RegExp(`traces\\s+${ui.replace(/[.]/g, '\\.')}`), 'prints the Jaeger URL');
    const want = ['traffic:client', 'web:server', 'web:client', 'authors:server', 'authors:client', 'books:server'];
    let seen: string[][] = [];
    for (;;) {
      const rsp = await fetch(`${ui}/api/traces?service=traffic&limit=20&lookback=1h`);
      const traces = ((await rsp.json()) as { data: Trace[] | null }).data ?? [];
      seen = traces.map((t) => chain(t) ?? ['not one chain']);
      if (seen.some((c) => c.join(' ') === want.join(' '))) break;
      assert.ok(Date.now() < deadline, `no trace ${want.join(' → ')} in Jaeger; saw ${JSON.stringify(seen.slice(0, 5))}\n${demo.err()}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    if (demo.child.exitCode === null) demo.child.kill('SIGINT');
  }
  assert.equal(await demo.exited, 0, demo.err());
  // Jaeger went with the demo.
  await assert.rejects(fetch(`http://127.0.0.1:${jaegerPort}/api/services`));
});
