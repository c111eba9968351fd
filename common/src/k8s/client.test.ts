// Watch against a small in-process API server: start() waits for a
// successful list (retrying a failing one), the cache is typed and filled,
// and watch events reach the handlers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { k8s, watch } from './client.js';
import { createLogger } from '../log.js';

const cm = (name: string, rv: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'weft', resourceVersion: rv, uid: name }, data: {} });

let lists = 0;
const watchers: http.ServerResponse[] = [];
const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname !== '/api/v1/namespaces/weft/configmaps') return void res.writeHead(404).end();
  if (url.searchParams.get('watch') === 'true') {
    res.writeHead(200, { 'content-type': 'application/json' });
    watchers.push(res);
    return;
  }
  lists++;
  // The first list fails, as an API server that is still starting would.
  if (lists === 1) return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"kind":"Status","code":500}');
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMapList', metadata: { resourceVersion: '10' }, items: [cm('weft-identity-trust-roots', '9')] }));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
after(() => {
  for (const w of watchers) w.destroy();
  server.closeAllConnections();
  server.close();
});

function kubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
    currentContext: 'fake',
  });
  return kc;
}

test('a failed first list is retried; synced() resolves once the cache holds the objects', async () => {
  const kc = kubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const added: string[] = [];
  const w = watch(
    kc,
    { path: '/api/v1/namespaces/weft/configmaps', list: () => core.listNamespacedConfigMap({ namespace: 'weft' }), log: createLogger('test', 'silent') },
    { add: (o) => added.push(o.metadata!.name!) },
  );
  await w.start();
  await w.synced();
  assert.ok(lists >= 2, 'the failed list was retried');
  assert.ok(w.hasSynced());
  assert.equal(w.get('weft-identity-trust-roots', 'weft')?.metadata?.resourceVersion, '9');
  assert.deepEqual(added, ['weft-identity-trust-roots']);

  // A watch event reaches the handler and the cache.
  while (watchers.length === 0) await new Promise((r) => setTimeout(r, 20));
  watchers[watchers.length - 1]!.write(JSON.stringify({ type: 'ADDED', object: cm('weft-identity-issuer-extra', '11') }) + '\n');
  while (!added.includes('weft-identity-issuer-extra')) await new Promise((r) => setTimeout(r, 20));
  assert.equal(w.list('weft').length, 2);
  await w.stop();
});
