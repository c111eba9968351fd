// `node identity/dist/main.js` as a real process: configured from the
// environment, issuer from files, TokenReviews against a (fake) API server;
// /ready flips once the issuer is loaded and back when it expires, Certify
// works, SIGTERM stops it; start-up problems exit 1 naming the problem.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TestPki } from '@weft/common/testing/pki';
import { certify } from './client.js';
import { generateLocalCa } from './local-ca.js';
import { POD_NAME_EXTRA } from './kubernetes-token-validator.js';
import { FakeApiServer } from './testing/fake-apiserver.js';
import { waitFor } from '@weft/common/poll';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const pki = new TestPki();
const children: ChildProcess[] = [];
const apis: FakeApiServer[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await Promise.all(apis.map((a) => a.close()));
  pki.dispose();
});

interface Running {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

function run(env: Record<string, string>): Running {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let text = '';
  const lines: Record<string, unknown>[] = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const l of parts) if (l.startsWith('{')) lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, output: () => text, exited };
}

async function fakeApi(allowTokenReviews = true): Promise<{ api: FakeApiServer; kubeconfig: string }> {
  const api = await new FakeApiServer().start();
  apis.push(api);
  if (allowTokenReviews) api.allowed.add('create authentication.k8s.io/tokenreviews');
  api.tokenReview = (spec) => ({
    status: 201,
    body: {
      status:
        spec.token === 'web-token'
          ? {
              authenticated: true,
              audiences: spec.audiences,
              user: { username: 'system:serviceaccount:demo:web', extra: { [POD_NAME_EXTRA]: ['web-0'] } },
            }
          : { authenticated: false, error: 'invalid bearer token' },
    },
  });
  return { api, kubeconfig: pki.file(`kubeconfig-${apis.length}.json`, api.kubeConfig.exportConfig()) };
}

function fileEnv(kubeconfig: string, issuer: { certPath: string; keyPath: string }, anchorPath: string): Record<string, string> {
  return {
    WEFT_IDENTITY_ISSUER_SOURCE: 'files',
    WEFT_IDENTITY_ISSUER_CERT_FILE: issuer.certPath,
    WEFT_IDENTITY_ISSUER_KEY_FILE: issuer.keyPath,
    WEFT_IDENTITY_TRUST_ANCHORS_FILE: anchorPath,
    WEFT_IDENTITY_KUBECONFIG: kubeconfig,
    WEFT_IDENTITY_LISTEN_ADDR: '127.0.0.1:0',
    WEFT_IDENTITY_ADMIN_LISTEN_ADDR: '127.0.0.1:0',
  };
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

test('the identity process becomes ready once its issuer is loaded, certifies, counts, and stops on SIGTERM', async () => {
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
  const issuer = pki.cert({ subject: '/CN=issuer', ca: true, issuer: anchor });
  const { api, kubeconfig } = await fakeApi();
  let release!: () => void;
  api.accessReviewGate = new Promise((resolve) => (release = resolve));
  const p = run(fileEnv(kubeconfig, issuer, anchor.certPath));
  await waitFor('the admin server', () => p.lines.some((l) => l['msg'] === 'admin listening') || p.child.exitCode !== null);
  const adminPort = p.lines.find((l) => l['msg'] === 'admin listening')?.['port'] as number;
  assert.ok(adminPort, p.output());
  const early = await get(adminPort, '/ready');
  assert.equal(early.status, 503);
  assert.match(early.body, /no issuer loaded yet/);
  release();
  await waitFor('/ready', async () => (await get(adminPort, '/ready')).status === 200);
  await waitFor('the Certify port in the log', () => p.lines.some((l) => l['msg'] === 'identity serving Certify'));
  const grpcPort = p.lines.find((l) => l['msg'] === 'identity serving Certify')?.['port'] as number;
  const creds = await certify({
    addr: `127.0.0.1:${grpcPort}`,
    serverName: 'weft-identity.weft.serviceaccount.identity.weft.cluster.local',
    trustAnchorsPem: anchor.cert,
    tokenFile: pki.file('web-token', 'web-token\n'),
    identity: 'web.demo.serviceaccount.identity.weft.cluster.local',
  });
  assert.match(
    pki.verify(pki.file('main-leaf.pem', creds.certPem), anchor.certPath, pki.file('main-chain.pem', creds.chainPem), 'sslclient'),
    /: OK/,
  );
  await assert.rejects(
    certify({
      addr: `127.0.0.1:${grpcPort}`,
      serverName: 'weft-identity.weft.serviceaccount.identity.weft.cluster.local',
      trustAnchorsPem: anchor.cert,
      tokenFile: pki.file('forged', 'forged'),
      identity: 'web.demo.serviceaccount.identity.weft.cluster.local',
    }),
    /invalid bearer token/,
  );
  const metrics = (await get(adminPort, '/metrics')).body;
  assert.match(metrics, /weft_identity_certify_total\{result="ok",component="identity"\} 1/);
  assert.match(metrics, /weft_identity_certify_total\{result="unauthenticated",component="identity"\} 1/);
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0);
});

