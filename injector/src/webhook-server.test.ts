import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { copyFileSync } from 'node:fs';
import jsonpatch from 'fast-json-patch';
import { TestPki, type CertAndKey } from '@weft/common/testing/pki';
import { createLogger } from '@weft/common/log';
import { startWebhookServer, type WebhookServer } from './webhook-server.js';
import { inject } from './inject.js';
import { owningWorkload } from './workload.js';
import { testMesh } from './testing/test-mesh.js';
import { review, wirePod } from './testing/admission-review.js';

const mesh = testMesh();
const namespaces: Record<string, Record<string, string>> = {
  meshed: { 'weft.io/inject': 'enabled', 'config.weft.io/proxy-log-level': 'debug' },
  plain: {},
};
let pki: TestPki;
let ca: CertAndKey;
let certFile: string;
let keyFile: string;
let server: WebhookServer;
let ready: string | undefined = 'namespace cache not synced yet';

before(async () => {
  pki = new TestPki();
  ca = pki.cert({ subject: '/CN=webhook-ca', ca: true });
  const leaf = pki.cert({ subject: '/CN=weft-injector.weft.svc', dns: ['localhost', 'weft-injector.weft.svc'], issuer: ca });
  certFile = pki.file('tls.crt', leaf.cert);
  keyFile = pki.file('tls.key', leaf.key);
  server = await startWebhookServer({
    host: '127.0.0.1',
    port: 0,
    certFile,
    keyFile,
    certPollMs: 100,
    admission: {
      mesh: () => mesh,
      async namespaceAnnotations(ns) {
        const a = namespaces[ns];
        if (!a) throw new Error(`namespaces "${ns}" not found`);
        return a;
      },
    },
    notReadyReason: () => ready,
    log: createLogger('injector-test', 'silent'),
  });
});

after(async () => {
  await server?.close();
  pki?.dispose();
});

interface Reply {
  status: number;
  body: string;
}

function request(method: string, path: string, body?: string, caPem = ca.cert): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: server.port, servername: 'localhost', method, path, ca: caPem, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('/ready reports the reason until the webhook can serve', async () => {
  ready = 'namespace cache not synced yet';
  const notYet = await request('GET', '/ready');
  assert.equal(notYet.status, 503);
  assert.match(notYet.body, /namespace cache not synced/);
  ready = undefined;
  assert.equal((await request('GET', '/ready')).status, 200);
});

