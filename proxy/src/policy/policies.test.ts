// Inbound policy from the real destination service (policy Watch over mTLS,
// in-memory Kubernetes objects) enforced by real proxies: a Server with an
// AuthorizationPolicy and a MeshTLSAuthentication admits one identity and
// denies another; edits to the policy objects apply without restarting the
// proxy; with the policy service unreachable, the default policy keeps
// serving what it allows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { CRD_VERSION, POLICY_GROUP } from '@weft/api/names';
import { createLogger } from '@weft/common/log';
import { startDestination, type DestinationController } from '@weft/destination/destination';
import { MemorySource } from '@weft/destination/sources/memory';
import { pod } from '@weft/destination/testing/fixtures';
import type { CustomObject, PolicyKind } from '@weft/destination/model';
import { unusedPort } from '@weft/common/testing/ports';
import { TestMeshPki, testConfig, metricValue, CLIENT_ID, SERVER_ID } from '../testing/mesh.js';
import { startProxy, type Proxy } from '../proxy.js';
import { StaticDiscovery, endpoint } from '../discovery/discovery.js';
import { StaticProfiles } from '../discovery/profiles.js';

const DEST_NAME = 'destination.weft.serviceaccount.identity.weft.cluster.local';
const OTHER_ID = 'other.test.serviceaccount.identity.weft.cluster.local';
const WATCHED = 'watched.test.svc:80';
const FALLBACK = 'fallback.test.svc:80';

const pki = new TestMeshPki();
const source = new MemorySource();
const discovery = new StaticDiscovery();
const log = createLogger('policy-test', 'silent');
const proxies: Proxy[] = [];
let controller: DestinationController;
let app: http.Server;
/** The fallback proxy's own application (the client proxies key endpoints by address, so each server proxy needs its own). */
let app2: http.Server;
let watched: Proxy;
let fallback: Proxy;
let allowed: Proxy;
let other: Proxy;

function obj(kind: PolicyKind, name: string, spec: unknown): CustomObject {
  return { apiVersion: `${POLICY_GROUP}/${CRD_VERSION}`, kind, metadata: { name, namespace: 'test' }, spec };
}

before(async () => {
  app = http.createServer((req, res) => res.writeHead(200).end(String(req.headers['weft-client-id'] ?? 'plaintext')));
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const appPort = (app.address() as AddressInfo).port;
  app2 = http.createServer((req, res) => res.writeHead(200).end(String(req.headers['weft-client-id'] ?? 'plaintext')));
  app2.listen(0, '127.0.0.1');
  await once(app2, 'listening');
  const app2Port = (app2.address() as AddressInfo).port;

  source.apply('Namespace', { metadata: { name: 'test' } });
  source.apply(
    'Pod',
    pod('server-pod', {
      namespace: 'test',
      ip: '127.0.0.1',
      labels: { app: 'web' },
      serviceAccount: 'server',
      meshed: true,
      ports: [{ name: 'http', containerPort: appPort }],
    }),
  );
  source.apply('Server', obj('Server', 'web-http', { podSelector: { matchLabels: { app: 'web' } }, port: appPort }));
  source.apply('MeshTLSAuthentication', obj('MeshTLSAuthentication', 'web-clients', { identities: [CLIENT_ID] }));
  source.apply(
    'AuthorizationPolicy',
    obj('AuthorizationPolicy', 'web-authz', {
      targetRef: { group: 'policy.weft.io', kind: 'Server', name: 'web-http' },
      requiredAuthenticationRefs: [{ group: 'policy.weft.io', kind: 'MeshTLSAuthentication', name: 'web-clients' }],
    }),
  );
  const destCert = pki.pki.cert({ subject: '/CN=destination', issuer: pki.root, dns: [DEST_NAME] });
  controller = await startDestination({
    source,
    log,
    tls: { ca: pki.root.cert, cert: destCert.cert, key: destCert.key },
    destinationPort: 0,
    policyPort: 0,
  });

  const common = { discovery, profiles: new StaticProfiles(), originalDst: null, log, drainMs: 500, headersTimeoutMs: 2000 } as const;
  const serverConfig = (port: number, policyPort: number, pod: string, defaultInboundPolicy: 'all-unauthenticated' | 'all-authenticated') =>
    testConfig(SERVER_ID, {
      inboundAppPort: port,
      inboundPorts: [port],
      policySvcAddr: `127.0.0.1:${policyPort}`,
      destination: { svcAddr: 'unused:1', svcName: DEST_NAME, contextToken: '{}' },
      pod: { namespace: 'test', name: pod, workloadKind: 'deployment', workloadName: 'web' },
      defaultInboundPolicy,
    });
  // No `policies` option: the proxies use their real policy Watch client.
  watched = await startProxy({
    ...common,
    config: serverConfig(appPort, controller.policyPort, 'server-pod', 'all-unauthenticated'),
    identity: pki.identity(SERVER_ID),
  });
  fallback = await startProxy({
    ...common,
    config: serverConfig(app2Port, await unusedPort(), 'server-pod', 'all-authenticated'),
    identity: pki.identity(SERVER_ID),
  });
  allowed = await startProxy({ ...common, config: testConfig(CLIENT_ID), identity: pki.identity(CLIENT_ID) });
  other = await startProxy({ ...common, config: testConfig(OTHER_ID), identity: pki.identity(OTHER_ID) });
  proxies.push(watched, fallback, allowed, other);
  discovery.set(WATCHED, [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: watched.ports.inbound })]);
  discovery.set(FALLBACK, [endpoint('127.0.0.1', app2Port, { identity: SERVER_ID, inboundPort: fallback.ports.inbound })]);
});

