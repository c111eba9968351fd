// viz's entry point: configuration from the environment, checked at start-up
// with every problem named; a good configuration serves all three listeners.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TestPki } from '@weft/common/testing/pki';
import { workloadOf } from './kubernetes-targets.js';
import { startViz } from './testing/viz-process.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const pki = new TestPki();
after(() => pki.dispose());

test('a bad environment stops viz with every problem named', () => {
  const r = spawnSync(process.execPath, [MAIN], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, WEFT_VIZ_API_LISTEN_ADDR: 'nowhere', WEFT_VIZ_LOG_LEVEL: 'loud' },
    timeout: 30_000,
  });
  assert.equal(r.status, 1);
  for (const v of ['WEFT_VIZ_LOG_LEVEL="loud"', 'WEFT_VIZ_TRUST_ANCHORS_FILE is required', 'WEFT_VIZ_TAP_CERT_FILE is required', 'WEFT_VIZ_TAP_KEY_FILE is required']) assert.ok(r.stderr.includes(v), `expected "${v}" in:\n${r.stderr}`);
});

test('a bad allowed host, namespace or Service name stops viz naming the variable', () => {
  const anchor = pki.cert({ subject: '/CN=root', ca: true });
  const r = spawnSync(process.execPath, [MAIN], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      WEFT_VIZ_PROXIES_FILE: pki.file('empty.yaml', 'proxies: []\n'),
      WEFT_VIZ_TRUST_ANCHORS_FILE: anchor.certPath,
      WEFT_VIZ_TAP_CERT_FILE: anchor.certPath,
      WEFT_VIZ_TAP_KEY_FILE: anchor.keyPath,
      WEFT_VIZ_ALLOWED_HOSTS: 'viz.example.com, https://evil.example',
      WEFT_VIZ_NAMESPACE: 'Not_A_Namespace',
      WEFT_VIZ_SERVICE_NAMES: 'weft-web,web_ui',
    },
    timeout: 30_000,
  });
  assert.equal(r.status, 1);
  for (const v of ['WEFT_VIZ_ALLOWED_HOSTS: allowed host "https://evil.example"', 'WEFT_VIZ_NAMESPACE: "Not_A_Namespace"', 'WEFT_VIZ_SERVICE_NAMES: "web_ui"']) assert.ok(r.stderr.includes(v), `expected "${v}" in:\n${r.stderr}`);
});

// fetch() may not set Host: a browser on a rebound name sends that name.
function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

test('viz starts from its environment with a proxy list file and serves API, tap and dashboard', async (t) => {
  const anchor = pki.cert({ subject: '/CN=root', ca: true });
  const leaf = pki.cert({ subject: '/CN=viz', issuer: anchor, dns: ['viz.weft-viz.serviceaccount.identity.weft.cluster.local'] });
  const proxies = pki.file('proxies.yaml', 'proxies:\n  - {name: web-1, namespace: shop, workload: deploy/web, adminAddr: "127.0.0.1:9", tapAddr: "127.0.0.1:9", identity: web.shop.serviceaccount.identity.weft.cluster.local}\n');
  const token = pki.file('token', 's3cret\n');
  const started = await startViz(t, {
    WEFT_VIZ_PROXIES_FILE: proxies,
    WEFT_VIZ_TRUST_ANCHORS_FILE: anchor.certPath,
    WEFT_VIZ_TAP_CERT_FILE: leaf.certPath,
    WEFT_VIZ_TAP_KEY_FILE: leaf.keyPath,
    WEFT_VIZ_TAP_AUTH: 'token',
    WEFT_VIZ_TAP_TOKEN_FILE: token,
    WEFT_VIZ_NAMESPACE: 'mesh-obs',
    WEFT_VIZ_ALLOWED_HOSTS: 'viz.example.com',
  });
  const proxiesRes = (await (await fetch(`${started.api}/api/v1/proxies?namespace=shop`)).json()) as { proxies: Array<{ name: string }> };
  assert.deepEqual(proxiesRes.proxies.map((p) => p.name), ['web-1']);
  assert.equal((await fetch(`${started.tap}/api/v1/tap?resource=deploy/web&namespace=shop`)).status, 401);
  assert.match(await (await fetch(`${started.web}/`)).text(), /<title>weft viz<\/title>/);
  // Host names: the Services in WEFT_VIZ_NAMESPACE and WEFT_VIZ_ALLOWED_HOSTS are served, other names are not.
  for (const [host, status] of [['weft-web.mesh-obs.svc:8084', 200], ['weft-metrics-api.mesh-obs.svc.cluster.local', 200], ['viz.example.com', 200], ['weft-web.weft-viz.svc', 403], ['evil.example', 403]] as const) {
    assert.equal(await statusWithHost(`${started.web}/`, host), status, host);
    assert.equal(await statusWithHost(`${started.api}/api/v1/proxies`, host), status, host);
  }
  assert.equal((await fetch(`${started.web}/../../package.json`)).status, 404);
  writeFileSync(proxies, 'proxies: [broken');
  const broken = await fetch(`${started.api}/api/v1/proxies`);
  assert.equal(broken.status, 400);
  assert.match(((await broken.json()) as { error: { message: string } }).error.message, /is not valid JSON\/YAML/);
  started.child.kill('SIGTERM');
});

test('a pod\'s workload is its controller: a ReplicaSet\'s Deployment, a StatefulSet, a DaemonSet', () => {
  const pod = (kind: string, name: string) => ({ metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind, name, uid: 'u', controller: true }] } });
  assert.deepEqual(workloadOf(pod('ReplicaSet', 'web-7d4b9c5f8')), { kind: 'deployment', name: 'web' });
  assert.deepEqual(workloadOf(pod('StatefulSet', 'db')), { kind: 'statefulset', name: 'db' });
  assert.deepEqual(workloadOf(pod('DaemonSet', 'agent')), { kind: 'daemonset', name: 'agent' });
  assert.equal(workloadOf(pod('Job', 'once')), undefined);
  assert.equal(workloadOf({ metadata: {} }), undefined);
});
