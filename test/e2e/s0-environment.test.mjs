// Scenario 0: the environment is real Kubernetes. The API server reports the
// version it was built as, ServiceAccount tokens round-trip through
// TokenRequest and TokenReview and RBAC applies to them, a Deployment becomes
// a ReplicaSet, Pods the kubelet runs from the registry's echo image and an
// EndpointSlice that kube-proxy routes a Service's cluster IP with, and
// cert-manager issues a certificate from a CA Issuer.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { loadEnv, notRunning, waitFor } from './lib/env.mjs';

/** The node's containerd tasks (container ids), to see the kubelet stop containers. */
const runningTasks = (sock) => execFileSync('/usr/bin/ctr', ['--address', sock, '-n', 'k8s.io', 'tasks', 'ls', '-q'], { encoding: 'utf8' }).split('\n').filter(Boolean);

const NS = 'weft-e2e-smoke';
let env;

before(async () => {
  if (notRunning) return;
  env = loadEnv();
  await env.kube.ensure('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
});

after(async () => {
  if (!env) return;
  await env.kube.delete(`/api/v1/namespaces/${NS}`).catch(() => {});
  // Namespace deletion is real: wait until the namespace controller has emptied it (pods stopped by the kubelet).
  await waitFor(`namespace ${NS} gone`, async () => (await env.kube.getOrNull(`/api/v1/namespaces/${NS}`)) === undefined, { timeoutMs: 120_000 }).catch((err) => console.log(`# ${err.message}`));
  env.kube.close();
});

test('the API server reports the Kubernetes version it was built from', { skip: notRunning }, async () => {
  const v = await env.kube.get('/version');
  assert.match(v.gitVersion, /^v1\.33\.\d+$/);
  assert.equal(v.gitVersion, env.state.versions.kubernetes);
  assert.equal(v.major, '1');
  assert.equal(v.minor, '33');
  console.log(`# Kubernetes ${v.gitVersion}, cert-manager ${env.state.versions['cert-manager']}, etcd ${env.state.versions.etcd}`);
});

test('a ServiceAccount token from TokenRequest passes a real TokenReview and is held to RBAC', { skip: notRunning }, async () => {
  await env.kube.ensure(`/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'probe' } });
  const tr = await env.kube.create(`/api/v1/namespaces/${NS}/serviceaccounts/probe/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { audiences: ['identity.weft.io'], expirationSeconds: 600 },
  });
  const token = tr.status.token;
  const review = (tok, audiences) =>
    env.kube.create('/apis/authentication.k8s.io/v1/tokenreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: tok, audiences } });
  const ok = await review(token, ['identity.weft.io']);
  assert.equal(ok.status.authenticated, true, JSON.stringify(ok.status));
  assert.equal(ok.status.user.username, `system:serviceaccount:${NS}:probe`);
  assert.deepEqual(ok.status.audiences, ['identity.weft.io']);
  const wrongAudience = await review(token, ['someone-else']);
  assert.notEqual(wrongAudience.status.authenticated, true);
  const [h, p, s] = token.split('.');
  const tampered = await review(`${h}.${p}.${s.slice(0, -4)}AAAA`, ['identity.weft.io']);
  assert.notEqual(tampered.status.authenticated, true);

  // The same mechanism gives each weft component its kubeconfig: authenticated, but only as far as RBAC allows.
  const path = await env.serviceAccountKubeconfig(NS, 'probe');
  const { Kube } = await import('./lib/kube.mjs');
  const asSa = Kube.fromKubeconfig(path);
  try {
    const who = await asSa.create('/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
    assert.equal(who.status.userInfo.username, `system:serviceaccount:${NS}:probe`);
    await assert.rejects(asSa.get(`/api/v1/namespaces/${NS}/secrets`), (err) => err.status === 403);
    await env.kube.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'read-secrets' },
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }],
    });
    await env.kube.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'read-secrets' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-secrets' },
      subjects: [{ kind: 'ServiceAccount', name: 'probe', namespace: NS }],
    });
    await waitFor('RBAC grant to take effect', async () => (await asSa.get(`/api/v1/namespaces/${NS}/secrets`)).kind === 'SecretList', { timeoutMs: 30_000 });
  } finally {
    asSa.close();
  }
});

