// Mesh-wide proxy defaults the weft-control-plane chart sets (proxy.* values): skipped ports and the
// sidecar layout, parsed once with a clear error for bad input, and applied to every injected pod.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMeshConfig } from './mesh-config.js';
import { inject } from './inject.js';
import { TESTDATA } from './testing/test-mesh.js';

const base = { WEFT_INJECTOR_TRUST_ANCHORS_FILE: `${TESTDATA}trust-anchors.pem`, WEFT_INJECTOR_KUBERNETES_VERSION: 'v1.31.0' };

test('skip-port defaults and the native-sidecar switch come from the environment the chart sets', () => {
  const m = loadMeshConfig({ ...base, WEFT_INJECTOR_SKIP_INBOUND_PORTS: '9000,9100-9102', WEFT_INJECTOR_SKIP_OUTBOUND_PORTS: '5432', WEFT_INJECTOR_PROXY_NATIVE_SIDECAR: 'disabled' });
  assert.deepEqual(m.proxy.skipInboundPorts, [9000, 9100, 9101, 9102]);
  assert.deepEqual(m.proxy.skipOutboundPorts, [5432]);
  assert.equal(m.proxy.nativeSidecar, false, 'disabled on a 1.31 cluster');
  const auto = loadMeshConfig(base);
  assert.equal(auto.proxy.nativeSidecar, true, 'auto follows the Kubernetes version');
  assert.deepEqual(auto.proxy.skipInboundPorts, []);
  assert.equal(loadMeshConfig({ ...base, WEFT_INJECTOR_KUBERNETES_VERSION: 'v1.28.0', WEFT_INJECTOR_PROXY_NATIVE_SIDECAR: 'enabled' }).proxy.nativeSidecar, true);
});

test('bad skip ports or switch values are refused naming the variable', () => {
  assert.throws(() => loadMeshConfig({ ...base, WEFT_INJECTOR_SKIP_INBOUND_PORTS: '9000,http' }), /WEFT_INJECTOR_SKIP_INBOUND_PORTS/);
  assert.throws(() => loadMeshConfig({ ...base, WEFT_INJECTOR_SKIP_OUTBOUND_PORTS: '70000' }), /WEFT_INJECTOR_SKIP_OUTBOUND_PORTS/);
  assert.throws(() => loadMeshConfig({ ...base, WEFT_INJECTOR_PROXY_NATIVE_SIDECAR: 'sometimes' }), /WEFT_INJECTOR_PROXY_NATIVE_SIDECAR/);
});

test('the mesh-wide skip ports reach weft-init of an injected pod', () => {
  const m = loadMeshConfig({ ...base, WEFT_INJECTOR_SKIP_INBOUND_PORTS: '9000', WEFT_INJECTOR_SKIP_OUTBOUND_PORTS: '5432' });
  const out = inject({ metadata: { name: 'web', namespace: 'shop', annotations: { 'weft.io/inject': 'enabled' } }, spec: { containers: [{ name: 'web', image: 'web' }] } }, m);
  assert.equal(out.injected, true, JSON.stringify(out));
  const init = (out.pod.spec as unknown as { initContainers: { name: string; args: string[] }[] }).initContainers.find((c) => c.name === 'weft-init')!;
  const args = init.args.join(' ');
  assert.match(args, /--inbound-ports-to-ignore \S*9000/);
  assert.match(args, /--outbound-ports-to-ignore 5432/);
});

test('skip-subnet defaults and the proxy log format come from the environment and reach weft-init and the proxy', () => {
  const m = loadMeshConfig({ ...base, WEFT_INJECTOR_SKIP_INBOUND_SUBNETS: '10.244.0.0/16', WEFT_INJECTOR_SKIP_OUTBOUND_SUBNETS: '192.168.0.0/16,fd00::/8', WEFT_INJECTOR_PROXY_LOG_FORMAT: 'plain' });
  assert.deepEqual(m.proxy.skipOutboundSubnets, [{ family: 'ipv4', cidr: '192.168.0.0/16' }, { family: 'ipv6', cidr: 'fd00::/8' }]);
  assert.equal(m.proxy.logFormat, 'plain');
  assert.equal(loadMeshConfig(base).proxy.logFormat, 'json');
  const out = inject({ metadata: { name: 'web', namespace: 'shop', annotations: { 'weft.io/inject': 'enabled' } }, spec: { containers: [{ name: 'web', image: 'web' }] } }, m);
  const spec = out.pod.spec as unknown as { initContainers: { name: string; args?: string[]; env?: { name: string; value?: string }[] }[] };
  const args = spec.initContainers.find((c) => c.name === 'weft-init')!.args!.join(' ');
  assert.match(args, /--inbound-subnets-to-ignore 10\.244\.0\.0\/16/);
  assert.match(args, /--outbound-subnets-to-ignore 192\.168\.0\.0\/16,fd00::\/8/);
  assert.equal(spec.initContainers.find((c) => c.name === 'weft-proxy')!.env!.find((e) => e.name === 'WEFT_PROXY_LOG_FORMAT')!.value, 'plain');
  assert.throws(() => loadMeshConfig({ ...base, WEFT_INJECTOR_SKIP_OUTBOUND_SUBNETS: '192.168.0.0/40' }), /WEFT_INJECTOR_SKIP_OUTBOUND_SUBNETS: "192.168.0.0\/40" is not a CIDR/);
  assert.throws(() => loadMeshConfig({ ...base, WEFT_INJECTOR_PROXY_LOG_FORMAT: 'xml' }), /WEFT_INJECTOR_PROXY_LOG_FORMAT/);
});