test('a Pod in an annotated namespace gets a JSON Patch equal to the library output', async () => {
  const pod = wirePod();
  const res = await request('POST', '/inject', review(pod, 'meshed'));
  assert.equal(res.status, 200);
  const out = JSON.parse(res.body);
  assert.equal(out.apiVersion, 'admission.k8s.io/v1');
  assert.equal(out.kind, 'AdmissionReview');
  assert.equal(out.response.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
  assert.equal(out.response.allowed, true);
  assert.equal(out.response.patchType, 'JSONPatch');
  const patch = JSON.parse(Buffer.from(out.response.patch, 'base64').toString()) as jsonpatch.Operation[];
  const patched = jsonpatch.applyPatch(structuredClone(pod), patch, true, false).newDocument;
  const expected = inject(pod, mesh, { namespace: 'meshed', namespaceAnnotations: namespaces.meshed, workload: owningWorkload(pod) }).pod;
  assert.deepEqual(patched, expected);
  const proxy = patched.spec!.initContainers!.find((c) => c.name === 'weft-proxy')!;
  assert.equal(proxy.env!.find((e) => e.name === 'WEFT_PROXY_LOG_LEVEL')!.value, 'debug');
  assert.equal(proxy.env!.find((e) => e.name === 'WEFT_PROXY_WORKLOAD_NAME')!.value, 'web');
});

test('override warnings come back in the AdmissionResponse and the pod is still patched', async () => {
  const pod = wirePod();
  pod.metadata!.annotations!['config.weft.io/proxy-memory-limit'] = 'plenty';
  pod.metadata!.annotations!['config.weft.io/no-such-key'] = '1';
  const out = JSON.parse((await request('POST', '/inject', review(pod, 'meshed'))).body);
  assert.equal(out.response.allowed, true);
  assert.ok(out.response.patch);
  assert.equal(out.response.warnings.length, 2);
  assert.match(out.response.warnings[0], /^weft: pod annotation config\.weft\.io\/proxy-memory-limit="plenty"/);
  assert.match(out.response.warnings[1], /no-such-key is not a weft override/);
});

test('config.weft.io/proxy-image is refused with an admission warning: the patch keeps the configured image for weft-init and weft-proxy', async () => {
  const pod = wirePod();
  pod.metadata!.annotations!['config.weft.io/proxy-image'] = 'attacker.example.com/proxy';
  const out = JSON.parse((await request('POST', '/inject', review(pod, 'meshed'))).body);
  assert.equal(out.response.allowed, true);
  assert.equal(out.response.warnings.length, 1);
  assert.match(out.response.warnings[0], /^weft: pod annotation config\.weft\.io\/proxy-image="attacker\.example\.com\/proxy" is refused: the injector does not allow image overrides/);
  const patch = JSON.parse(Buffer.from(out.response.patch, 'base64').toString()) as jsonpatch.Operation[];
  const patched = jsonpatch.applyPatch(structuredClone(pod), patch, true, false).newDocument;
  const images = patched.spec!.initContainers!.filter((c) => c.name.startsWith('weft-')).map((c) => `${c.name}=${c.image}`);
  assert.deepEqual(images, [`weft-init=${mesh.proxy.image}:${mesh.proxy.version}`, `weft-proxy=${mesh.proxy.image}:${mesh.proxy.version}`]);
});

test('a Pod in an unannotated namespace is admitted without a patch', async () => {
  const out = JSON.parse((await request('POST', '/inject', review(wirePod(), 'plain'))).body);
  assert.equal(out.response.allowed, true);
  assert.equal(out.response.patch, undefined);
});

test('a namespace that cannot be read refuses the pod so its controller retries', async () => {
  const out = JSON.parse((await request('POST', '/inject', review(wirePod(), 'gone'))).body);
  assert.equal(out.response.allowed, false);
  assert.equal(out.response.status.code, 503);
  assert.match(out.response.status.message, /cannot read namespace gone/);
});

test('malformed bodies get 400 with a clear message and the server stays up', async () => {
  const cases: Array<[string, RegExp]> = [
    ['{not json', /malformed AdmissionReview: body is not JSON/],
    ['[]', /body is not a JSON object/],
    [JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} }), /apiVersion is "admission\.k8s\.io\/v1beta1"/],
    [JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), /request is missing/],
    [review(wirePod(), 'meshed', { uid: undefined }), /request\.uid is missing/],
    [review('a string, not a pod', 'meshed'), /request\.object is not a Pod/],
  ];
  for (const [body, message] of cases) {
    const res = await request('POST', '/inject', body);
    assert.equal(res.status, 400, body);
    assert.match(res.body, message);
  }
  assert.equal((await request('GET', '/inject')).status, 405);
  // Garbage instead of a TLS handshake.
  await new Promise<void>((resolve) => {
    const s = net.connect(server.port, '127.0.0.1', () => s.end('GET / HTTP/1.1\r\n\r\n\x00\xff'));
    s.on('close', () => resolve());
    s.on('error', () => resolve());
  });
  const still = await request('POST', '/inject', review(wirePod(), 'meshed'));
  assert.equal(still.status, 200);
});

