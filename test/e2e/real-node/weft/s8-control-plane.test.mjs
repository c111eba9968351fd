// Scenario 8: weft's control plane chart (the packaged .tgz) runs as pods on the real kubelet from weft's own images
// (`npm run images -- --push <loopback registry>/weft`), installed with helm
// as an operator would (cert-manager issues the identity issuer and webhook
// certificates). Every control-plane pod must turn Ready from images whose
// digests are the pushed ones; then two pods in an injected namespace (weft-init
// and the proxy as real containers) talk mTLS through a ClusterIP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadEnv, waitFor } from '../../lib/env.mjs';
import { installWeft, uninstallWeft, chartsMissing, WEFT_NS } from '../../lib/weft-install.mjs';
import { echoThrough } from '../../lib/scenario-setup.mjs';
import { injectorServing } from '../../lib/node-pods.mjs';

const MESH_NS = 'weft-e2e-real-mesh';
const env = process.env.WEFT_E2E_KUBECONFIG ? loadEnv() : undefined;
const rn = env?.state.realNode;

/** The last lines of every container log the kubelet keeps for a pod (CRI log files). */
function podLogs(root, ns, name) {
  const out = [];
  for (const d of readdirSync(root).filter((n) => n.startsWith(`${ns}_${name}_`))) {
    for (const c of readdirSync(join(root, d))) {
      for (const f of readdirSync(join(root, d, c)).sort()) {
        out.push(`--- ${c}/${f}`, readFileSync(join(root, d, c, f), 'utf8').split('\n').slice(-15).join('\n'));
      }
    }
  }
  return out.join('\n');
}

test('s8: weft control plane on the real node from the pushed images', async (t) => {
  assert.ok(env && rn?.weftImages, 'no pushed weft images: run `npm run test:e2e`');
  assert.equal(chartsMissing(env), undefined);
  const { kube } = env;
  const { registry, tag, images } = rn.weftImages;
  let releases = [];
  try {
    const r = await installWeft(env, { extraSet: [`image.registry=${registry}`, `image.tag=${tag}`] });
    releases = r.releases;

    await t.test('every control-plane pod is Ready on the real node', async () => {
      const pods = await waitFor('weft control-plane pods Ready', async () => {
        const l = await kube.get(`/api/v1/namespaces/${WEFT_NS}/pods`);
        const bad = l.items.filter((p) => p.status?.containerStatuses?.some((c) => /ErrImagePull|ImagePullBackOff|CreateContainerError|CrashLoopBackOff/.test(c.state?.waiting?.reason ?? '')));
        if (bad.length) throw new Error(`failing: ${bad.map((p) => `${p.metadata.name} ${JSON.stringify(p.status.containerStatuses.map((c) => c.state))}`).join('; ')}`);
        const ready = l.items.length >= 3 && l.items.every((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        return ready ? l.items : undefined;
      }, { timeoutMs: 300_000, intervalMs: 1000 });
      for (const p of pods) {
        assert.equal(p.spec.nodeName, rn.name);
        for (const c of [...(p.status.initContainerStatuses ?? []), ...p.status.containerStatuses]) {
          const name = c.image.split('/').pop().split(':')[0];
          assert.ok(c.image.startsWith(`${registry}/`), `${p.metadata.name}/${c.name}: ${c.image}`);
          assert.ok(c.imageID.endsWith(`@${images[name].digest}`), `${p.metadata.name}/${c.name}: ${c.imageID} is not the pushed ${images[name].digest}`);
        }
        console.log(`# ${p.metadata.name}: Ready on ${p.spec.nodeName}, ${p.status.podIP}, ${p.status.containerStatuses.map((c) => c.image).join(' ')}`);
      }
    });

    await t.test('meshed HTTP between injected pods on the real node is mTLS', async () => {
      await injectorServing(env);
      await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: MESH_NS, annotations: { 'weft.io/inject': 'enabled' } } });
      await waitFor('default ServiceAccount', () => kube.getOrNull(`/api/v1/namespaces/${MESH_NS}/serviceaccounts/default`), { timeoutMs: 60_000 });
      await kube.create(`/api/v1/namespaces/${MESH_NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'client' } });
      const echo = `${registry}/weft-e2e/echo:1`;
      const pod = (name, sa) => ({
        apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: name } },
        spec: {
          serviceAccountName: sa, terminationGracePeriodSeconds: 2,
          containers: [{ name, image: echo, ports: [{ name: 'http', containerPort: 8080 }], env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] }],
        },
      });
      await kube.create(`/api/v1/namespaces/${MESH_NS}/pods`, pod('web', 'default'));
      await kube.create(`/api/v1/namespaces/${MESH_NS}/pods`, pod('client', 'client'));
      const svc = await kube.create(`/api/v1/namespaces/${MESH_NS}/services`, {
        apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' },
        spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
      });
      const ready = async (name) => waitFor(`${MESH_NS}/${name} Ready`, async () => {
        const p = await kube.get(`/api/v1/namespaces/${MESH_NS}/pods/${name}`);
        const waiting = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])].map((c) => c.state?.waiting?.reason).filter(Boolean);
        if (waiting.some((r) => /ErrImagePull|ImagePullBackOff|CreateContainerError|CrashLoopBackOff/.test(r))) throw new Error(`${name}: ${JSON.stringify(p.status)}`);
        return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
      }, { timeoutMs: 120_000, intervalMs: 1000 });
      const withLogs = (name) => (err) => {
        err.message += `\n${podLogs(rn.podLogsDir, MESH_NS, name)}`;
        throw err;
      };
      const web = await ready('web').catch(withLogs('web'));
      const client = await ready('client').catch(withLogs('client'));
      const names = [...(web.spec.initContainers ?? []), ...web.spec.containers].map((c) => c.name);
      assert.ok(names.some((n) => /proxy/.test(n)) && names.some((n) => /init/.test(n)), `injected: ${names.join(', ')}`);
      for (const c of web.status.initContainerStatuses) assert.ok(c.image.startsWith(`${registry}/`), c.image);
      // The client pod's network namespace, through its container's pid (containerd made it).
      const app = client.status.containerStatuses.find((c) => c.name === 'client');
      const id = app.containerID.replace('containerd://', '');
      const tasks = execFileSync('/usr/bin/ctr', ['--address', rn.containerdSock, '-n', 'k8s.io', 'tasks', 'ls'], { encoding: 'utf8' });
      const pid = tasks.split('\n').find((l) => l.startsWith(id))?.split(/\s+/)[1];
      assert.ok(pid, `task of ${id}`);
      const body = await echoThrough(['nsenter', `--net=/proc/${pid}/ns/net`], `http://${svc.spec.clusterIP}/mtls`, '/mtls');
      assert.equal(body.pod, 'web');
      assert.equal(body.clientId, `client.${MESH_NS}.serviceaccount.identity.${WEFT_NS}.cluster.local`, 'the server-side proxy authenticated the client by its certificate');
      console.log(`# client → ${svc.spec.clusterIP} → web over mTLS, client id ${body.clientId}`);
    });
  } finally {
    await kube.delete(`/api/v1/namespaces/${MESH_NS}`).catch(() => {});
    await waitFor(`namespace ${MESH_NS} gone`, async () => !(await kube.getOrNull(`/api/v1/namespaces/${MESH_NS}`)), { timeoutMs: 120_000 }).catch((err) => console.log(`# ${err.message}`));
    await uninstallWeft(env, releases);
  }
});
