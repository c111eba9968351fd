import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDnsIdentity, formatSpiffeIdentity, parseDnsIdentity, parseSpiffeIdentity, sameWorkload } from './identity-name.js';
import { InvalidArgumentError } from './errors.js';

const web = { serviceAccount: 'web', namespace: 'emojivoto', controlNamespace: 'weft', trustDomain: 'cluster.local' };

test('formats the DNS and SPIFFE forms of a workload identity', () => {
  assert.equal(formatDnsIdentity(web), 'web.emojivoto.serviceaccount.identity.weft.cluster.local');
  assert.equal(formatSpiffeIdentity(web), 'spiffe://cluster.local/ns/emojivoto/sa/web');
});

test('parsing inverts formatting for both forms', () => {
  assert.deepEqual(parseDnsIdentity(formatDnsIdentity(web)), web);
  assert.deepEqual(parseSpiffeIdentity(formatSpiffeIdentity(web), 'weft'), web);
  assert.ok(sameWorkload(parseDnsIdentity(formatDnsIdentity(web)), parseSpiffeIdentity(formatSpiffeIdentity(web), 'other')));
});

test('a multi-label trust domain survives the round trip', () => {
  const id = { ...web, trustDomain: 'prod.example.com' };
  assert.deepEqual(parseDnsIdentity(formatDnsIdentity(id)), id);
});

test('malformed names are rejected with InvalidArgumentError', () => {
  for (const bad of ['web.emojivoto.cluster.local', 'web..serviceaccount.identity.weft.cluster.local', 'Web.ns.serviceaccount.identity.weft.cluster.local', 'web.ns.serviceaccount.identity.weft.']) {
    assert.throws(() => parseDnsIdentity(bad), InvalidArgumentError, bad);
  }
  for (const bad of ['spiffe://cluster.local/ns/a', 'https://cluster.local/ns/a/sa/b', 'spiffe://cluster.local/ns/a/sa/b/c', 'spiffe://cluster.local/ns/A_b/sa/b']) {
    assert.throws(() => parseSpiffeIdentity(bad, 'weft'), InvalidArgumentError, bad);
  }
  assert.throws(() => formatDnsIdentity({ ...web, serviceAccount: 'has.dot' }), /not a valid DNS label/);
});
