/**
 * The mesh for real, on one machine (issue 4 "Must show"): network-namespace
 * pods on a bridge, real iptables from weft-init, a weft proxy process per pod
 * running as UID 2102, the real identity service (in this process, on the
 * bridge) and the real destination service (its own pod, local file source).
 *
 *   client ──curl / gRPC / TCP──▶ [iptables → proxy 4140] ══mTLS══▶ [proxy 4143] ──▶ web | grpc apps
 *   outsider (no proxy) ──plaintext──▶ web
 *
 * Root only (namespaces, iptables); otherwise skipped with the reason.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { createLogger } from '@weft/common/log';
import { UnauthenticatedError } from '@weft/common/errors';
import { startIdentityService, generateLocalCa, certify, MemorySource, type IdentityService, type TokenValidator, type ServiceAccountToken } from '@weft/identity';
import { PodNetwork, netnsUnavailable, waitFor, type Pod, type PodProcess } from './testing/netns.js';
import { nativeAddonProblem } from './native/original-dst.js';
import { metricValue } from './testing/mesh.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const PROXY_MAIN = here('./main.js');
const INIT_MAIN = here('./init/main.js');
const APPS = here('./testing/netns-apps.js');
const DESTINATION_MAIN = fileURLToPath(new URL('../../destination/dist/main.js', import.meta.url));
const NODE = process.execPath;
const PROXY_UID = 2102;

const skip = (await netnsUnavailable()) ?? nativeAddonProblem()?.message;

const DOMAIN = 'cluster.local';
const idName = (sa: string, ns = 'demo'): string => `${sa}.${ns}.serviceaccount.identity.weft.${DOMAIN}`;
const CLIENT_ID = idName('client');
const WEB_ID = idName('web');
const GRPC_ID = idName('grpc');
const DESTINATION_ID = idName('weft-destination', 'weft');

/** Tokens the test decides are valid, so it can hold one pod's certificate back. */
class Tokens implements TokenValidator {
  private readonly valid = new Map<string, ServiceAccountToken>();
  allow(token: string, account: ServiceAccountToken): void {
    this.valid.set(token, account);
  }
  async validate(token: string): Promise<ServiceAccountToken> {
    const account = this.valid.get(token.trim());
    if (!account) throw new UnauthenticatedError('token not (yet) valid');
    return account;
  }
}

let network: PodNetwork | undefined;
let identity: IdentityService;
let tokens: Tokens;
let dir: string;
let client: Pod, web: Pod, grpcPod: Pod, outsider: Pod, control: Pod;
const proxies = new Map<string, PodProcess>();
const vip = { web: '', grpc: '', echo: '' };

async function listening(pod: Pod, port: number): Promise<boolean> {
  return (await pod.run(['ss', '-Hltn', `sport = :${port}`])).stdout.trim() !== '';
}

async function waitListening(pod: Pod, port: number, proc?: PodProcess): Promise<void> {
  await waitFor(`${pod.name}:${port} listening${proc ? ` (${proc.name})` : ''}`, async () => {
    if (proc && proc.child.exitCode !== null) throw new Error(`${proc.name} exited: ${proc.output()}`);
    return listening(pod, port);
  }, 60_000);
}

function tokenFile(name: string, account: ServiceAccountToken | undefined): string {
  const token = `token-${name}-${Math.random().toString(36).slice(2)}`;
  const path = join(dir, `${name}.token`);
  writeFileSync(path, token, { mode: 0o644 });
  if (account) tokens.allow(token, account);
  return token;
}