const echoDeployment = (name, replicas, image) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        terminationGracePeriodSeconds: 2,
        containers: [{
          name: 'echo',
          image,
          ports: [{ name: 'http', containerPort: 8080 }],
          env: [
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          ],
          readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1 },
        }],
      },
    },
  },
});

test('a Deployment becomes Pods on the node and an EndpointSlice kube-proxy routes its Service by', { skip: notRunning }, async () => {
  assert.ok(env.state.node, `no node in this environment: ${env.state.nodeSkipReason}`);
  await env.kube.create(`/apis/apps/v1/namespaces/${NS}/deployments`, echoDeployment('echo', 2, env.echoImage));
  const svc = await env.kube.create(`/api/v1/namespaces/${NS}/services`, {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo' },
    spec: { selector: { app: 'echo' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  });
  const clusterIP = svc.spec.clusterIP;

  const rs = await waitFor('a ReplicaSet owned by the Deployment', async () => {
    const list = await env.kube.get(`/apis/apps/v1/namespaces/${NS}/replicasets?labelSelector=app%3Decho`);
    return list.items.find((r) => r.metadata.ownerReferences?.[0]?.kind === 'Deployment');
  });
  const pods = await waitFor('2 Ready pods with IPs on the node', async () => {
    const list = await env.kube.get(`/api/v1/namespaces/${NS}/pods?labelSelector=app%3Decho`);
    const ready = list.items.filter((p) => p.status.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return ready.length === 2 ? ready : undefined;
  }, { timeoutMs: 120_000 });
  for (const p of pods) {
    assert.equal(p.spec.nodeName, env.state.node, 'scheduled by kube-scheduler onto the real node');
    assert.equal(p.metadata.ownerReferences[0].name, rs.metadata.name);
    const [c] = p.status.containerStatuses;
    assert.ok(c.imageID.endsWith(`@${env.state.realNode.weftImages.images.echo.digest}`), `${p.metadata.name} runs the pushed echo image: ${c.imageID}`);
  }
  const containerIds = pods.map((p) => p.status.containerStatuses[0].containerID.replace('containerd://', ''));
  const podIPs = pods.map((p) => p.status.podIP).sort();

  const slice = await waitFor('an EndpointSlice with both pods ready', async () => {
    const list = await env.kube.get(`/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Decho`);
    const eps = list.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready);
    const ips = eps.flatMap((e) => e.addresses).sort();
    return JSON.stringify(ips) === JSON.stringify(podIPs) ? list.items[0] : undefined;
  }, { timeoutMs: 60_000 });
  assert.equal(slice.ports[0].port, 8080);

  // The Service's cluster IP routes through kube-proxy's rules to a pod (from the host) ...
  const served = new Set();
  // curl: a new connection per request, so kube-proxy's random backend choice shows (a pooled fetch sticks to one).
  await waitFor('cluster IP answering from both pods', async () => {
    const body = JSON.parse(execFileSync('curl', ['-sf', '--max-time', '5', `http://${clusterIP}/hello`], { encoding: 'utf8' }));
    assert.equal(body.path, '/hello');
    served.add(body.pod);
    return served.size === 2;
  }, { timeoutMs: 60_000, intervalMs: 100 });
  assert.deepEqual([...served].sort(), pods.map((p) => p.metadata.name).sort());

  // ... and from inside a pod, by the Service's short name (the pod's resolv.conf: search path, cluster DNS).
  const inPod = await env.podNet(NS, pods[0].metadata.name);
  const out = await waitFor('service name resolving inside a pod', () =>
    execFileSync(inPod[0], [...inPod.slice(1), 'curl', '-sf', '--max-time', '5', 'http://echo/from-pod'], { encoding: 'utf8' }), { timeoutMs: 30_000 });
  const body = JSON.parse(out);
  assert.equal(body.path, '/from-pod');
  assert.ok(pods.some((p) => p.metadata.name === body.pod));

  // Scaling down is real too: pods go, and so do their endpoints and containers.
  await env.kube.patch(`/apis/apps/v1/namespaces/${NS}/deployments/echo`, { spec: { replicas: 0 } });
  await waitFor('EndpointSlice emptied after scale to 0', async () => {
    const list = await env.kube.get(`/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Decho`);
    return list.items.every((s) => (s.endpoints ?? []).length === 0);
  }, { timeoutMs: 90_000 });
  await waitFor('the pods\' containers stopped by the kubelet', () => {
    const tasks = runningTasks(env.state.realNode.containerdSock);
    return containerIds.every((id) => !tasks.includes(id));
  }, { timeoutMs: 60_000 });
});

test('a pod with an image no reachable registry has fails with ErrImagePull, and nothing leaves the machine', { skip: notRunning }, async () => {
  assert.ok(env.state.node, `no node in this environment: ${env.state.nodeSkipReason}`);
  await env.kube.create(`/api/v1/namespaces/${NS}/pods`, {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unknown-image' },
    spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'docker.io/library/nginx:1.27' }] },
  });
  const st = await waitFor('ErrImagePull status', async () => {
    const p = await env.kube.get(`/api/v1/namespaces/${NS}/pods/unknown-image`);
    return p.status.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImagePull' ? p.status : undefined;
  }, { timeoutMs: 60_000 });
  assert.equal(st.phase, 'Pending');
  // containerd's docker.io host is a closed loopback port (certs.d): the pull fails there, not on the internet.
  assert.match(st.containerStatuses[0].state.waiting.message, /docker\.io\/library\/nginx:1\.27[\s\S]*127\.0\.0\.1:1\b/);
});