test('a rotated certificate is served without a restart', async () => {
  const ca2 = pki.cert({ subject: '/CN=webhook-ca-2', ca: true });
  const leaf2 = pki.cert({ subject: '/CN=weft-injector.weft.svc', dns: ['localhost'], issuer: ca2 });
  // cert-manager writes both files; the server must pick up the new pair.
  copyFileSync(leaf2.keyPath, keyFile);
  copyFileSync(leaf2.certPath, certFile);
  const servedIssuer = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: server.port, servername: 'localhost', rejectUnauthorized: false }, () => {
        const issuer = s.getPeerCertificate().issuer.CN;
        s.end();
        resolve(String(issuer));
      });
      s.on('error', reject);
    });
  const deadline = Date.now() + 30_000; // safety net only; normally a few hundred ms
  while ((await servedIssuer()) !== 'webhook-ca-2') {
    assert.ok(Date.now() < deadline, 'the new certificate was never served');
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal((await request('GET', '/ready', undefined, ca2.cert)).status, 200);
});

/** A webhook server of its own (its own certificate file), admitting every namespace as meshed. */
async function ownServer(name: string): Promise<WebhookServer> {
  const leaf = pki.cert({ subject: '/CN=weft-injector.weft.svc', dns: ['localhost'], issuer: ca });
  return startWebhookServer({
    host: '127.0.0.1',
    port: 0,
    certFile: pki.file(`${name}.crt`, leaf.cert),
    keyFile: pki.file(`${name}.key`, leaf.key),
    certPollMs: 100,
    admission: { mesh: () => mesh, namespaceAnnotations: async () => namespaces.meshed! },
    notReadyReason: () => undefined,
    log: createLogger('injector-test', 'silent'),
  });
}

interface KeptAliveReply {
  status: number;
  connection: string | undefined;
  reused: boolean;
  socket: net.Socket;
}

/** One review POSTed through `agent` (kept-alive, as the API server's webhook client is). */
function postReview(agent: https.Agent, port: number): Promise<KeptAliveReply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, servername: 'localhost', method: 'POST', path: '/inject', ca: ca.cert, agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, reused: req.reusedSocket, socket: req.socket! }));
      },
    );
    req.on('error', reject);
    req.end(review(wirePod(), 'meshed'));
  });
}

test('after drain() each answer closes its connection and idle ones close at once, so the API server dials a live pod', { timeout: 30_000 }, async () => {
  const drained = await ownServer('drain');
  // A kept-alive client, as the API server's webhook client is.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const post = (): Promise<KeptAliveReply> => postReview(agent, drained.port);
  try {
    const first = await post();
    const second = await post();
    assert.equal(first.status, 200);
    assert.equal(first.connection, 'keep-alive');
    assert.ok(second.reused, 'before drain() the connection is reused');
    const idleClosed = new Promise<void>((resolve) => (second.socket.destroyed ? resolve() : second.socket.once('close', () => resolve())));
    drained.drain();
    await idleClosed;
    const during = await post();
    assert.equal(during.status, 200, 'still answering while draining');
    assert.equal(during.connection, 'close');
    assert.equal(during.reused, false, 'the idle connection was closed by drain()');
    const next = await post();
    assert.equal(next.status, 200);
    assert.equal(next.reused, false, 'each answer while draining closed its connection');
  } finally {
    agent.destroy();
    await drained.close();
  }
});

test('an idle kept-alive connection outlives Node\'s 5 s default, so the API server\'s next review never meets a closing socket', { timeout: 30_000 }, async () => {
  // The API server keeps an idle webhook connection up to 90 s and sends its next review on it; a server that closed
  // it first made that review fail with "connection reset by peer", and the pod was admitted without its proxy.
  const kept = await ownServer('idle');
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const post = (): Promise<KeptAliveReply> => postReview(agent, kept.port);
  try {
    assert.equal((await post()).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const later = await post();
    assert.equal(later.status, 200);
    assert.ok(later.reused, 'the review after 6 s idle went on the same connection: the server had not closed it');
  } finally {
    agent.destroy();
    await kept.close();
  }
});
