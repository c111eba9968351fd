// The static proxy list of the local demo: parsed with a clear error per bad entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTargets } from './targets.js';

const good = { name: 'web-1', namespace: 'shop', workload: 'deploy/web', adminAddr: '127.0.0.1:4191', tapAddr: '127.0.0.1:4190', identity: 'web.shop.serviceaccount.identity.weft.cluster.local' };

test('JSON and YAML lists parse into targets', () => {
  const [t] = parseTargets(JSON.stringify({ proxies: [good] }));
  assert.deepEqual(t!.workload, { kind: 'deployment', name: 'web' });
  assert.equal(parseTargets(`- name: a\n  namespace: b\n  workload: sts/db\n  adminAddr: "[::1]:4191"\n  tapAddr: h:4190\n  identity: x\n`)[0]!.workload.kind, 'statefulset');
});

test('a bad entry is named with the field at fault', () => {
  assert.throws(() => parseTargets(JSON.stringify([{ ...good, adminAddr: 'nope' }]), 'proxies.json'), /proxies\.json\[0\]: "adminAddr" must be host:port, got "nope"/);
  assert.throws(() => parseTargets(JSON.stringify([good, { ...good, workload: 'svc/web' }])), /\[1\]: "workload" must be <deployment\|statefulset\|daemonset>\/<name>/);
  assert.throws(() => parseTargets('{proxies: 3}'), /must be a list of proxies/);
  assert.throws(() => parseTargets('proxies: [unclosed'), /not valid JSON\/YAML/);
});