test('the identity process stops being ready when its issuer expires, naming it', async () => {
  // An issuer that lives 10 s: long enough to start, short enough to watch it expire.
  const ca = await generateLocalCa({ lifetimeMs: 20_000 });
  const issuer = { certPath: pki.file('short-tls.crt', ca.issuer.certPem), keyPath: pki.file('short-tls.key', ca.issuer.keyPem) };
  const { kubeconfig } = await fakeApi();
  const p = run(fileEnv(kubeconfig, issuer, pki.file('short-anchor.pem', ca.anchorPem)));
  await waitFor('the admin server', () => p.lines.some((l) => l['msg'] === 'admin listening') || p.child.exitCode !== null);
  const adminPort = p.lines.find((l) => l['msg'] === 'admin listening')?.['port'] as number;
  assert.ok(adminPort, p.output());
  await waitFor('/ready', async () => (await get(adminPort, '/ready')).status === 200 || p.child.exitCode !== null);
  assert.equal((await get(adminPort, '/ready')).status, 200, p.output());
  await waitFor('/ready to turn 503 once the issuer expired', async () => (await get(adminPort, '/ready')).status === 503);
  assert.match(
    (await get(adminPort, '/ready')).body,
    /^not ready: issuer certificate "CN=identity\.weft\.cluster\.local, O=weft local demo" expired at /,
  );
  assert.equal((await get(adminPort, '/live')).status, 200);
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0);
});

test('the identity process exits 1 naming the problem: bad issuer, missing RBAC, bad configuration', async () => {
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
  const notCa = pki.cert({ subject: '/CN=not-a-ca', issuer: anchor });
  const { kubeconfig } = await fakeApi();
  const issuer = pki.cert({ subject: '/CN=issuer', ca: true, issuer: anchor });
  const deniedKubeconfig = (await fakeApi(false)).kubeconfig;
  // Three processes at once: each start-up is mostly module loading.
  const bad = run(fileEnv(kubeconfig, notCa, anchor.certPath));
  const denied = run(fileEnv(deniedKubeconfig, issuer, anchor.certPath));
  const misconfigured = run({
    ...fileEnv(kubeconfig, issuer, anchor.certPath),
    WEFT_IDENTITY_ISSUANCE_LIFETIME: 'forever',
    WEFT_IDENTITY_ISSUER_KEY_FILE: '',
  });
  assert.equal(await bad.exited, 1);
  assert.match(bad.output(), /identity cannot start: issuer certificate \\"CN=not-a-ca\\" is not a CA/);
  assert.equal(await denied.exited, 1);
  assert.match(denied.output(), /lacks Kubernetes permissions.*create tokenreviews\.authentication\.k8s\.io/s);
  assert.equal(await misconfigured.exited, 1);
  assert.match(misconfigured.output(), /WEFT_IDENTITY_ISSUANCE_LIFETIME: "forever" is not a duration/);
});
