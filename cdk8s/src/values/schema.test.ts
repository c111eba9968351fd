/**
 * values.schema.json, generated from the values model, makes the real helm
 * reject wrong values with a message naming the key; a missing trust anchor
 * fails with the chart's own message.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT, ensureTools, helm, scratch } from '../testing/helm.js';
import { makeCa } from '../testing/pki.js';

const dirs = scratch();
let anchorValues = '';
const cp = join(ROOT, 'charts', 'weft-control-plane');
const viz = join(ROOT, 'charts', 'weft-viz');

before(() => {
  ensureTools();
  anchorValues = dirs.write('anchor.yaml', { identityTrustAnchorsPEM: makeCa(dirs.dir, 'anchor').crt, certManager: { create: true } });
});
after(() => dirs.cleanup());

function render(chart: string, values: Record<string, unknown>): { status: number; stderr: string } {
  const file = dirs.write(`v-${Math.random().toString(36).slice(2)}.yaml`, values);
  // The case's file comes last so it can override the anchor (--set-file would win over any -f).
  return helm(['template', 'weft', chart, '--namespace', 'weft', '-f', anchorValues, '-f', file]);
}

const rejections: { what: string; chart: string; values: Record<string, unknown>; key: string; why: RegExp }[] = [
  { what: 'an unknown issuer scheme', chart: cp, values: { identity: { issuer: { scheme: 'foo' } } }, key: '/identity/issuer/scheme', why: /one of/ },
  { what: 'negative replicas', chart: cp, values: { destination: { replicas: -1 } }, key: '/destination/replicas', why: /minimum/ },
  { what: 'a misspelt key', chart: cp, values: { identty: { replicas: 2 } }, key: 'identty', why: /additional propert/ },
  { what: 'a string where a number belongs', chart: cp, values: { proxyInjector: { timeoutSeconds: 'ten' } }, key: '/proxyInjector/timeoutSeconds', why: /integer|number/ },
  { what: 'a bad failurePolicy', chart: cp, values: { proxyInjector: { failurePolicy: 'Sometimes' } }, key: '/proxyInjector/failurePolicy', why: /one of/ },
  { what: 'a malformed duration', chart: cp, values: { identity: { issuer: { issuanceLifetime: 'one day' } } }, key: '/identity/issuer/issuanceLifetime', why: /match|pattern/ },
  { what: 'a trust anchor that is not PEM', chart: cp, values: { identityTrustAnchorsPEM: 'not a certificate' }, key: '/identityTrustAnchorsPEM', why: /match|pattern/ },
  { what: 'a proxy memory limit that is not a quantity', chart: cp, values: { proxy: { memoryLimit: 'lots' } }, key: '/proxy/memoryLimit', why: /match|pattern/ },
  { what: 'an unknown resources field', chart: viz, values: { prometheus: { resources: { request: { cpu: '1' } } } }, key: '/prometheus/resources', why: /additional propert/ },
  { what: 'a bad tap auth mode', chart: viz, values: { viz: { tapAuth: 'anyone' } }, key: '/viz/tapAuth', why: /match|pattern/ },
];

for (const r of rejections) {
  test(`helm rejects ${r.what}, naming the key`, () => {
    const res = render(r.chart, r.values);
    assert.notEqual(res.status, 0, 'helm template must fail');
    assert.match(res.stderr, /values don't meet the specifications of the schema/);
    assert.ok(res.stderr.includes(r.key), `error names ${r.key}: ${res.stderr}`);
    assert.match(res.stderr, r.why);
  });
}

test('helm accepts the same chart with valid values (the rejections are about the values)', () => {
  const res = render(cp, { identity: { issuer: { scheme: 'kubernetes.io/tls' } }, destination: { replicas: 2, tls: { certManager: true } }, certManager: { create: false } });
  assert.equal(res.status, 0, res.stderr);
});

test('installing without a trust anchor fails with a message that says what to pass', () => {
  const res = helm(['template', 'weft', cp, '--namespace', 'weft']);
  assert.notEqual(res.status, 0);
  assert.match(res.stderr, /identityTrustAnchorsPEM is required: pass the PEM of your trust anchor/);
  assert.match(res.stderr, /identity\.externalCA=true/);
});

test('the weft.io/tls issuer scheme without its certificate fails naming the value', () => {
  const res = render(cp, { identity: { issuer: { scheme: 'weft.io/tls' } }, certManager: { create: false } });
  assert.notEqual(res.status, 0);
  assert.match(res.stderr, /identity\.issuer\.tls\.crtPEM is required/);
});

test('an external trust-roots ConfigMap needs no trust anchor value', () => {
  const file = dirs.write('external.yaml', { identity: { externalCA: true }, certManager: { create: true } });
  const res = helm(['template', 'weft', cp, '--namespace', 'weft', '-f', file]);
  assert.equal(res.status, 0, res.stderr);
  assert.ok(!res.stdout.includes('kind: ConfigMap'), 'no trust-roots ConfigMap rendered');
});
