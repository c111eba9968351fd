// Inbound authorization through real proxies: meshed clients with different
// identities (real mTLS) and plaintext clients against a real HTTP server,
// under each default policy and a Server with an AuthorizationPolicy;
// policy changes apply to new requests without restart and without failing
// requests in flight.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { create } from '@bufbuild/protobuf';
import { policy } from '@weft/api';
import { createLogger } from '@weft/common/log';
import { TestMeshPki, testConfig, metricValue, CLIENT_ID, SERVER_ID } from '../testing/mesh.js';
import { startProxy, type Proxy } from '../proxy.js';
import { StaticDiscovery, endpoint } from '../discovery/discovery.js';
import { StaticProfiles } from '../discovery/profiles.js';
import { StaticPolicies } from '../policy/policies.js';
import { defaultPolicy, type DefaultPolicyName } from '../policy/server-policy.js';

const OTHER_ID = 'other.test.serviceaccount.identity.weft.cluster.local';
const FOREIGN_ID = 'client.test.serviceaccount.identity.weft.other.example';
const WEB = 'web.test.svc:80';

const pki = new TestMeshPki();
const discovery = new StaticDiscovery();
const profiles = new StaticProfiles();
const policies = new StaticPolicies(defaultPolicy('all-unauthenticated', SERVER_ID));
const proxies: Proxy[] = [];
let server: Proxy;
const clients: Record<'allowed' | 'other' | 'foreign', Proxy> = {} as never;
/** Client proxies whose applications open opaque TCP connections (explicit original destination) to the server. */
const tcpClients: Record<'allowed' | 'other', Proxy> = {} as never;
const SERVICE_IP = '10.96.0.10';
let app: http.Server;
let appPort: number;
let releaseSlow: (() => void) | undefined;
let slowArrived: (() => void) | undefined;

before(async () => {
  app = http.createServer((req, res) => {
    if (req.url === '/slow') {
      slowArrived?.();
      releaseSlow = () => res.writeHead(200).end('slow done');
      return;
    }
    res.writeHead(200).end(String(req.headers['weft-client-id'] ?? 'plaintext'));
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  appPort = (app.address() as AddressInfo).port;
  const log = createLogger('authz-test', 'silent');
  const common = { discovery, profiles, originalDst: null, log, drainMs: 500, headersTimeoutMs: 2000 } as const;
  server = await startProxy({ ...common, config: testConfig(SERVER_ID, { inboundAppPort: appPort }), identity: pki.identity(SERVER_ID), policies });
  proxies.push(server);
  for (const [k, id] of [['allowed', CLIENT_ID], ['other', OTHER_ID], ['foreign', FOREIGN_ID]] as const) {
    clients[k] = await startProxy({ ...common, config: testConfig(id), identity: pki.identity(id) });
    proxies.push(clients[k]);
  }
  for (const [k, id] of [['allowed', CLIENT_ID], ['other', OTHER_ID]] as const) {
    tcpClients[k] = await startProxy({
      ...common,
      config: testConfig(id, { opaquePorts: [5000] }),
      identity: pki.identity(id),
      originalDst: () => ({ ip: SERVICE_IP, port: 5000 }),
    });
    proxies.push(tcpClients[k]);
  }
  discovery.set(WEB, [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: server.ports.inbound })]);
  discovery.set(`${SERVICE_IP}:5000`, [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: server.ports.inbound })]);
});

after(async () => {
  await Promise.all(proxies.map((p) => p.shutdown()));
  app?.closeAllConnections();
  app?.close();
  pki.dispose();
});

/** HTTP/1 through a client proxy (meshed, mTLS) or straight to the server proxy (plaintext). */
function get(via: Proxy | 'plaintext', path = '/'): Promise<{ status: number; body: string }> {
  const port = via === 'plaintext' ? server.ports.inbound : via.ports.outbound;
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers: { host: WEB }, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

/** A raw, non-HTTP TCP client straight to the server proxy: resolves with what it received before the close. */
function rawTcp(port = server.ports.inbound): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
    // Not HTTP: detection falls back to opaque TCP; the application (an HTTP server) answers 400 when it gets the bytes.
    s.write('\x00\x01weft-opaque-probe\r\n\r\n');
    s.setTimeout(30_000, () => s.destroy());
  });
}

