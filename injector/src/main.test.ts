import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { TestPki } from '@weft/common/testing/pki';
import { TESTDATA } from './testing/test-mesh.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

test('node injector/dist/main.js serves the webhook and admin ports and stops on SIGTERM', async (t) => {
  const pki = new TestPki();
  t.after(() => pki.dispose());
  const ca = pki.cert({ subject: '/CN=ca', ca: true });
  const leaf = pki.cert({ subject: '/CN=localhost', dns: ['localhost'], issuer: ca });
  // An API server that is not there: the namespace cache never syncs.
  const kubeconfig = pki.file(
    'kubeconfig',
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  const child = spawn(process.execPath, [
    MAIN,
    '--listen-addr', '127.0.0.1:0',
    '--admin-listen-addr=127.0.0.1:0',
    '--tls-cert-file', leaf.certPath,
    '--tls-key-file', leaf.keyPath,
    '--trust-anchors-file', `${TESTDATA}trust-anchors.pem`,
    '--kubeconfig', kubeconfig,
    '--kubernetes-version', 'v1.31.0',
    '--shutdown-drain', '10s',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  // pino logs JSON lines on stdout; the "injector serving" line names the ports.
  const ports = await new Promise<{ webhookPort: number; adminPort: number }>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (c: Buffer) => {
      buf += c;
      for (const line of buf.split('\n')) {
        if (line.includes('"injector serving"')) resolve(JSON.parse(line));
      }
    });
    void exited.then((code) => reject(new Error(`injector exited with ${code}`)));
  });

  const admin = await fetch(`http://127.0.0.1:${ports.adminPort}/ready`);
  assert.equal(admin.status, 503);
  assert.match(await admin.text(), /namespace cache not synced/);
  assert.equal((await fetch(`http://127.0.0.1:${ports.adminPort}/live`)).status, 200);

  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'shop', object: { metadata: {}, spec: { containers: [{ name: 'a' }] } } },
  });
  const reply = await new Promise<string>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: ports.webhookPort, servername: 'localhost', method: 'POST', path: '/inject', ca: ca.cert }, (res) => {
      let s = '';
      res.on('data', (c: Buffer) => (s += c));
      res.on('end', () => resolve(s));
    });
    req.on('error', reject);
    req.end(body);
  });
  const review = JSON.parse(reply);
  // Without the namespace's annotations the pod is refused, so its controller retries.
  assert.equal(review.response.uid, 'u1');
  assert.equal(review.response.allowed, false);
  assert.match(review.response.status.message, /cannot read namespace shop/);

  // SIGTERM: the webhook keeps answering through its drain, then the process exits.
  let logs = '';
  child.stdout.on('data', (c: Buffer) => (logs += c));
  child.kill('SIGTERM');
  await new Promise<void>((resolve) => {
    const check = (): void => void (/draining/.test(logs) ? resolve() : setTimeout(check, 50));
    check();
  });
  assert.equal((await fetch(`http://127.0.0.1:${ports.adminPort}/live`)).status, 200, 'still serving while draining');
  const again = await new Promise<number | undefined>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: ports.webhookPort, servername: 'localhost', method: 'POST', path: '/inject', ca: ca.cert }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(again, 200, 'the webhook answers a review while draining');
  assert.equal(await exited, 0);
  assert.match(logs, /"drainMs":10000/);
});
