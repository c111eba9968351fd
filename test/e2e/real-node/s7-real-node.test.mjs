// Scenario 7 (real node): a pod on a real kubelet + containerd + runc node,
// from images pulled out of the loopback registry, with a regular init
// container, a native sidecar, non-root, a read-only root filesystem, no
// capabilities, CPU/memory limits, a projected ServiceAccount token and a
// Secret volume; the kubelet's startup, readiness and liveness probes; a
// hostPort (CNI portmap); and a ClusterIP Service reached from another pod
// through kube-proxy (iptables). Run by `npm run test:e2e` (test/e2e/run.mjs).
/* global fetch, AbortSignal */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { loadEnv, waitFor } from '../lib/env.mjs';

const NS = 'weft-e2e-real';
const HOST_PORT = 18080;
const AUDIENCE = 'weft-e2e-real';

const env = process.env.WEFT_E2E_KUBECONFIG ? loadEnv() : undefined;
const rn = env?.state.realNode;

const jwtPayload = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString());

async function getJson(url, init) {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${text}`);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const restricted = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
};
const limits = { requests: { cpu: '50m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } };

function serverPod(image) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'probe-server', namespace: NS, labels: { app: 'probe-server' } },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': rn.name },
      terminationGracePeriodSeconds: 2,
      securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      initContainers: [
        {
          name: 'init',
          image,
          args: ['write', '/work/init-done', 'init ran'],
          securityContext: restricted,
          resources: limits,
          volumeMounts: [{ name: 'work', mountPath: '/work' }],
        },
        {
          // A native sidecar: started in its turn, kept running; the app starts once its startupProbe passes.
          name: 'sidecar',
          image,
          restartPolicy: 'Always',
          args: ['serve', '8081'],
          env: [{ name: 'POD_NAME', value: 'sidecar' }],
          startupProbe: { httpGet: { path: '/healthz', port: 8081 }, periodSeconds: 1, failureThreshold: 60 },
          securityContext: restricted,
          resources: limits,
        },
      ],
      containers: [
        {
          name: 'app',
          image,
          args: ['serve', '8080'],
          ports: [{ name: 'http', containerPort: 8080, hostPort: HOST_PORT }],
          env: [
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'PROBE_FILES', value: '/work/init-done,/etc/probe-secret/greeting,/var/run/secrets/weft-e2e/token,/var/run/secrets/kubernetes.io/serviceaccount/namespace' },
          ],
          readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1, failureThreshold: 1 },
          livenessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 2, failureThreshold: 1 },
          securityContext: restricted,
          resources: limits,
          volumeMounts: [
            { name: 'work', mountPath: '/work', readOnly: true },
            { name: 'secret', mountPath: '/etc/probe-secret', readOnly: true },
            { name: 'token', mountPath: '/var/run/secrets/weft-e2e', readOnly: true },
          ],
        },
      ],
      volumes: [
        { name: 'work', emptyDir: {} },
        { name: 'secret', secret: { secretName: 'probe-secret', defaultMode: 0o440 } },
        { name: 'token', projected: { sources: [{ serviceAccountToken: { audience: AUDIENCE, expirationSeconds: 3600, path: 'token' } }] } },
      ],
    },
  };
}

function clientPod(image) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'probe-client', namespace: NS, labels: { app: 'probe-client' } },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': rn.name },
      terminationGracePeriodSeconds: 2,
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{
        name: 'client',
        image,
        args: ['serve', '8080'],
        env: [{ name: 'POD_NAME', value: 'probe-client' }],
        readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
        securityContext: restricted,
        resources: limits,
      }],
    },
  };
}

const podPath = (name) => `/api/v1/namespaces/${NS}/pods/${name}`;
const isReady = (pod) => pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

test('s7: real node: kubelet + containerd pod from the loopback registry', async (t) => {
  // Never a silent skip: this file only runs under test/e2e/run.mjs, which sets these.
  assert.ok(env && rn, 'no real node: run `npm run test:e2e` (sets WEFT_E2E_KUBECONFIG and WEFT_E2E_STATE with realNode)');
  const { kube } = env;
  const probeImage = rn.images.probe;
  const registryHost = rn.registry;

  await t.test('the node is a real kubelet on containerd', async () => {
    const node = await kube.get(`/api/v1/nodes/${rn.name}`);
    const info = node.status.nodeInfo;
    console.log(`# node ${rn.name}: kubelet ${info.kubeletVersion}, ${info.containerRuntimeVersion}, ${info.osImage}`);
    assert.equal(info.kubeletVersion, env.state.versions.kubernetes);
    assert.match(info.containerRuntimeVersion, /^containerd:\/\/1\.6\./);
    assert.ok(node.status.addresses.some((a) => a.type === 'InternalIP' && a.address === '198.18.0.2'), JSON.stringify(node.status.addresses));
    assert.ok(isReady(node));
  });

  await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  try {
    const greeting = `hello from ${Date.now()}`;
    await kube.create(`/api/v1/namespaces/${NS}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'probe-secret' }, stringData: { greeting } });
    // The ServiceAccount controller creates `default`; pods are refused until it exists.
    await waitFor('ServiceAccount default', () => kube.getOrNull(`/api/v1/namespaces/${NS}/serviceaccounts/default`), { timeoutMs: 60_000 });
    await kube.create(`/api/v1/namespaces/${NS}/pods`, serverPod(probeImage));
    await kube.create(`/api/v1/namespaces/${NS}/pods`, clientPod(probeImage));
    const svc = await kube.create(`/api/v1/namespaces/${NS}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'probe-server' },
      spec: { selector: { app: 'probe-server' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });

    let server;
    await t.test('the pod reaches Running and Ready with a pod IP; init container, native sidecar and app in order', async () => {
      server = await waitFor('probe-server Ready', async () => {
        const p = await kube.get(podPath('probe-server'));
        if (p.status?.reason === 'Failed' || p.status?.containerStatuses?.some((c) => c.state?.waiting?.reason?.match(/ErrImagePull|ImagePullBackOff|CreateContainer/))) {
          throw new Error(`pod failing: ${JSON.stringify(p.status)}`);
        }
        return isReady(p) ? p : undefined;
      }, { timeoutMs: 180_000, intervalMs: 500 });
      assert.equal(server.status.phase, 'Running');
      assert.match(server.status.podIP, /^198\.18\.1\.(\d+)$/);
      assert.notEqual(server.status.podIP, '198.18.1.1');
      assert.equal(server.status.hostIP, '198.18.0.2');
      const [init, sidecar] = server.status.initContainerStatuses;
      assert.equal(init.name, 'init');
      assert.equal(init.state.terminated?.exitCode, 0, JSON.stringify(init.state));
      assert.equal(init.state.terminated.reason, 'Completed');
      assert.equal(sidecar.name, 'sidecar');
      assert.ok(sidecar.state.running, JSON.stringify(sidecar.state));
      assert.equal(sidecar.started, true);
      assert.equal(sidecar.ready, true);
      // The app starts only after the sidecar is started, which starts only after init finished.
      assert.ok(new Date(sidecar.state.running.startedAt) >= new Date(init.state.terminated.finishedAt));
      const app = server.status.containerStatuses[0];
      assert.ok(new Date(app.state.running.startedAt) >= new Date(sidecar.state.running.startedAt));
      console.log(`# probe-server: podIP ${server.status.podIP}, init Completed, sidecar started, app Ready`);
    });

    await t.test('the images came from the loopback registry, and only from it', () => {
      const app = server.status.containerStatuses[0];
      assert.equal(app.image, probeImage);
      assert.equal(app.imageID, `${probeImage.split(':').slice(0, -1).join(':')}@${rn.imageDigests.probe}`);
      const images = execFileSync('/usr/bin/ctr', ['--address', rn.containerdSock, '-n', 'k8s.io', 'images', 'ls', '-q'], { encoding: 'utf8' }).split('\n').filter(Boolean);
      assert.ok(images.includes(rn.images.pause), `pause image pulled: ${images.join(' ')}`);
      for (const i of images) assert.ok(i.startsWith(`${registryHost}/`) || i.startsWith('sha256:'), `image ${i} is not from ${registryHost}`);
      const regLog = readFileSync(join(env.state.runDir, 'registry.log'), 'utf8');
      // containerd resolves the tag (HEAD), then fetches the manifest by digest.
      for (const [repo, tag] of [['probe', '1'], ['pause', '3.10']]) {
        assert.ok(regLog.includes(`"HEAD /v2/weft-e2e/${repo}/manifests/${tag} HTTP/1.1" 200`), `containerd resolved weft-e2e/${repo}:${tag} at the registry`);
        assert.ok(regLog.includes(`"GET /v2/weft-e2e/${repo}/manifests/${rn.imageDigests[repo]} HTTP/1.1" 200`), `containerd fetched weft-e2e/${repo}@${rn.imageDigests[repo]}`);
      }
    });

    await t.test('non-root, read-only root, no capabilities, secret and projected token mounted', async () => {
      const c = await getJson(`http://${server.status.podIP}:8080/check`);
      assert.equal(c.uid, 65532);
      assert.equal(c.gid, 65532);
      assert.equal(c.CapEff, '0000000000000000');
      assert.equal(c.CapBnd, '0000000000000000');
      assert.equal(c.NoNewPrivs, '1');
      assert.equal(c.rootWritable, false);
      assert.match(c.rootWriteError, /read-only file system/);
      assert.equal(c.files['/work/init-done'], 'init ran');
      assert.equal(c.files['/etc/probe-secret/greeting'], greeting);
      assert.equal(c.files['/var/run/secrets/kubernetes.io/serviceaccount/namespace'], NS);
      const token = c.files['/var/run/secrets/weft-e2e/token'];
      assert.doesNotMatch(token, /^ERROR/);
      const claims = jwtPayload(token);
      assert.deepEqual(claims.aud, [AUDIENCE]);
      assert.equal(claims.sub, `system:serviceaccount:${NS}:default`);
      assert.equal(claims['kubernetes.io'].pod.name, 'probe-server');
      assert.equal(claims['kubernetes.io'].node?.name, rn.name);
      const review = await kube.create('/apis/authentication.k8s.io/v1/tokenreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [AUDIENCE] } });
      assert.equal(review.status.authenticated, true, JSON.stringify(review.status));
      assert.equal(review.status.user.username, `system:serviceaccount:${NS}:default`);
    });

    await t.test('CPU and memory limits are the container cgroup\'s', () => {
      const app = server.status.containerStatuses[0];
      const id = app.containerID.replace('containerd://', '');
      const podDir = `pod${server.metadata.uid}`;
      const find = (hier) => {
        const root = `/sys/fs/cgroup/${hier}/weft-e2e-real/kubepods`;
        for (const qos of ['', 'burstable', 'besteffort']) {
          const p = join(root, qos, podDir, id);
          if (existsSync(p)) return p;
        }
        throw new Error(`no ${hier} cgroup for ${id} under ${root}: ${readdirSync(root).join(' ')}`);
      };
      assert.equal(readFileSync(join(find('memory'), 'memory.limit_in_bytes'), 'utf8').trim(), String(64 * 1024 * 1024));
      assert.equal(readFileSync(join(find('cpu'), 'cpu.cfs_quota_us'), 'utf8').trim(), '20000');
      assert.equal(readFileSync(join(find('cpu'), 'cpu.cfs_period_us'), 'utf8').trim(), '100000');
      assert.ok(server.status.qosClass === 'Burstable');
    });

    await t.test('the kubelet\'s readiness probe takes the pod out of and back into the Service', async () => {
      const epReady = async () => {
        const l = await kube.get(`/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dprobe-server`);
        return l.items.flatMap((s) => s.endpoints ?? []).some((e) => e.addresses.includes(server.status.podIP) && e.conditions?.ready);
      };
      await waitFor('endpoint ready', epReady, { timeoutMs: 60_000 });
      await getJson(`http://${server.status.podIP}:8080/unready`);
      await waitFor('Ready=False from the readiness probe', async () => !isReady(await kube.get(podPath('probe-server'))), { timeoutMs: 60_000 });
      await waitFor('endpoint not ready', async () => !(await epReady()), { timeoutMs: 60_000 });
      await getJson(`http://${server.status.podIP}:8080/ready`, { method: 'POST' });
      await waitFor('Ready=True again', async () => isReady(await kube.get(podPath('probe-server'))), { timeoutMs: 60_000 });
      await waitFor('endpoint ready again', epReady, { timeoutMs: 60_000 });
    });

    await t.test('a ClusterIP Service reaches the pod from another pod (kube-proxy, iptables)', async () => {
      const client = await waitFor('probe-client Ready', async () => {
        const p = await kube.get(podPath('probe-client'));
        return isReady(p) ? p : undefined;
      }, { timeoutMs: 120_000, intervalMs: 500 });
      const url = `http://${client.status.podIP}:8080/get?url=${encodeURIComponent(`http://${svc.spec.clusterIP}/whoami`)}`;
      const r = await waitFor('client → ClusterIP → server', async () => {
        const res = await getJson(url);
        return res.status === 200 ? res : undefined;
      }, { timeoutMs: 60_000, intervalMs: 500 });
      assert.equal(r.body.trim(), 'probe-server');
      // And the pod behind its own Service (hairpin on the bridge).
      const self = await getJson(`http://${server.status.podIP}:8080/get?url=${encodeURIComponent(`http://${svc.spec.clusterIP}/whoami`)}`);
      assert.equal(self.status, 200);
      assert.equal(self.body.trim(), 'probe-server');
      // By name, through the pod's resolv.conf (the kubelet's clusterDNS).
      const byName = await getJson(`http://${client.status.podIP}:8080/get?url=${encodeURIComponent(`http://probe-server.${NS}.svc.cluster.local/whoami`)}`);
      assert.equal(byName.status, 200, JSON.stringify(byName));
      assert.equal(byName.body.trim(), 'probe-server');
      console.log(`# ${client.status.podIP} → ${svc.spec.clusterIP}:80 (also as probe-server.${NS}.svc.cluster.local) → ${server.status.podIP}:8080 ok`);
    });

    await t.test('the hostPort answers on the node address (CNI portmap)', async () => {
      const who = await waitFor('hostPort', () => getJson(`http://198.18.0.2:${HOST_PORT}/whoami`), { timeoutMs: 30_000 });
      assert.equal(who.trim(), 'probe-server');
    });

    await t.test('the kubelet\'s liveness probe restarts the app container', async () => {
      await getJson(`http://${server.status.podIP}:8080/fail-liveness`);
      const p = await waitFor('app restarted and Ready', async () => {
        const pod = await kube.get(podPath('probe-server'));
        return pod.status.containerStatuses[0].restartCount >= 1 && isReady(pod) ? pod : undefined;
      }, { timeoutMs: 120_000, intervalMs: 500 });
      const app = p.status.containerStatuses[0];
      assert.equal(app.lastState.terminated?.reason, 'Error', JSON.stringify(app.lastState));
      assert.equal(p.status.initContainerStatuses[1].restartCount, 0, 'the sidecar kept running');
      // The container log the kubelet keeps for it (CRI log format), both runs.
      const dir = join(rn.podLogsDir, `${NS}_probe-server_${p.metadata.uid}`, 'app');
      const logs = readdirSync(dir).sort();
      assert.ok(logs.length >= 2, `app logs: ${logs.join(' ')}`);
      assert.match(readFileSync(join(dir, logs[0]), 'utf8'), /stdout F probe serving on :8080/);
    });
  } finally {
    await kube.delete(`/api/v1/namespaces/${NS}`).catch(() => {});
    await waitFor(`namespace ${NS} gone`, async () => !(await kube.getOrNull(`/api/v1/namespaces/${NS}`)), { timeoutMs: 120_000, intervalMs: 500 });
  }
});
