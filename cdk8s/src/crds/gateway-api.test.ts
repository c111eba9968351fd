// The Gateway API CRDs weft-crds can install: byte-for-byte the published
// module's standard channel at the pinned version, rendered by the real helm
// only when `gatewayAPI.install=true`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureTools, helm, parseStream, scratch } from '../testing/helm.js';
import { GATEWAY_API_CRDS, GATEWAY_API_VERSION, gatewayApiCrdFile } from './gateway-api.js';

test(`the vendored CRDs are the sigs.k8s.io/gateway-api ${GATEWAY_API_VERSION} module's standard channel, unchanged`, () => {
  const out = execFileSync('go', ['mod', 'download', '-json', `sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}`], {
    encoding: 'utf8',
    cwd: '/',
  });
  const dir = join((JSON.parse(out) as { Dir: string }).Dir, 'config/crd/standard');
  for (const plural of GATEWAY_API_CRDS) {
    const name = `gateway.networking.k8s.io_${plural}.yaml`;
    assert.equal(readFileSync(gatewayApiCrdFile(plural), 'utf8'), readFileSync(join(dir, name), 'utf8'), name);
  }
});

test('helm renders the Gateway API CRDs only when gatewayAPI.install is true', () => {
  ensureTools();
  const dirs = scratch();
  try {
    const crds = (args: string[]) => {
      const r = helm(['template', 'weft-crds', 'charts/weft-crds', ...args]);
      assert.equal(r.status, 0, r.stderr);
      return parseStream(r.stdout)
        .map((o) => (o.metadata as { name: string }).name)
        .filter((n) => n.endsWith('.gateway.networking.k8s.io'))
        .sort();
    };
    assert.deepEqual(crds([]), [], 'off by default');
    assert.deepEqual(crds(['--set', 'gatewayAPI.install=true']), [
      'grpcroutes.gateway.networking.k8s.io',
      'httproutes.gateway.networking.k8s.io',
      'referencegrants.gateway.networking.k8s.io',
    ]);
    const bad = helm(['template', 'weft-crds', 'charts/weft-crds', '-f', dirs.write('bad.yaml', { gatewayAPI: { install: 'sometimes' } })]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /gatewayAPI\.install|gatewayAPI/);
  } finally {
    dirs.cleanup();
  }
});