function startProxy(pod: Pod, sa: string): PodProcess {
  const env = {
    PATH: process.env.PATH,
    WEFT_PROXY_LOG_LEVEL: 'warn',
    WEFT_PROXY_IDENTITY_SVC_ADDR: `${network!.gateway}:${identity.port}`,
    WEFT_PROXY_IDENTITY_SVC_NAME: identity.serverName,
    WEFT_PROXY_DESTINATION_SVC_ADDR: `${control.ip}:8086`,
    WEFT_PROXY_DESTINATION_SVC_NAME: DESTINATION_ID,
    WEFT_PROXY_POLICY_SVC_ADDR: `${control.ip}:8090`,
    WEFT_PROXY_IDENTITY_LOCAL_NAME: idName(sa),
    WEFT_PROXY_IDENTITY_TOKEN_FILE: join(dir, `${pod.name}.token`),
    WEFT_PROXY_IDENTITY_TRUST_ANCHORS: identity.trustAnchorsPem(),
    WEFT_PROXY_DESTINATION_CONTEXT: JSON.stringify({ ns: 'demo', pod: pod.name }),
    WEFT_PROXY_POD_NAMESPACE: 'demo',
    WEFT_PROXY_POD_NAME: pod.name,
    WEFT_PROXY_WORKLOAD_KIND: 'deployment',
    WEFT_PROXY_WORKLOAD_NAME: sa,
    WEFT_PROXY_OPAQUE_PORTS: '7000',
  };
  const proc = pod.spawn(`proxy-${pod.name}`, [NODE, PROXY_MAIN], { uid: PROXY_UID, env });
  proxies.set(pod.name, proc);
  return proc;
}

async function weftInit(pod: Pod): Promise<void> {
  const r = await pod.run([NODE, INIT_MAIN, '--incoming-proxy-port', '4143', '--outgoing-proxy-port', '4140', '--proxy-uid', String(PROXY_UID), '--inbound-ports-to-ignore', '4190,4191']);
  assert.equal(r.code, 0, `weft-init in ${pod.name}: ${r.stderr}`);
}

