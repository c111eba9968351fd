// The Kubernetes source against the real kube-apiserver of the e2e
// environment (WEFT_E2E_KUBECONFIG): a Service and EndpointSlice created
// through the API appear on a Get stream; scaling the slice down is observed
// as a removal. Skips, saying why, when no environment is running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { destination } from '@weft/api';
import { k8s, loadKubeConfig } from '@weft/common/k8s/client';
import { Discovery } from '../discovery.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { KubernetesSource } from './kubernetes.js';

const kubeconfig = process.env['WEFT_E2E_KUBECONFIG'];
const skip = kubeconfig ? false : 'WEFT_E2E_KUBECONFIG is not set: no real API server (run under `node test/e2e/run.mjs --exec -- node ci/unit.mjs destination`)';
if (skip) console.log(`# destination kubernetes source test skipped: ${skip}`);

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function slice(ns: string, ips: string[]): k8s.V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'web-e2e', namespace: ns, labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  };
}

test('a Service and EndpointSlice created in the API server stream as endpoints; scaling down streams the removal', { skip }, async (t) => {
  const kc = loadKubeConfig({ kubeconfig: kubeconfig! });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const discoveryApi = kc.makeApiClient(k8s.DiscoveryV1Api);
  const ns = `weft-dst-${randomBytes(3).toString('hex')}`;
  const log = pino({ level: 'warn' });
  await core.createNamespace({ body: { metadata: { name: ns } } });
  const d = new Discovery(DEFAULT_SETTINGS, log);
  const source = new KubernetesSource(kc, log);
  t.after(async () => {
    await source.stop();
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
  });
  await source.start(d.cache);

  const updates: destination.Update[] = [];
  d.watchEndpoints(`web.${ns}.svc.cluster.local:80`, (u) => updates.push(u));
  assert.equal(updates[0]?.update.case, 'noEndpoints', 'nothing there yet');

  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 as never }] } } });
  await discoveryApi.createNamespacedEndpointSlice({ namespace: ns, body: slice(ns, ['10.244.0.10', '10.244.0.11']) });
  const addedIps = () =>
    updates.flatMap((u) => (u.update.case === 'add' ? u.update.value.addrs.map((a) => `${a.addr!.ip}:${a.addr!.port}`) : []));
  await until('both endpoints to stream', () => addedIps().length === 2);
  assert.deepEqual(addedIps().sort(), ['10.244.0.10:8080', '10.244.0.11:8080']);

  await discoveryApi.replaceNamespacedEndpointSlice({ name: 'web-e2e', namespace: ns, body: slice(ns, ['10.244.0.10']) });
  await until('the removal to stream', () => updates.some((u) => u.update.case === 'remove'));
  const removed = updates.find((u) => u.update.case === 'remove')!.update.value as destination.AddrSet;
  assert.deepEqual(removed.addrs.map((a) => a.ip), ['10.244.0.11']);
});