test('cert-manager issues a Certificate from a CA Issuer into a kubernetes.io/tls Secret', { skip: notRunning }, async () => {
  const cm = (kind, name, spec) => ({ apiVersion: 'cert-manager.io/v1', kind, metadata: { name }, spec });
  const base = `/apis/cert-manager.io/v1/namespaces/${NS}`;
  await env.kube.create(`${base}/issuers`, cm('Issuer', 'selfsigned', { selfSigned: {} }));
  await env.kube.create(`${base}/certificates`, cm('Certificate', 'root-ca', {
    isCA: true, commonName: 'weft-e2e root', secretName: 'root-ca', duration: '24h',
    privateKey: { algorithm: 'ECDSA', size: 256 }, issuerRef: { name: 'selfsigned', kind: 'Issuer' },
  }));
  await env.kube.create(`${base}/issuers`, cm('Issuer', 'ca', { ca: { secretName: 'root-ca' } }));
  await env.kube.create(`${base}/certificates`, cm('Certificate', 'leaf', {
    secretName: 'leaf-tls', dnsNames: ['leaf.weft-e2e-smoke.svc.cluster.local'], duration: '1h',
    privateKey: { algorithm: 'ECDSA', size: 256 }, issuerRef: { name: 'ca', kind: 'Issuer' },
  }));
  await waitFor('Certificate leaf Ready', async () => {
    const c = await env.kube.get(`${base}/certificates/leaf`);
    return c.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');
  }, { timeoutMs: 120_000 });
  const secret = await env.kube.get(`/api/v1/namespaces/${NS}/secrets/leaf-tls`);
  assert.equal(secret.type, 'kubernetes.io/tls');
  const d = (k) => Buffer.from(secret.data[k], 'base64').toString();
  const root = await env.kube.get(`/api/v1/namespaces/${NS}/secrets/root-ca`);
  assert.equal(d('ca.crt'), Buffer.from(root.data['tls.crt'], 'base64').toString(), 'ca.crt is the CA Issuer certificate');
  const caFile = env.writeFile('smoke-ca.crt', d('ca.crt'));
  const leafFile = env.writeFile('smoke-leaf.crt', d('tls.crt'));
  assert.match(execFileSync('openssl', ['verify', '-CAfile', caFile, leafFile], { encoding: 'utf8' }), /OK/);
  assert.match(execFileSync('openssl', ['x509', '-in', leafFile, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' }), /DNS:leaf\.weft-e2e-smoke\.svc\.cluster\.local/);
  const keyFile = env.writeFile('smoke-leaf.key', d('tls.key'));
  const pub = (args) => execFileSync('openssl', args, { encoding: 'utf8' });
  assert.equal(pub(['pkey', '-in', keyFile, '-pubout']), pub(['x509', '-in', leafFile, '-noout', '-pubkey']), 'tls.key matches tls.crt');
});
