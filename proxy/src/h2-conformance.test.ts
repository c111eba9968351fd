// HTTP/2 conformance with h2spec, the standard tool: its 145 cases against
// Node's own HTTP/2 server (the reference: weft's HTTP/2 is Node's) and
// against the same application behind weft's inbound listener (h2c from an
// unmeshed client) and outbound listener. weft must fail no case the
// reference passes. The reference's own failures are listed in
// docs/proxy.md as known.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { startMesh, type Mesh } from './testing/mesh.js';
import { endpoint } from './discovery/discovery.js';
import { h2spec, runH2spec } from './testing/h2spec.js';

let app: http2.Http2Server;
let mesh: Mesh;

before(async () => {
  h2spec(); // build (or find) the tool first, outside the measured runs
  app = http2.createServer();
  app.on('stream', (stream) => {
    stream.on('error', () => undefined);
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const appPort = (app.address() as AddressInfo).port;
  mesh = await startMesh({ appPort });
  // h2spec names its target as :authority; the outbound proxy resolves it to the application (unmeshed endpoint).
  mesh.discovery.set(`127.0.0.1:${mesh.client.ports.outbound}`, [endpoint('127.0.0.1', appPort)]);
});

after(async () => {
  await mesh?.close();
  app?.close();
});

test('h2spec: weft inbound and outbound fail no case that Node’s own HTTP/2 server passes', { timeout: 600_000 }, async () => {
  const reference = await runH2spec('127.0.0.1', (app.address() as AddressInfo).port);
  const inbound = await runH2spec('127.0.0.1', mesh.server.ports.inbound);
  const outbound = await runH2spec('127.0.0.1', mesh.client.ports.outbound);
  const summary = (r: typeof reference) => ({ total: r.total, failed: r.failed.size });
  console.log(JSON.stringify({ h2spec: { direct: summary(reference), inbound: summary(inbound), outbound: summary(outbound), knownFailures: [...reference.failed].sort() } }));
  assert.ok(reference.total >= 140, `h2spec ran ${reference.total} cases`);
  for (const [where, r] of [['inbound', inbound], ['outbound', outbound]] as const) {
    assert.equal(r.total, reference.total, `${where}: ${r.total} cases`);
    const extra = [...r.failed].filter((c) => !reference.failed.has(c));
    assert.deepEqual(extra, [], `${where} fails cases Node's own server passes`);
  }
});
