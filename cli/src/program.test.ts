// The `weft` binary end to end for the verbs that need no mesh: version,
// check against an unreachable API server (and a real one when
// WEFT_E2E_KUBECONFIG is set), install through the chart synthesis.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI_VERSION } from './version.js';

const WEFT = fileURLToPath(new URL('../bin/weft.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'weft-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function weft(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [WEFT, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// A kubeconfig whose API server refuses connections (port 9 on loopback: discard, never served here).
const deadKubeconfig = join(dir, 'dead.kubeconfig');
writeFileSync(
  deadKubeconfig,
  `apiVersion: v1
kind: Config
clusters: [{name: dead, cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: dead, context: {cluster: dead, user: u, namespace: shop}}]
current-context: dead
`,
);

test('--version and version --client print the client version', () => {
  assert.deepEqual([weft(['--version']).stdout.trim(), weft(['--version']).code], [CLI_VERSION, 0]);
  const v = weft(['version', '--client', '-o', 'json']);
  assert.equal(v.code, 0);
  assert.deepEqual(JSON.parse(v.stdout), { client: CLI_VERSION });
});

test('check against an unreachable API server fails with exit code 1 and names the fix', () => {
  const r = weft(['check', '--kubeconfig', deadKubeconfig]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /× can query the Kubernetes API/);
  assert.match(r.stdout, /fix: check --kubeconfig/);
  const json = weft(['check', '--kubeconfig', deadKubeconfig, '-o', 'json']);
  assert.equal(json.code, 1);
  assert.equal((JSON.parse(json.stdout) as { ok: boolean }).ok, false);
});

test('check --local without a running viz fails with exit code 1 and names the fix', () => {
  const r = weft(['check', '--local', '--api-addr', 'http://127.0.0.1:9']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /× viz metrics-api answers\n\s+cannot reach viz at http:\/\/127\.0\.0\.1:9/);
  assert.match(r.stdout, /fix: start the demo/);
});

test('viz verbs without an address and without a local viz port-forward through the kubeconfig', async (t) => {
  const net = await import('node:net');
  const local = await new Promise<boolean>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: 8085 }, () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
  if (local) return t.skip('something listens on 127.0.0.1:8085 (a local demo?): the port-forward path is not taken');
  const env = { WEFT_VIZ_API_ADDR: undefined, WEFT_VIZ_TAP_ADDR: undefined, WEFT_VIZ_WEB_ADDR: undefined };
  const r = weft(['viz', 'stat', 'deploy', '--kubeconfig', deadKubeconfig], env);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /viz is not on 127\.0\.0\.1:8085 and listing viz pods in weft-viz failed/);
});

test('version reports an unreachable control plane with exit code 3', () => {
  const r = weft(['version', '--kubeconfig', deadKubeconfig]);
  assert.equal(r.code, 3);
  assert.match(r.stdout, /Client version: .*\nControl plane version: unavailable/);
});

test('install renders the CRDs chart through the cdk8s synthesis, and rejects broken values', () => {
  const r = weft(['install', '--chart', 'crds']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /kind: CustomResourceDefinition/);
  assert.match(r.stdout, /name: serviceprofiles\.weft\.io/);
  const bad = join(dir, 'bad-values.yaml');
  writeFileSync(bad, 'identity: [unclosed\n');
  const b = weft(['install', '-f', bad]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /is not valid YAML/);
  const missing = weft(['install']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /identityTrustAnchorsPEM is required/);
});

test('unknown flags and bad output formats are usage errors (exit 2)', () => {
  assert.equal(weft(['viz', 'stat', 'deploy', '--bogus']).code, 2);
  const o = weft(['version', '--client', '-o', 'xml']);
  assert.equal(o.code, 2);
  assert.match(o.stderr, /Allowed choices are table, wide, json, yaml/);
});

test('check against the e2e cluster when WEFT_E2E_KUBECONFIG is set', (t) => {
  const kubeconfig = process.env.WEFT_E2E_KUBECONFIG;
  if (!kubeconfig) return t.skip('WEFT_E2E_KUBECONFIG is not set: no real API server to check against');
  const r = weft(['check', '--kubeconfig', kubeconfig, '-o', 'json']);
  const results = (JSON.parse(r.stdout) as { results: Array<{ description: string; status: string; message?: string }> }).results;
  assert.equal(results.find((x) => x.description === 'can query the Kubernetes API')?.status, 'ok', r.stdout);
  // Whatever is installed, each non-passing check says why.
  for (const x of results) if (x.status !== 'ok') assert.ok(x.message, JSON.stringify(x));
  assert.equal(r.code, results.some((x) => x.status === 'fail') ? 1 : 0);
});

test('check reads real trust roots, issuer and webhook objects from the e2e API server', async (t) => {
  const kubeconfig = process.env.WEFT_E2E_KUBECONFIG;
  if (!kubeconfig) return t.skip('WEFT_E2E_KUBECONFIG is not set: no real API server to create weft objects in');
  const { TestPki } = await import('@weft/common/testing/pki');
  const { k8s, loadKubeConfig } = await import('@weft/common/k8s/client');
  const pki = new TestPki();
  const kc = loadKubeConfig({ kubeconfig });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  const ns = 'weft-check-e2e';
  t.after(async () => {
    pki.dispose();
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
    await admission.deleteMutatingWebhookConfiguration({ name: 'weft-proxy-injector-webhook-config' }).catch(() => undefined);
  });
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true, days: 3650 });
  const issuer = pki.cert({ subject: '/CN=issuer.weft', ca: true, issuer: anchor, days: 30 });
  const webhookCa = pki.cert({ subject: '/CN=webhook-ca', ca: true });
  const serving = pki.cert({ subject: '/CN=weft-injector.weft.svc', issuer: webhookCa, dns: [`weft-injector.${ns}.svc`] });
  const otherCa = pki.cert({ subject: '/CN=other-ca', ca: true });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'weft-identity-trust-roots' }, data: { 'ca-bundle.crt': anchor.cert } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'weft-identity-issuer' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(issuer.cert), 'tls.key': b64(issuer.key), 'ca.crt': b64(anchor.cert) } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'weft-injector-k8s-tls' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(serving.cert), 'tls.key': b64(serving.key) } } });
  const webhook = (ca: string) => ({
    metadata: { name: 'weft-proxy-injector-webhook-config' },
    webhooks: [{
      name: 'weft-proxy-injector.weft.io', admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Ignore',
      // Matches no namespace: this test must not intercept anyone's pods.
      namespaceSelector: { matchLabels: { 'weft-check-e2e': 'never' } },
      clientConfig: { service: { name: 'weft-injector', namespace: ns, path: '/inject' }, caBundle: b64(ca) },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    }],
  });
  await admission.createMutatingWebhookConfiguration({ body: webhook(webhookCa.cert) });
  type Result = { description: string; status: string; message?: string };
  const run = () => {
    const r = weft(['check', '--kubeconfig', kubeconfig, '--weft-namespace', ns, '-o', 'json']);
    return { code: r.code, results: (JSON.parse(r.stdout) as { results: Result[] }).results };
  };
  const good = run();
  const status = (rs: Result[], d: RegExp) => rs.find((x) => d.test(x.description))?.status;
  assert.equal(status(good.results, /trust anchors are valid/), 'ok');
  assert.equal(status(good.results, /issuer certificate is signed by a trust anchor/), 'ok');
  assert.equal(status(good.results, /issuer certificate is a valid CA/), 'warn', 'the 30-day issuer is within 60 days of expiry');
  assert.equal(status(good.results, /webhook CA bundle matches/), 'ok');
  // No control plane Deployments in this namespace: that is a failure.
  assert.equal(status(good.results, /weft-identity is running/), 'fail');
  assert.equal(good.code, 1);
  await admission.deleteMutatingWebhookConfiguration({ name: 'weft-proxy-injector-webhook-config' });
  await admission.createMutatingWebhookConfiguration({ body: webhook(otherCa.cert) });
  const bad = run();
  assert.equal(status(bad.results, /webhook CA bundle matches/), 'fail');
});
