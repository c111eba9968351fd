import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { policy } from '@weft/api';
import { authorize, compileServer, defaultPolicy } from './server-policy.js';

const LOCAL = 'web.demo.serviceaccount.identity.weft.cluster.local';
const MESH_CLIENT = 'client.demo.serviceaccount.identity.weft.cluster.local';
const FOREIGN = 'client.demo.serviceaccount.identity.other.example.org';
const plain = { ip: '10.1.2.3', identity: undefined };
const meshed = { ip: '10.1.2.3', identity: MESH_CLIENT };
const foreign = { ip: '10.1.2.3', identity: FOREIGN };
const get = (path: string, headers: Record<string, string> = {}) => ({ method: 'GET', path, headers });

test('all-unauthenticated admits everyone', () => {
  const p = defaultPolicy('all-unauthenticated', LOCAL);
  assert.ok(authorize(p, plain, get('/')).allowed);
  assert.ok(authorize(p, meshed, undefined).allowed);
});

test('all-authenticated admits any mesh identity and no plaintext client', () => {
  const p = defaultPolicy('all-authenticated', LOCAL);
  assert.ok(!authorize(p, plain, get('/')).allowed);
  assert.ok(authorize(p, meshed, get('/')).allowed);
  assert.ok(authorize(p, foreign, get('/')).allowed);
});

test("cluster-authenticated admits identities of this proxy's mesh only", () => {
  const p = defaultPolicy('cluster-authenticated', LOCAL);
  assert.ok(!authorize(p, plain, get('/')).allowed);
  assert.ok(authorize(p, meshed, get('/')).allowed);
  assert.ok(!authorize(p, foreign, get('/')).allowed);
});

test('deny admits nobody and says why', () => {
  const d = authorize(defaultPolicy('deny', LOCAL), meshed, undefined);
  assert.equal(d.allowed, false);
  assert.match(
    (d as { reason: string }).reason,
    new RegExp(`client ${MESH_CLIENT.replace(/\./g, '\\.')} is not authorized by default policy "deny"`),
  );
});

function server(authz: MessageInitShape<typeof policy.AuthzSchema>[]) {
  return compileServer(create(policy.ServerSchema, { labels: { name: 'web-http', kind: 'server' }, authorizations: authz }));
}

test('MeshTLSAuthentication identities match in DNS or SPIFFE form', () => {
  const dns = server([
    {
      authentication: { permit: { case: 'meshTls', value: { identities: [MESH_CLIENT] } } },
      labels: { name: 'p', kind: 'authorizationpolicy' },
    },
  ]);
  const spiffe = server([
    {
      authentication: { permit: { case: 'meshTls', value: { identities: ['spiffe://cluster.local/ns/demo/sa/client'] } } },
      labels: { name: 'p', kind: 'authorizationpolicy' },
    },
  ]);
  for (const p of [dns, spiffe]) {
    const ok = authorize(p, meshed, get('/'));
    assert.ok(ok.allowed);
    assert.equal(ok.allowed && ok.authz.name, 'p');
    assert.ok(!authorize(p, { ip: '10.1.2.3', identity: 'other.demo.serviceaccount.identity.weft.cluster.local' }, get('/')).allowed);
    assert.ok(!authorize(p, plain, get('/')).allowed);
  }
});

test('NetworkAuthentication: source CIDRs with exceptions, IPv4-mapped addresses included', () => {
  const p = server([
    {
      networks: [{ net: '10.0.0.0/8', except: ['10.1.0.0/16'] }, { net: 'fd00::/8' }],
      authentication: { permit: { case: 'unauthenticated', value: {} } },
    },
  ]);
  assert.ok(authorize(p, { ip: '10.2.0.1', identity: undefined }, get('/')).allowed);
  assert.ok(authorize(p, { ip: '::ffff:10.2.0.1', identity: undefined }, get('/')).allowed);
  assert.ok(!authorize(p, { ip: '10.1.0.1', identity: undefined }, get('/')).allowed);
  assert.ok(!authorize(p, { ip: '192.168.0.1', identity: undefined }, get('/')).allowed);
  assert.ok(authorize(p, { ip: 'fd00::1', identity: undefined }, undefined).allowed);
});

