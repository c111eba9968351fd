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

test('all-unauthenticated admits everyone', () => {
  const p = defaultPolicy('all-unauthenticated', LOCAL);
  assert.ok(authorize(p, plain, '/').allowed);
  assert.ok(authorize(p, meshed, undefined).allowed);
});

test('all-authenticated admits any mesh identity and no plaintext client', () => {
  const p = defaultPolicy('all-authenticated', LOCAL);
  assert.ok(!authorize(p, plain, '/').allowed);
  assert.ok(authorize(p, meshed, '/').allowed);
  assert.ok(authorize(p, foreign, '/').allowed);
});

test("cluster-authenticated admits identities of this proxy's mesh only", () => {
  const p = defaultPolicy('cluster-authenticated', LOCAL);
  assert.ok(!authorize(p, plain, '/').allowed);
  assert.ok(authorize(p, meshed, '/').allowed);
  assert.ok(!authorize(p, foreign, '/').allowed);
});

test('deny admits nobody and says why', () => {
  const d = authorize(defaultPolicy('deny', LOCAL), meshed, undefined);
  assert.equal(d.allowed, false);
  assert.match((d as { reason: string }).reason, new RegExp(`client ${MESH_CLIENT.replace(/\./g, '\\.')} is not authorized by default policy "deny"`));
});

function server(authz: MessageInitShape<typeof policy.AuthzSchema>[]) {
  return compileServer(create(policy.ServerSchema, { labels: { name: 'web-http', kind: 'server' }, authorizations: authz }));
}

test('MeshTLSAuthentication identities match in DNS or SPIFFE form', () => {
  const dns = server([{ authentication: { permit: { case: 'meshTls', value: { identities: [MESH_CLIENT] } } }, labels: { name: 'p', kind: 'authorizationpolicy' } }]);
  const spiffe = server([{ authentication: { permit: { case: 'meshTls', value: { identities: ['spiffe://cluster.local/ns/demo/sa/client'] } } }, labels: { name: 'p', kind: 'authorizationpolicy' } }]);
  for (const p of [dns, spiffe]) {
    const ok = authorize(p, meshed, '/');
    assert.ok(ok.allowed);
    assert.equal(ok.allowed && ok.authz.name, 'p');
    assert.ok(!authorize(p, { ip: '10.1.2.3', identity: 'other.demo.serviceaccount.identity.weft.cluster.local' }, '/').allowed);
    assert.ok(!authorize(p, plain, '/').allowed);
  }
});

test('NetworkAuthentication: source CIDRs with exceptions, IPv4-mapped addresses included', () => {
  const p = server([{ networks: [{ net: '10.0.0.0/8', except: ['10.1.0.0/16'] }, { net: 'fd00::/8' }], authentication: { permit: { case: 'unauthenticated', value: {} } } }]);
  assert.ok(authorize(p, { ip: '10.2.0.1', identity: undefined }, '/').allowed);
  assert.ok(authorize(p, { ip: '::ffff:10.2.0.1', identity: undefined }, '/').allowed);
  assert.ok(!authorize(p, { ip: '10.1.0.1', identity: undefined }, '/').allowed);
  assert.ok(!authorize(p, { ip: '192.168.0.1', identity: undefined }, '/').allowed);
  assert.ok(authorize(p, { ip: 'fd00::1', identity: undefined }, undefined).allowed);
});

test('probe authorizations apply to their exact HTTP paths only, never to TCP', () => {
  const p = server([{ httpPaths: ['/ready', '/live'], authentication: { permit: { case: 'unauthenticated', value: {} } }, labels: { name: 'probe', kind: 'default' } }]);
  assert.ok(authorize(p, plain, '/ready').allowed);
  assert.ok(authorize(p, plain, '/live?x=1').allowed);
  assert.ok(!authorize(p, plain, '/ready/more').allowed);
  assert.ok(!authorize(p, plain, undefined).allowed);
});

test('a Server without authorizations denies; a malformed CIDR admits nothing', () => {
  assert.ok(!authorize(server([]), meshed, '/').allowed);
  const bad = server([{ networks: [{ net: 'not-a-cidr' }], authentication: { permit: { case: 'unauthenticated', value: {} } } }]);
  assert.ok(!authorize(bad, plain, '/').allowed);
});
