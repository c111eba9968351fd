#!/usr/bin/env node
// One weft proxy process for the benchmark, in explicit mode (no iptables):
// static identity from files, static discovery from the spec. Prints one
// `READY {"outbound":…,"inbound":…,"admin":…}` line, runs until SIGTERM.
//
//   node weft-proxy.mjs '<json spec>'
//   spec: { name, cert, key, anchors (paths), appPort?, routes: [{ authority, ip, port, identity?, inboundPort? }] }
import { readFileSync } from 'node:fs';
import { startProxy, StaticIdentity, StaticDiscovery, endpoint } from '@weft/proxy';
import { testConfig } from '@weft/proxy/testing/mesh';
import { createLogger } from '@weft/common/log';

const spec = JSON.parse(process.argv[2]);
const identity = new StaticIdentity(spec.name, readFileSync(spec.anchors, 'utf8'), { cert: readFileSync(spec.cert, 'utf8'), key: readFileSync(spec.key, 'utf8') });
const discovery = new StaticDiscovery();
for (const r of spec.routes ?? []) {
  discovery.set(r.authority, [endpoint(r.ip, r.port, r.identity ? { identity: r.identity, inboundPort: r.inboundPort } : {})]);
}
const proxy = await startProxy({
  config: testConfig(spec.name, { logLevel: 'warn', inboundAppPort: spec.appPort, tracing: spec.tracing /* TraceConfig (docs/tracing.md) */ }),
  identity,
  discovery,
  originalDst: null,
  log: createLogger('proxy', 'warn'),
  drainMs: 200,
});
process.stdout.write(`READY ${JSON.stringify(proxy.ports)}\n`);
process.once('SIGTERM', () => void proxy.shutdown().then(() => process.exit(0)));
