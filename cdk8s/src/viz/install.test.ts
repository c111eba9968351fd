/**
 * weft-viz installs with one `helm install`: with the real helm, the tap
 * client certificate the chart signs verifies against the anchors with the
 * identity proxies accept, the tap ClusterRoles are shipped (one aggregated
 * into `admin`), and without a certificate source the chart refuses to render.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, helm, parseStream, testIssuer } from '../testing/helm.js';

const CHART = join(ROOT, 'charts', 'weft-viz');
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const certs = testIssuer();

test("with the issuer's PEMs the chart signs viz's tap client certificate: it verifies against the anchors as weft-viz's identity", () => {
  const r = helm(['template', 'weft-viz', CHART, '-n', 'weft-viz', '--set-file', `identityTrustAnchorsPEM=${certs.anchor.certPath},identity.issuer.tls.crtPEM=${certs.issuer.certPath},identity.issuer.tls.keyPEM=${certs.issuer.keyPath}`]);
  assert.equal(r.status, 0, r.stderr);
  const objs = parseStream(r.stdout) as Obj[];
  const secret = objs.find((o) => o.kind === 'Secret' && o.metadata.name === 'weft-viz-tap-tls')!;
  const crt = certs.pki.file('tap.crt', secret.stringData['tls.crt']);
  assert.match(certs.pki.verify(crt, certs.anchor.certPath, crt, 'sslclient'), /OK/);
  assert.match(execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName'], { input: secret.stringData['tls.crt'] }).toString(), /DNS:weft-viz\.weft-viz\.serviceaccount\.identity\.weft\.cluster\.local/);
  const deployment = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'weft-viz')!;
  assert.deepEqual(deployment.spec.template.spec.volumes.find((v: Obj) => v.name === 'tap-tls').secret, { secretName: 'weft-viz-tap-tls' });
  const admin = objs.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'weft-viz-tap-admin')!;
  assert.equal(admin.metadata.labels['rbac.authorization.k8s.io/aggregate-to-admin'], 'true');
  assert.deepEqual(admin.rules, [{ apiGroups: ['tap.weft.io'], resources: ['namespaces/tap', 'deployments/tap', 'statefulsets/tap', 'daemonsets/tap', 'pods/tap'], verbs: ['watch'] }]);
});

test('with a cert-manager issuer the chart renders the tap Certificate instead, for the same identity', () => {
  const r = helm(['template', 'weft-viz', CHART, '-n', 'obs', '--set-file', `identityTrustAnchorsPEM=${certs.anchor.certPath}`, '--set', 'viz.tapTls.issuerRef.name=weft-trust-anchor']);
  assert.equal(r.status, 0, r.stderr);
  const objs = parseStream(r.stdout) as Obj[];
  assert.equal(objs.find((o) => o.kind === 'Secret'), undefined);
  const cert = objs.find((o) => o.kind === 'Certificate')!;
  assert.deepEqual(cert.spec.dnsNames, ['weft-viz.obs.serviceaccount.identity.weft.cluster.local']);
  assert.deepEqual(cert.spec.issuerRef, { name: 'weft-trust-anchor', kind: 'ClusterIssuer', group: 'cert-manager.io' });
  assert.equal(cert.spec.secretName, 'weft-viz-tap-tls');
});

test('without a source for the tap certificate the chart refuses to render, naming the values', () => {
  const r = helm(['template', 'weft-viz', CHART, '-n', 'weft-viz', '--set-file', `identityTrustAnchorsPEM=${certs.anchor.certPath}`]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /tap client certificate has no source: .*identity\.issuer\.tls\.crtPEM.*viz\.tapTls\.issuerRef\.name.*viz\.tapTls\.externalSecret=true/);
});