async function admin(pod: Pod, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${pod.ip}:4191${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

before(async () => {
  if (skip) return;
  // destination is another workspace; `npx tsc -b` (npm test) builds it, `tsc -b proxy` alone does not.
  if (!existsSync(DESTINATION_MAIN)) throw new Error(`${DESTINATION_MAIN} is missing: run \`npx tsc -b\` first`);
  dir = mkdtempSync(join(tmpdir(), 'weft-netns-mesh-'));
  chmodSync(dir, 0o755); // the proxies run as UID 2102 and read their token here
  network = await PodNetwork.create();
  const octets = network.subnet;
  vip.web = `${octets}.200`;
  vip.grpc = `${octets}.201`;
  vip.echo = `${octets}.202`;

  // identity: throwaway CA, served on the bridge address.
  tokens = new Tokens();
  const ca = await generateLocalCa({ trustDomain: DOMAIN });
  identity = await startIdentityService({
    host: network.gateway,
    port: 0,
    trustDomain: DOMAIN,
    controlNamespace: 'weft',
    validator: tokens,
    issuerSource: new MemorySource(ca.issuer),
    trustSource: new MemorySource(ca.anchorPem),
    log: createLogger('identity', 'warn'),
    registry: new Registry(),
  });
  network.onTeardown(() => identity.close());

  control = await network.addPod('control');
  client = await network.addPod('client');
  web = await network.addPod('web');
  grpcPod = await network.addPod('grpc');
  outsider = await network.addPod('outsider');
  network.addHost('web.demo.svc.cluster.local', vip.web);
  network.addHost('grpc.demo.svc.cluster.local', vip.grpc);
  network.addHost('echo.demo.svc.cluster.local', vip.echo);

  // destination: its certificate from identity, like in a cluster; the mesh described in a file.
  tokenFile('destination', { namespace: 'weft', serviceAccount: 'weft-destination', podName: 'destination-0' });
  const dst = await certify({ addr: `${network.gateway}:${identity.port}`, serverName: identity.serverName, trustAnchorsPem: identity.trustAnchorsPem(), tokenFile: join(dir, 'destination.token'), identity: DESTINATION_ID });
  writeFileSync(join(dir, 'destination.crt'), dst.certPem + dst.chainPem);
  writeFileSync(join(dir, 'destination.key'), dst.keyPem);
  writeFileSync(join(dir, 'anchors.pem'), identity.trustAnchorsPem());
  const endpoint = (pod: Pod, sa: string) => `{ ip: ${pod.ip}, pod: ${pod.name}, serviceAccount: ${sa}, meshed: true, workload: { kind: deployment, name: ${sa} } }`;
  writeFileSync(
    join(dir, 'mesh.yaml'),
    `namespaces: [{ name: demo }]
services:
  - { name: web, namespace: demo, clusterIP: ${vip.web}, ports: [{ name: http, port: 8080 }], endpoints: [${endpoint(web, 'web')}] }
  - { name: grpc, namespace: demo, clusterIP: ${vip.grpc}, ports: [{ name: grpc, port: 9090 }], endpoints: [${endpoint(grpcPod, 'grpc')}] }
  - { name: echo, namespace: demo, clusterIP: ${vip.echo}, opaquePorts: [7000], ports: [{ name: tcp, port: 7000 }], endpoints: [${endpoint(web, 'web')}] }
`,
  );
  const destination = control.spawn('destination', [NODE, DESTINATION_MAIN], {
    env: {
      PATH: process.env.PATH,
      WEFT_DESTINATION_LOG_LEVEL: 'warn',
      WEFT_DESTINATION_SOURCE: 'file',
      WEFT_DESTINATION_DISCOVERY_FILE: join(dir, 'mesh.yaml'),
      WEFT_DESTINATION_TLS_CERT_FILE: join(dir, 'destination.crt'),
      WEFT_DESTINATION_TLS_KEY_FILE: join(dir, 'destination.key'),
      WEFT_DESTINATION_TRUST_ANCHORS_FILE: join(dir, 'anchors.pem'),
    },
  });

  // Applications, interception and the server-side proxies, started together (node start-up dominates).
  const apps = [
    [web, web.spawn('web-http', [NODE, APPS, 'http-server', '8080']), 8080],
    [web, web.spawn('web-echo', [NODE, APPS, 'tcp-echo', '7000']), 7000],
    [grpcPod, grpcPod.spawn('grpc-server', [NODE, APPS, 'grpc-server', '9090']), 9090],
    [control, destination, 8086],
  ] as const;
  await Promise.all([client, web, grpcPod].map((pod) => weftInit(pod)));
  // web and grpc may certify at once; the client's token is held back (see the /ready test).
  tokenFile('web', { namespace: 'demo', serviceAccount: 'web', podName: 'web' });
  tokenFile('grpc', { namespace: 'demo', serviceAccount: 'grpc', podName: 'grpc' });
  tokenFile('client', undefined);
  const serverProxies = [startProxy(web, 'web'), startProxy(grpcPod, 'grpc')];
  await Promise.all([
    ...apps.map(([pod, proc, port]) => waitListening(pod, port, proc)),
    waitListening(web, 4191, serverProxies[0]),
    waitListening(grpcPod, 4191, serverProxies[1]),
  ]);
  // The client proxy last, so its certification retries (backoff) are still frequent when the test allows its token.
  startProxy(client, 'client');
  await waitListening(client, 4191, proxies.get(client.name));
});

after(async () => {
  try {
    await network?.teardown();
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

/** On failure, the proxies' own words help more than a timeout. */
function proxyLogs(): string {
  return [...proxies.values()].map((p) => `--- ${p.name}\n${p.output().slice(-3000)}`).join('\n');
}

test('/ready stays 503 until the proxy holds a certificate, then turns 200', async (t) => {
  if (skip) return t.skip(skip);
  const notYet = await admin(client, '/ready');
  assert.equal(notYet.status, 503, notYet.body);
  assert.match(notYet.body, /certificate/);
  const clientToken = readFileSync(join(dir, 'client.token'), 'utf8');
  tokens.allow(clientToken, { namespace: 'demo', serviceAccount: 'client', podName: 'client' });
  for (const pod of [client, web, grpcPod]) {
    await waitFor(`${pod.name} proxy ready`, async () => (await admin(pod, '/ready')).status === 200, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${proxyLogs()}`);
    });
  }
});

test('curl over HTTP/1.1 crosses the mesh: the web app sees the client identity', async (t) => {
  if (skip) return t.skip(skip);
  // Three requests on one keep-alive connection.
  const url = 'http://web.demo.svc.cluster.local:8080/hello';
  const r = await client.run(['curl', '-sS', '--http1.1', '-m', '20', '-w', '\\n', url, url, url], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `${r.stderr}\n${proxyLogs()}`);
  const replies = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { clientId: string | null; host: string; path: string });
  assert.equal(replies.length, 3);
  for (const reply of replies) {
    assert.equal(reply.clientId, CLIENT_ID, 'the inbound proxy learnt the client identity from mTLS');
    assert.equal(reply.host, 'web.demo.svc.cluster.local:8080');
    assert.equal(reply.path, '/hello');
  }
});

test('gRPC bidi and server streaming with trailers cross the mesh', async (t) => {
  if (skip) return t.skip(skip);
  const r = await client.run([NODE, APPS, 'grpc-client', 'grpc.demo.svc.cluster.local:9090', '4'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `${r.stderr}\n${proxyLogs()}`);
  const out = JSON.parse(r.stdout) as { chat: { replies: string[]; code: number; trailer?: string }; count: { items: string[]; code: number } };
  assert.equal(out.chat.code, 0, JSON.stringify(out));
  assert.deepEqual(out.chat.replies, [1, 2, 3, 4].map((i) => `${CLIENT_ID}|msg-${i}`));
  assert.equal(out.chat.trailer, 'chat-done');
  assert.equal(out.count.code, 0);
  assert.deepEqual(out.count.items, ['1', '2', '3', '4']);
});

const TCP_PAYLOAD = 'weft-opaque-'.repeat(20_000); // 240,000 bytes

test('raw TCP echo crosses the mesh with half-close, byte for byte', async (t) => {
  if (skip) return t.skip(skip);
  const r = await client.run([NODE, APPS, 'tcp-client', 'echo.demo.svc.cluster.local', '7000', '-'], { input: TCP_PAYLOAD, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `${r.stderr}\n${proxyLogs()}`);
  assert.equal(r.stdout.length, TCP_PAYLOAD.length);
  assert.equal(r.stdout, TCP_PAYLOAD);
});

test('a plaintext client in an unmeshed namespace still reaches the meshed web app', async (t) => {
  if (skip) return t.skip(skip);
  const r = await outsider.run(['curl', '-sS', '-m', '20', `http://${web.ip}:8080/from-outside`], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `${r.stderr}\n${proxyLogs()}`);
  const reply = JSON.parse(r.stdout) as { clientId: string | null; path: string };
  assert.equal(reply.path, '/from-outside');
  assert.equal(reply.clientId, null, 'no identity for a plaintext peer');
});

test('metrics count the traffic sent, with identities on both sides', async (t) => {
  if (skip) return t.skip(skip);
  const clientMetrics = (await admin(client, '/metrics')).body;
  const webMetrics = (await admin(web, '/metrics')).body;
  const grpcMetrics = (await admin(grpcPod, '/metrics')).body;
  const diag = `\n--- client\n${clientMetrics.split('\n').filter((l) => /^(request_total|tcp_open_total)/.test(l)).join('\n')}\n--- web\n${webMetrics.split('\n').filter((l) => /^(request_total|tcp_open_total)/.test(l)).join('\n')}`;

  // HTTP/1.1: 3 curl requests, all mTLS.
  assert.equal(metricValue(clientMetrics, 'request_total', { direction: 'outbound', tls: 'true', server_id: WEB_ID }), 3, diag);
  // …labelled with the peer's owner, as destination described it.
  assert.equal(metricValue(clientMetrics, 'request_total', { direction: 'outbound', server_id: WEB_ID, dst_namespace: 'demo', dst_service: 'web', dst_deployment: 'web', dst_pod: 'web', target_addr: `${web.ip}:8080` }), 3, diag);
  assert.equal(metricValue(clientMetrics, 'response_total', { direction: 'outbound', server_id: WEB_ID, status_code: '200', classification: 'success' }), 3, diag);
  assert.equal(metricValue(webMetrics, 'request_total', { direction: 'inbound', tls: 'true', client_id: CLIENT_ID }), 3, diag);
  // The outsider's one plaintext request.
  assert.equal(metricValue(webMetrics, 'request_total', { direction: 'inbound', tls: 'no_identity' }), 1, diag);
  // gRPC: two calls (Chat, Count), both OK.
  assert.equal(metricValue(clientMetrics, 'request_total', { direction: 'outbound', tls: 'true', server_id: GRPC_ID }), 2, diag);
  assert.equal(metricValue(grpcMetrics, 'request_total', { direction: 'inbound', tls: 'true', client_id: CLIENT_ID }), 2, diag);
  assert.equal(metricValue(clientMetrics, 'response_total', { direction: 'outbound', server_id: GRPC_ID, grpc_status: '0', classification: 'success' }), 2, diag);
  // Opaque TCP: one connection each way of the hop, at least the payload in bytes.
  assert.equal(metricValue(clientMetrics, 'tcp_open_total', { direction: 'outbound', tls: 'true', server_id: WEB_ID, peer: 'dst' }), 1, diag);
  assert.equal(metricValue(webMetrics, 'tcp_open_total', { direction: 'inbound', tls: 'true', client_id: CLIENT_ID, peer: 'src' }) >= 1, true, diag);
  assert.ok(metricValue(clientMetrics, 'tcp_write_bytes_total', { direction: 'outbound', server_id: WEB_ID, peer: 'dst' }) >= TCP_PAYLOAD.length, diag);
  // Every series carries the proxy's own pod labels.
  assert.match(clientMetrics, /request_total\{[^}]*namespace="demo"[^}]*pod="client"/);
});

// Attacks on the pod's own listeners (docs/security.md). They run after the metrics test, whose counts they would change.

test('an application port bound only to loopback is not reachable through the inbound proxy', async (t) => {
  if (skip) return t.skip(skip);
  const local = web.spawn('web-loopback-only', [NODE, APPS, 'http-server', '8081', '127.0.0.1']);
  await waitListening(web, 8081, local);
  // Inside the pod it answers…
  const inside = await web.run(['curl', '-sS', '-m', '10', 'http://127.0.0.1:8081/inside'], { timeoutMs: 20_000 });
  assert.equal(inside.code, 0, inside.stderr);
  assert.match(inside.stdout, /"path":"\/inside"/);
  // …but neither a meshed client (its proxy names port 8081 in weft-dst-port) nor a plaintext one gets to it.
  for (const pod of [client, outsider]) {
    const r = await pod.run(['curl', '-sS', '-m', '20', '-o', '/dev/null', '-w', '%{http_code}', `http://${web.ip}:8081/private`], { timeoutMs: 30_000 });
    assert.notEqual(r.stdout, '200', `${pod.name} reached a loopback-only port: ${r.stdout} ${r.stderr}`);
  }
  // The 0.0.0.0-bound application port still works for both.
  for (const pod of [client, outsider]) {
    const r = await pod.run(['curl', '-sS', '-m', '20', '-o', '/dev/null', '-w', '%{http_code}', `http://${web.ip}:8080/public`], { timeoutMs: 30_000 });
    assert.equal(r.stdout, '200', `${pod.name}: ${r.stderr}\n${proxyLogs()}`);
  }
});

test('POST /shutdown from another pod is refused (403) and the proxy keeps serving', async (t) => {
  if (skip) return t.skip(skip);
  for (const pod of [outsider, client]) {
    const r = await pod.run(['curl', '-sS', '-m', '10', '-X', 'POST', '-o', '/dev/null', '-w', '%{http_code}', `http://${web.ip}:4191/shutdown`], { timeoutMs: 20_000 });
    assert.equal(r.stdout, '403', `${pod.name}: ${r.stderr}`);
  }
  assert.equal((await admin(web, '/ready')).status, 200);
  const r = await outsider.run(['curl', '-sS', '-m', '20', '-o', '/dev/null', '-w', '%{http_code}', `http://${web.ip}:8080/after`], { timeoutMs: 30_000 });
  assert.equal(r.stdout, '200', r.stderr);
});