after(async () => {
  await Promise.all(proxies.map((p) => p.shutdown()));
  await controller?.close();
  for (const a of [app, app2]) {
    a?.closeAllConnections();
    a?.close();
  }
  pki.dispose();
});

function get(via: Proxy, authority: string, port = via.ports.outbound, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers: { host: authority }, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

/** Polls until a request gets `status` (a policy edit travels through destination's watch asynchronously). */
async function until(status: number, send: () => Promise<{ status: number }>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await send()).status === status) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`never got ${status}`);
}

test(
  'a Server with an AuthorizationPolicy from destination admits the listed identity and denies another',
  { timeout: 60_000 },
  async () => {
    // The first request waits for the port's first policy rather than using the laxer default.
    assert.deepEqual(await get(allowed, WATCHED), { status: 200, body: CLIENT_ID });
    const denied = await get(other, WATCHED);
    assert.equal(denied.status, 403);
    assert.match(denied.body, /is not authorized by server "web-http"/);
    const plain = await get(watched, WATCHED, watched.ports.inbound);
    assert.equal(plain.status, 403, 'plaintext is not a listed identity');
    const text = await (await fetch(`http://127.0.0.1:${watched.ports.admin}/metrics`)).text();
    assert.ok(metricValue(text, 'inbound_http_authz_allow_total', { srv_name: 'web-http', authz_name: 'web-authz' }) >= 1);
    assert.ok(metricValue(text, 'inbound_http_authz_deny_total', { srv_name: 'web-http' }) >= 2);
  },
);

test('policy edits apply to new requests without restarting the proxy', { timeout: 60_000 }, async () => {
  source.apply(
    'MeshTLSAuthentication',
    obj('MeshTLSAuthentication', 'web-clients', { identities: [CLIENT_ID, `spiffe://cluster.local/ns/test/sa/other`] }),
  );
  await until(200, () => get(other, WATCHED));
  // Without any AuthorizationPolicy the Server denies everyone.
  source.delete('AuthorizationPolicy', obj('AuthorizationPolicy', 'web-authz', {}));
  await until(403, () => get(allowed, WATCHED));
  assert.equal((await get(other, WATCHED)).status, 403);
});

test('with the policy service unreachable the default policy applies and requests it allows succeed', { timeout: 60_000 }, async () => {
  assert.deepEqual(await get(allowed, FALLBACK), { status: 200, body: CLIENT_ID });
  assert.equal((await get(other, FALLBACK)).status, 200);
  assert.equal((await get(fallback, FALLBACK, fallback.ports.inbound)).status, 403, 'all-authenticated refuses plaintext');
});

test(
  'route-level authorization: an HTTPRoute on the Server opens /admin to one identity and the rest to every client',
  { timeout: 60_000 },
  async () => {
    // The Server has no server-wide AuthorizationPolicy any more (previous test): everything is denied until the routes come.
    const parentRefs = [{ group: 'policy.weft.io', kind: 'Server', name: 'web-http' }];
    const route = (name: string, prefix: string): CustomObject => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name, namespace: 'test' },
      spec: { parentRefs, rules: [{ matches: [{ path: { type: 'PathPrefix', value: prefix } }] }] },
    });
    const targeting = (name: string, routeName: string, refs: unknown[]) =>
      obj('AuthorizationPolicy', name, {
        targetRef: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: routeName },
        requiredAuthenticationRefs: refs,
      });
    source.apply('HTTPRoute', route('web-admin', '/admin'));
    source.apply('HTTPRoute', route('web-public', '/'));
    source.apply(
      'AuthorizationPolicy',
      targeting('admin-only', 'web-admin', [{ kind: 'ServiceAccount', name: 'client', namespace: 'test' }]),
    );
    source.apply('AuthorizationPolicy', targeting('public', 'web-public', []));

    await until(200, () => get(other, WATCHED, other.ports.outbound, '/books'));
    assert.equal((await get(allowed, WATCHED, allowed.ports.outbound, '/books')).status, 200);
    assert.deepEqual(await get(allowed, WATCHED, allowed.ports.outbound, '/admin/users'), { status: 200, body: CLIENT_ID });
    const denied = await get(other, WATCHED, other.ports.outbound, '/admin/users');
    assert.equal(denied.status, 403, 'the public route does not open /admin: the most specific route decides');
    assert.match(denied.body, /on route "web-admin"/);
    assert.equal((await get(watched, WATCHED, watched.ports.inbound, '/admin')).status, 403, 'plaintext is refused on /admin');
    assert.equal((await get(watched, WATCHED, watched.ports.inbound, '/books')).status, 200, 'and served elsewhere');
    const text = await (await fetch(`http://127.0.0.1:${watched.ports.admin}/metrics`)).text();
    assert.ok(metricValue(text, 'inbound_http_authz_allow_total', { srv_name: 'web-http', authz_name: 'admin-only' }) >= 1);
    console.log('# route-level authorization: /admin → client only (other: 403), /books → everyone');

    // Removing the route's policy closes /admin to everyone, live.
    source.delete('AuthorizationPolicy', targeting('admin-only', 'web-admin', []));
    await until(403, () => get(allowed, WATCHED, allowed.ports.outbound, '/admin/users'));
    for (const r of ['web-admin', 'web-public']) source.delete('HTTPRoute', route(r, '/'));
    source.delete('AuthorizationPolicy', targeting('public', 'web-public', []));
  },
);