async function serverMetrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${server.ports.admin}/metrics`)).text();
}

function useDefault(name: DefaultPolicyName): void {
  policies.clear(appPort);
  policies.setDefault(defaultPolicy(name, SERVER_ID));
}

test('all-unauthenticated admits plaintext and meshed clients, and opaque TCP', { timeout: 60_000 }, async () => {
  useDefault('all-unauthenticated');
  assert.deepEqual(await get('plaintext'), { status: 200, body: 'plaintext' });
  assert.deepEqual(await get(clients.allowed), { status: 200, body: CLIENT_ID });
  assert.match(await rawTcp(), /^HTTP\/1\.1 400/);
  const text = await serverMetrics();
  assert.ok(metricValue(text, 'inbound_http_authz_allow_total', { authz_name: 'all-unauthenticated', srv_kind: 'default', tls: 'true' }) >= 1);
  assert.ok(metricValue(text, 'inbound_tcp_authz_allow_total', { authz_name: 'all-unauthenticated' }) >= 1);
});

test('all-authenticated admits any mesh identity and refuses plaintext with 403', { timeout: 60_000 }, async () => {
  useDefault('all-authenticated');
  const plain = await get('plaintext');
  assert.equal(plain.status, 403);
  assert.match(plain.body, /not authorized by default policy "all-authenticated"/);
  assert.equal((await get(clients.other)).status, 200);
  assert.equal((await get(clients.foreign)).status, 200);
});

test("cluster-authenticated admits this mesh's identities only", { timeout: 60_000 }, async () => {
  useDefault('cluster-authenticated');
  assert.equal((await get('plaintext')).status, 403);
  assert.equal((await get(clients.allowed)).status, 200);
  const foreign = await get(clients.foreign);
  assert.equal(foreign.status, 403);
  assert.match(foreign.body, new RegExp(`client ${FOREIGN_ID.replace(/\./g, '\\.')} is not authorized`));
});

test('deny refuses HTTP (403) and TCP (closed unanswered) while probes on the admin port pass', { timeout: 60_000 }, async () => {
  useDefault('deny');
  const before = await serverMetrics();
  assert.equal((await get('plaintext')).status, 403);
  assert.equal((await get(clients.allowed)).status, 403);
  assert.equal(await rawTcp(), '', 'the connection is closed before a byte reaches the application');
  const ready = await fetch(`http://127.0.0.1:${server.ports.admin}/ready`);
  assert.equal(ready.status, 200);
  const after = await serverMetrics();
  const deny = (name: string) => metricValue(after, name, { srv_name: 'deny', srv_kind: 'default' }) - metricValue(before, name, { srv_name: 'deny', srv_kind: 'default' });
  assert.equal(deny('inbound_http_authz_deny_total'), 2);
  assert.equal(deny('inbound_tcp_authz_deny_total'), 1);
});

const AUTHZ_SERVER = create(policy.ServerSchema, {
  labels: { name: 'web-http', kind: 'server' },
  authorizations: [
    {
      // The allowed client, named in SPIFFE form (MeshTLSAuthentication).
      authentication: { permit: { case: 'meshTls', value: { identities: ['spiffe://cluster.local/ns/test/sa/client'] } } },
      labels: { name: 'web-clients', kind: 'authorizationpolicy' },
    },
    // Kubelet probes: plaintext, exact paths only.
    { authentication: { permit: { case: 'unauthenticated', value: {} } }, httpPaths: ['/healthz'], labels: { name: 'probe', kind: 'default' } },
  ],
});

test('an AuthorizationPolicy admits one identity and denies another: 403 for HTTP, PERMISSION_DENIED for gRPC', { timeout: 60_000 }, async () => {
  useDefault('all-unauthenticated');
  policies.set(appPort, AUTHZ_SERVER);
  assert.deepEqual(await get(clients.allowed), { status: 200, body: CLIENT_ID });
  const denied = await get(clients.other);
  assert.equal(denied.status, 403);
  assert.match(denied.body, /client other\.test\.serviceaccount\.identity\.weft\.cluster\.local is not authorized by server "web-http"/);
  // Probes pass on their path only.
  assert.equal((await get('plaintext', '/healthz')).status, 200);
  assert.equal((await get('plaintext', '/')).status, 403);

  const session = http2.connect(`http://127.0.0.1:${clients.other.ports.outbound}`);
  try {
    const s = session.request({ ':method': 'POST', ':path': '/test.Svc/Call', ':authority': WEB, 'content-type': 'application/grpc', te: 'trailers' });
    s.end();
    const [headers] = (await once(s, 'response')) as [http2.IncomingHttpHeaders];
    s.resume();
    assert.equal(headers['grpc-status'], '7');
    assert.match(decodeURIComponent(String(headers['grpc-message'])), /not authorized by server "web-http"/);
  } finally {
    session.close();
  }
  const text = await serverMetrics();
  assert.ok(metricValue(text, 'inbound_http_authz_allow_total', { srv_name: 'web-http', authz_name: 'web-clients', authz_kind: 'authorizationpolicy' }) >= 1);
  assert.ok(metricValue(text, 'inbound_http_authz_allow_total', { srv_name: 'web-http', authz_name: 'probe' }) >= 1);
  assert.ok(metricValue(text, 'inbound_http_authz_deny_total', { srv_name: 'web-http', srv_kind: 'server' }) >= 3);
});

test('meshed opaque TCP is authorized by the client identity from mTLS', { timeout: 60_000 }, async () => {
  useDefault('all-unauthenticated');
  policies.set(appPort, AUTHZ_SERVER);
  const before = await serverMetrics();
  assert.match(await rawTcp(tcpClients.allowed.ports.outbound), /^HTTP\/1\.1 400/, 'the allowed identity reaches the application');
  assert.equal(await rawTcp(tcpClients.other.ports.outbound), '', 'the other identity is refused');
  const after = await serverMetrics();
  const delta = (name: string, labels: Record<string, string>) => metricValue(after, name, labels) - metricValue(before, name, labels);
  assert.equal(delta('inbound_tcp_authz_allow_total', { srv_name: 'web-http', authz_name: 'web-clients', tls: 'true' }), 1);
  assert.equal(delta('inbound_tcp_authz_deny_total', { srv_name: 'web-http', tls: 'true' }), 1);
});

test('a policy change applies to new requests without restart; a request in flight completes', { timeout: 60_000 }, async () => {
  useDefault('all-unauthenticated');
  const arrived = new Promise<void>((r) => (slowArrived = r));
  const inFlight = get(clients.other, '/slow');
  await arrived;
  policies.set(appPort, AUTHZ_SERVER);
  assert.equal((await get(clients.other)).status, 403, 'the new policy applies to the next request');
  releaseSlow!();
  assert.deepEqual(await inFlight, { status: 200, body: 'slow done' });
  policies.clear(appPort);
  assert.equal((await get(clients.other)).status, 200, 'and back');
});
