/**
 * The install paths of docs/install.md with the real helm: each renders
 * certificates that verify (openssl) with the names the components expect,
 * or refuses to render, naming the values to set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, helm, parseStream, testIssuer } from '../testing/helm.js';

const CHART = join(ROOT, 'charts', 'weft-control-plane');
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const certs = testIssuer();

function template(args: string[]): { status: number; objects: Obj[]; stderr: string } {
  const r = helm(['template', 'weft', CHART, '-n', 'weft', ...args]);
  return { status: r.status, objects: r.status === 0 ? (parseStream(r.stdout) as Obj[]) : [], stderr: r.stderr };
}
const find = (objs: Obj[], kind: string, name: string): Obj => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind} ${name} rendered`);
  return o;
};
const sans = (pem: string): string => execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName'], { input: pem }).toString();

test("Linkerd's names: issuer and anchors with --set-file render the issuer Secret, a destination certificate it signed and a webhook certificate, all verifying", () => {
  for (const scheme of ['weft.io/tls', 'kubernetes.io/tls']) {
    const r = template(['--set-file', `identityTrustAnchorsPEM=${certs.anchor.certPath}`, '--set-file', `identity.issuer.tls.crtPEM=${certs.issuer.certPath},identity.issuer.tls.keyPEM=${certs.issuer.keyPath}`, '--set', `identity.issuer.scheme=${scheme}`]);
    assert.equal(r.status, 0, r.stderr);
    const issuerSecret = find(r.objects, 'Secret', 'weft-identity-issuer');
    assert.deepEqual(issuerSecret.stringData, { 'ca.crt': certs.anchor.cert, 'tls.crt': certs.issuer.cert, 'tls.key': certs.issuer.key });

    // destination's leaf, then the issuer: proxies hold only the anchors.
    const destination = find(r.objects, 'Secret', 'weft-destination-tls').stringData;
    const leaf = certs.pki.file('destination.crt', destination['tls.crt']);
    assert.match(certs.pki.verify(leaf, certs.anchor.certPath, leaf, 'sslserver'), /OK/);
    assert.match(sans(destination['tls.crt']), /DNS:weft-destination\.weft\.serviceaccount\.identity\.weft\.cluster\.local/);
    // The key matches the certificate.
    const pub = (args: string[], input: string) => execFileSync('openssl', args, { input }).toString();
    assert.equal(pub(['pkey', '-pubout'], destination['tls.key']), pub(['x509', '-noout', '-pubkey'], destination['tls.crt']));

    const webhook = find(r.objects, 'Secret', 'weft-injector-k8s-tls').stringData;
    const mwc = find(r.objects, 'MutatingWebhookConfiguration', 'weft-proxy-injector-webhook-config');
    const caBundle = certs.pki.file('webhook-ca.crt', Buffer.from(mwc.webhooks[0].clientConfig.caBundle, 'base64').toString());
    assert.match(certs.pki.verify(certs.pki.file('webhook.crt', webhook['tls.crt']), caBundle, undefined, 'sslserver'), /OK/);
    assert.match(sans(webhook['tls.crt']), /DNS:weft-injector\.weft\.svc/);
    assert.equal(mwc.metadata.annotations, undefined, 'no cainjector without cert-manager');
    assert.equal(r.objects.filter((o) => o.apiVersion === 'cert-manager.io/v1').length, 0);
  }
});

test('cert-manager creates everything: no Secret is rendered, cainjector fills the webhook', () => {
  const r = template(['--set-file', `identityTrustAnchorsPEM=${certs.anchor.certPath}`, '--set', 'certManager.create=true']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.objects.filter((o) => o.kind === 'Secret'), []);
  assert.deepEqual(r.objects.filter((o) => o.kind === 'Certificate').map((o) => o.spec.secretName).sort(), ['weft-destination-tls', 'weft-identity-issuer', 'weft-injector-k8s-tls', 'weft-webhook-ca']);
  assert.equal(find(r.objects, 'MutatingWebhookConfiguration', 'weft-proxy-injector-webhook-config').metadata.annotations['cert-manager.io/inject-ca-from'], 'weft/weft-injector');
});

test('an issuer managed outside the chart with trust-manager anchors: destination from cert-manager, webhook generated', () => {
  const values = certs.pki.file('b.yaml', 'identity: {externalCA: true, issuer: {scheme: kubernetes.io/tls}}\ndestination: {tls: {certManager: true}}\n');
  const r = template(['-f', values]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'weft-identity-trust-roots'), undefined);
  assert.equal(r.objects.find((o) => o.kind === 'Secret' && o.metadata.name === 'weft-identity-issuer'), undefined);
  assert.equal(find(r.objects, 'Certificate', 'weft-destination').spec.issuerRef.name, 'weft-identity-issuer');
  assert.ok(find(r.objects, 'Secret', 'weft-injector-k8s-tls').stringData['tls.crt'].includes('BEGIN CERTIFICATE'));
});

test('what cannot come up is refused at render time, naming the values to set', () => {
  const anchors = ['--set-file', `identityTrustAnchorsPEM=${certs.anchor.certPath}`];
  const issuerPems = ['--set-file', `identity.issuer.tls.crtPEM=${certs.issuer.certPath},identity.issuer.tls.keyPEM=${certs.issuer.keyPath}`];
  const cases: [string, string[], RegExp][] = [
    ['no issuer and no cert-manager', anchors, /identity\.issuer\.tls\.crtPEM is required: .*--set-file identity\.issuer\.tls\.crtPEM=issuer\.crt.*certManager\.create=true/],
    ['an external issuer and no source for destination', [...anchors, '--set', 'identity.issuer.scheme=kubernetes.io/tls'], /destination's serving certificate: .*destination\.tls\.certManager=true/],
    ['a webhook Secret from outside with no CA', [...anchors, ...issuerPems, '--set', 'proxyInjector.externalSecret=true'], /the webhook CA is unknown; set proxyInjector\.injectCaFrom/],
    ['issuer PEMs and cert-manager both', [...anchors, ...issuerPems, '--set', 'certManager.create=true'], /both would write the Secret weft-identity-issuer/],
    ['a webhook certificate without its CA', [...anchors, ...issuerPems, '--set-file', `proxyInjector.tls.crtPEM=${certs.anchor.certPath},proxyInjector.tls.keyPEM=${certs.anchor.keyPath}`], /proxyInjector\.caBundle is required/],
  ];
  for (const [what, args, message] of cases) {
    const r = template(args);
    assert.notEqual(r.status, 0, `${what} must not render`);
    assert.match(r.stderr, message, what);
  }
});

