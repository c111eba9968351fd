// What a tap request watches: one namespace derived once from the query, and
// proxies selected only from it, whatever the spelling of the request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResource } from '../resource.js';
import { parseTargets } from '../targets.js';
import { proxiesOf, tapScope } from './scope.js';
import { InvalidArgumentError } from '../errors.js';

const proxy = (name: string, namespace: string, workload: string) => ({ name, namespace, workload, adminAddr: '127.0.0.1:4191', tapAddr: '127.0.0.1:4190', identity: `${name}.${namespace}` });
const all = parseTargets(JSON.stringify([proxy('web-1', 'shop', 'deploy/web'), proxy('books-1', 'shop', 'deploy/books'), proxy('x', 'other', 'deploy/web'), proxy('db-0', 'other', 'sts/db')]));

test('a named namespace resource is the namespace tapped, whatever the namespace parameter says', () => {
  assert.deepEqual(tapScope(parseResource('ns/shop'), 'mine'), { namespace: 'shop', resource: { kind: 'namespace', name: 'shop' } });
  assert.deepEqual(tapScope(parseResource('namespaces/shop'), undefined), { namespace: 'shop', resource: { kind: 'namespace', name: 'shop' } });
  assert.deepEqual(tapScope(parseResource('ns'), 'shop'), { namespace: 'shop', resource: { kind: 'namespace', name: 'shop' } });
  assert.deepEqual(tapScope(parseResource('ns'), undefined), { namespace: undefined, resource: { kind: 'namespace' } });
});

test('workloads and pods are tapped in the namespace parameter, or in every namespace without one', () => {
  assert.deepEqual(tapScope(parseResource('deploy/web'), 'shop'), { namespace: 'shop', resource: { kind: 'deployment', name: 'web' } });
  assert.deepEqual(tapScope(parseResource('po/x'), undefined), { namespace: undefined, resource: { kind: 'pod', name: 'x' } });
});

test('services, routes and namespace names that are not DNS labels are refused', () => {
  assert.throws(() => tapScope(parseResource('svc/web'), 'shop'), (e: unknown) => e instanceof InvalidArgumentError && /tap watches proxies/.test((e as Error).message));
  assert.throws(() => tapScope(parseResource('rt'), 'shop'), InvalidArgumentError);
  assert.throws(() => tapScope(parseResource('ns/a.b'), undefined), /not a valid namespace name/);
});

test('proxies are selected by namespace, workload or pod', () => {
  const names = (resource: string, namespace?: string) => proxiesOf(all, tapScope(parseResource(resource), namespace)).map((t) => `${t.namespace}/${t.name}`);
  assert.deepEqual(names('deploy/books', 'shop'), ['shop/books-1']);
  assert.deepEqual(names('ns/shop'), ['shop/web-1', 'shop/books-1']);
  assert.deepEqual(names('po/x', 'other'), ['other/x']);
  assert.deepEqual(names('deploy/web'), ['shop/web-1', 'other/x']);
  assert.deepEqual(names('sts', 'other'), ['other/db-0']);
  assert.deepEqual(names('ns'), ['shop/web-1', 'shop/books-1', 'other/x', 'other/db-0']);
});

test('no spelling selects a proxy outside the namespace of the scope', () => {
  const resources = ['ns', 'ns/shop', 'ns/other', 'deploy', 'deploy/web', 'sts/db', 'po', 'po/x', 'po/web-1'];
  for (const resource of resources) {
    for (const namespace of [undefined, 'shop', 'other', 'mine']) {
      const scope = tapScope(parseResource(resource), namespace);
      for (const t of proxiesOf(all, scope)) {
        if (scope.namespace !== undefined) assert.equal(t.namespace, scope.namespace, `${resource} with namespace=${namespace} selected ${t.namespace}/${t.name}`);
      }
    }
  }
});