test('probe authorizations apply to their exact HTTP paths only, never to TCP', () => {
  const p = server([
    {
      httpPaths: ['/ready', '/live'],
      authentication: { permit: { case: 'unauthenticated', value: {} } },
      labels: { name: 'probe', kind: 'default' },
    },
  ]);
  assert.ok(authorize(p, plain, get('/ready')).allowed);
  assert.ok(authorize(p, plain, get('/live?x=1')).allowed);
  assert.ok(!authorize(p, plain, get('/ready/more')).allowed);
  assert.ok(!authorize(p, plain, undefined).allowed);
});

test('a Server without authorizations denies; a malformed CIDR admits nothing', () => {
  assert.ok(!authorize(server([]), meshed, get('/')).allowed);
  const bad = server([{ networks: [{ net: 'not-a-cidr' }], authentication: { permit: { case: 'unauthenticated', value: {} } } }]);
  assert.ok(!authorize(bad, plain, get('/')).allowed);
});

test('HTTPRoutes on a Server: a request gets the authorizations of the first route it matches, plus the server-wide ones', () => {
  const only = (identity: string, name: string) => ({
    authentication: { permit: { case: 'meshTls' as const, value: { identities: [identity] } } },
    labels: { name, kind: 'authorizationpolicy' },
  });
  const anyone = {
    authentication: { permit: { case: 'unauthenticated' as const, value: {} } },
    labels: { name: 'open', kind: 'authorizationpolicy' },
  };
  const p = compileServer(
    create(policy.ServerSchema, {
      labels: { name: 'web-http', kind: 'server' },
      authorizations: [],
      routes: [
        {
          name: 'admin',
          matches: [{ path: { kind: { case: 'prefix', value: '/admin' } } }],
          authorizations: [only(MESH_CLIENT, 'admin-only')],
        },
        { name: 'public', matches: [{ path: { kind: { case: 'prefix', value: '/' } } }], authorizations: [anyone] },
      ],
    }),
  );
  assert.ok(authorize(p, plain, get('/books')).allowed, 'the public route is open');
  assert.ok(!authorize(p, plain, get('/admin/users')).allowed, '/admin matches the admin route first: the public route does not apply');
  assert.ok(!authorize(p, { ip: '10.1.2.3', identity: LOCAL }, get('/admin/users')).allowed, 'another identity is refused');
  const ok = authorize(p, meshed, get('/admin/users'));
  assert.ok(ok.allowed && ok.authz.name === 'admin-only');
  const denied = authorize(p, plain, get('/admin'));
  assert.ok(!denied.allowed && /on route "admin"/.test(denied.reason));
  assert.ok(!authorize(p, plain, undefined).allowed, 'opaque TCP gets only the server-wide authorizations (none here)');
});

test("a Server's proxyProtocol opaque is kept (its port skips detection); any other protocol, and the defaults, are not opaque", () => {
  const withProtocol = (kind: 'opaque' | 'detect' | 'http1') =>
    compileServer(
      create(policy.ServerSchema, {
        labels: { name: 'db', kind: 'server' },
        protocol: { kind: kind === 'detect' ? { case: 'detect', value: {} } : kind === 'opaque' ? { case: 'opaque', value: {} } : { case: 'http1', value: {} } },
      }),
    );
  assert.equal(withProtocol('opaque').opaque, true);
  assert.equal(withProtocol('detect').opaque, false);
  assert.equal(withProtocol('http1').opaque, false);
  assert.equal(compileServer(create(policy.ServerSchema, {})).opaque, false);
  assert.notEqual(defaultPolicy('all-unauthenticated', LOCAL).opaque, true);
});
