import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatDnsIdentity } from '@weft/common/identity-name';
import type { k8s } from '@weft/common/k8s/client';
import { inject, uninject, isInjected, type PodLike } from './inject.js';
import { awaitScript } from './proxy-spec.js';
import { owningWorkload } from './workload.js';
import { testMesh } from './testing/test-mesh.js';

const mesh = testMesh();

function pod(annotations?: Record<string, string>, spec: Partial<k8s.V1PodSpec> = {}): PodLike {
  return {
    metadata: { name: 'web-1', ...(annotations ? { annotations } : {}) },
    spec: { containers: [{ name: 'app', image: 'nginx', ports: [{ containerPort: 8080 }] }], ...spec },
  };
}

const env = (p: PodLike, name: string): string | undefined => {
  const proxy = [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].find((c) => c.name === 'weft-proxy');
  return proxy?.env?.find((e) => e.name === name)?.value;
};

test('a namespace with weft.io/inject: enabled meshes its pods', () => {
  const r = inject(pod(), mesh, { namespace: 'shop', namespaceAnnotations: { 'weft.io/inject': 'enabled' } });
  assert.equal(r.injected, true);
  assert.ok(isInjected(r.pod));
});

test('without any weft.io/inject annotation the webhook leaves the pod alone', () => {
  const input = pod();
  const r = inject(input, mesh, { namespace: 'shop', namespaceAnnotations: {} });
  assert.equal(r.injected, false);
  assert.equal(r.pod, input);
});

test("the pod's annotation wins over its namespace's", () => {
  const off = inject(pod({ 'weft.io/inject': 'disabled' }), mesh, { namespace: 'shop', namespaceAnnotations: { 'weft.io/inject': 'enabled' } });
  assert.equal(off.injected, false);
  assert.match(off.reason, /disabled on the pod/);
  const on = inject(pod({ 'weft.io/inject': 'enabled' }), mesh, { namespace: 'shop', namespaceAnnotations: { 'weft.io/inject': 'disabled' } });
  assert.equal(on.injected, true);
});

test('kube-system and the control-plane namespace are never injected', () => {
  for (const namespace of ['kube-system', mesh.controlPlaneNamespace]) {
    const r = inject(pod({ 'weft.io/inject': 'enabled' }), mesh, { namespace, namespaceAnnotations: { 'weft.io/inject': 'enabled' } });
    assert.equal(r.injected, false, namespace);
  }
});

test('hostNetwork pods and injected pods are skipped unchanged', () => {
  const host = pod({ 'weft.io/inject': 'enabled' }, { hostNetwork: true });
  assert.equal(inject(host, mesh, { namespace: 'shop' }).pod, host);
  const once = inject(pod({ 'weft.io/inject': 'enabled' }), mesh, { namespace: 'shop' }).pod;
  const twice = inject(once, mesh, { namespace: 'shop' });
  assert.equal(twice.injected, false);
  assert.equal(twice.reason, 'already injected');
  assert.equal(twice.pod, once);
});

test('inject does not modify its input', () => {
  const input = pod({ 'weft.io/inject': 'enabled' });
  const copy = structuredClone(input);
  inject(input, mesh, { namespace: 'shop' });
  assert.deepEqual(input, copy);
});

test("the proxy's identity is computed from the pod's ServiceAccount and namespace", () => {
  const r = inject(pod({ 'weft.io/inject': 'enabled' }, { serviceAccountName: 'web' }), mesh, { namespace: 'shop' });
  assert.equal(
    env(r.pod, 'WEFT_PROXY_IDENTITY_LOCAL_NAME'),
    formatDnsIdentity({ serviceAccount: 'web', namespace: 'shop', controlNamespace: 'weft', trustDomain: 'cluster.local' }),
  );
  const dflt = inject(pod({ 'weft.io/inject': 'enabled' }), mesh, { namespace: 'shop' });
  assert.match(env(dflt.pod, 'WEFT_PROXY_IDENTITY_LOCAL_NAME')!, /^default\.shop\.serviceaccount\./);
  assert.equal(env(r.pod, 'WEFT_PROXY_IDENTITY_TRUST_ANCHORS'), mesh.trustAnchorsPem);
  assert.equal(env(r.pod, 'WEFT_PROXY_INBOUND_PORTS'), '8080');
});

test('namespace overrides apply and the pod override wins', () => {
  const r = inject(pod({ 'weft.io/inject': 'enabled', 'config.weft.io/proxy-log-level': 'trace' }), mesh, {
    namespace: 'shop',
    namespaceAnnotations: { 'config.weft.io/proxy-log-level': 'debug', 'config.weft.io/default-inbound-policy': 'deny' },
  });
  assert.equal(env(r.pod, 'WEFT_PROXY_LOG_LEVEL'), 'trace');
  assert.equal(env(r.pod, 'WEFT_PROXY_DEFAULT_INBOUND_POLICY'), 'deny');
  assert.deepEqual(r.warnings, []);
});

test('config.weft.io/proxy-workers sets WEFT_PROXY_WORKERS; without it the proxy keeps its default (absent); a bad value warns and is ignored', () => {
  const base = { 'weft.io/inject': 'enabled' };
  assert.equal(env(inject(pod(base), mesh, { namespace: 'shop' }).pod, 'WEFT_PROXY_WORKERS'), undefined);
  const two = inject(pod({ ...base, 'config.weft.io/proxy-workers': '2' }), mesh, { namespace: 'shop' });
  assert.equal(env(two.pod, 'WEFT_PROXY_WORKERS'), '2');
  assert.deepEqual(two.warnings, []);
  // A mesh-wide default (the chart's proxy.workers): pods get it; a pod's annotation wins, one thread leaves the variable out.
  const meshWide = { ...mesh, proxy: { ...mesh.proxy, workers: 3 } };
  assert.equal(env(inject(pod(base), meshWide, { namespace: 'shop' }).pod, 'WEFT_PROXY_WORKERS'), '3');
  assert.equal(env(inject(pod({ ...base, 'config.weft.io/proxy-workers': '1' }), meshWide, { namespace: 'shop' }).pod, 'WEFT_PROXY_WORKERS'), undefined);
  // More threads than the cores of the proxy's CPU limit: kept (the operator's choice), with a warning.
  const overLimit = inject(pod({ ...base, 'config.weft.io/proxy-workers': '3', 'config.weft.io/proxy-cpu-limit': '1500m' }), mesh, { namespace: 'shop' });
  assert.equal(env(overLimit.pod, 'WEFT_PROXY_WORKERS'), '3');
  assert.deepEqual(overLimit.warnings, [
    'proxy workers 3 are more than the 2 core(s) of its CPU limit 1500m: threads that share a core serve no more and cost CPU and ~19 MiB each (docs/proxy.md, "More than one core")',
  ]);
  const meshLimited = { ...meshWide, proxy: { ...meshWide.proxy, cpuLimit: '1' } };
  assert.equal(inject(pod(base), meshLimited, { namespace: 'shop' }).warnings.length, 1, 'the mesh-wide default against the mesh-wide limit');
  assert.deepEqual(inject(pod({ ...base, 'config.weft.io/proxy-workers': '2', 'config.weft.io/proxy-cpu-limit': '2' }), mesh, { namespace: 'shop' }).warnings, []);
  assert.deepEqual(inject(pod({ ...base, 'config.weft.io/proxy-workers': '1' }), meshLimited, { namespace: 'shop' }).warnings, [], 'one thread never warns');
  for (const bad of ['0', '65', '1.5', 'auto']) {
    const r = inject(pod({ ...base, 'config.weft.io/proxy-workers': bad }), mesh, { namespace: 'shop' });
    assert.equal(env(r.pod, 'WEFT_PROXY_WORKERS'), undefined, bad);
    assert.equal(r.warnings.length, 1, bad);
    assert.match(r.warnings[0]!, /proxy-workers.*is not a whole number of threads from 1 to 64/);
  }
});

const images = (p: PodLike): Record<string, string | undefined> =>
  Object.fromEntries([...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].map((c) => [c.name, c.image]));

test('config.weft.io/proxy-image is refused by default: weft-init and weft-proxy keep the configured image, with a warning', () => {
  const annotations = { 'weft.io/inject': 'enabled', 'config.weft.io/proxy-image': 'attacker.example.com/proxy' };
  for (const [where, r] of [
    ['pod', inject(pod(annotations), mesh, { namespace: 'shop' })],
    ['namespace', inject(pod({ 'weft.io/inject': 'enabled' }), mesh, { namespace: 'shop', namespaceAnnotations: { 'config.weft.io/proxy-image': 'attacker.example.com/proxy' } })],
  ] as const) {
    assert.equal(r.injected, true, where);
    assert.deepEqual(images(r.pod), { 'weft-init': 'ghcr.io/weft-mesh/proxy:v0.0.0-test', 'weft-proxy': 'ghcr.io/weft-mesh/proxy:v0.0.0-test', app: 'nginx' }, where);
    assert.equal(r.warnings.length, 1, where);
    assert.match(r.warnings[0]!, new RegExp(`^${where} annotation config\\.weft\\.io/proxy-image="attacker\\.example\\.com/proxy" is refused: .*WEFT_INJECTOR_ALLOW_PROXY_IMAGE_OVERRIDE.*; using ghcr\\.io/weft-mesh/proxy$`));
  }
  // proxy-version picks a tag of the configured image and stays allowed.
  const tagged = inject(pod({ ...annotations, 'config.weft.io/proxy-version': 'v9.9.9' }), mesh, { namespace: 'shop' });
  assert.equal(images(tagged.pod)['weft-init'], 'ghcr.io/weft-mesh/proxy:v9.9.9');
});

test('config.weft.io/proxy-image changes both images when the injector allows image overrides', () => {
  const allowing = testMesh({ WEFT_INJECTOR_ALLOW_PROXY_IMAGE_OVERRIDE: 'true' });
  assert.equal(mesh.allowProxyImageOverride, false, 'off unless configured');
  const input = pod({ 'weft.io/inject': 'enabled', 'config.weft.io/proxy-image': 'registry.example.com/mesh/proxy' });
  const r = inject(input, allowing, { namespace: 'shop' });
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(images(r.pod), { 'weft-init': 'registry.example.com/mesh/proxy:v0.0.0-test', 'weft-proxy': 'registry.example.com/mesh/proxy:v0.0.0-test', app: 'nginx' });
  assert.deepEqual(uninject(r.pod).pod, input);
});

test('weft-init and weft-proxy run under the runtime default seccomp profile, in every layout', () => {
  for (const m of [mesh, testMesh({ WEFT_INJECTOR_KUBERNETES_VERSION: '1.28' })]) {
    const input = pod({ 'weft.io/inject': 'enabled' });
    const r = inject(input, m, { namespace: 'shop' });
    const ours = [...(r.pod.spec?.initContainers ?? []), ...(r.pod.spec?.containers ?? [])].filter((c) => c.name.startsWith('weft-'));
    assert.deepEqual(ours.map((c) => c.name).sort(), ['weft-init', 'weft-proxy']);
    for (const c of ours) assert.deepEqual(c.securityContext?.seccompProfile, { type: 'RuntimeDefault' }, c.name);
    assert.deepEqual(uninject(r.pod).pod, input);
  }
});

test('ingress mode tells the proxy; CNI mode adds no weft-init', () => {
  const ingress = inject(pod({ 'weft.io/inject': 'ingress' }), mesh, { namespace: 'shop' });
  assert.equal(env(ingress.pod, 'WEFT_PROXY_INGRESS_MODE'), 'true');
  const cni = inject(pod({ 'weft.io/inject': 'enabled' }), testMesh({ WEFT_INJECTOR_CNI_ENABLED: 'true' }), { namespace: 'shop' });
  assert.deepEqual(cni.pod.spec?.initContainers?.map((c) => c.name), ['weft-proxy']);
  assert.deepEqual(cni.pod.spec?.volumes?.map((v) => v.name), ['weft-identity-token']);
});

test('before Kubernetes 1.29 the proxy is the first container and holds the app with a postStart wait', () => {
  const legacy = testMesh({ WEFT_INJECTOR_KUBERNETES_VERSION: '1.28' });
  const r = inject(pod({ 'weft.io/inject': 'enabled' }, { initContainers: [{ name: 'setup', image: 'busybox' }] }), legacy, { namespace: 'shop' });
  assert.deepEqual(r.pod.spec?.containers.map((c) => c.name), ['weft-proxy', 'app']);
  assert.deepEqual(r.pod.spec?.initContainers?.map((c) => c.name), ['setup', 'weft-init']);
  assert.equal(r.pod.spec?.containers[0]?.restartPolicy, undefined);
  assert.ok(r.pod.spec?.containers[0]?.lifecycle?.postStart?.exec?.command);
});

test('uninject removes exactly what inject added', () => {
  const input = pod({ 'weft.io/inject': 'enabled', 'example.com/x': 'y' }, { volumes: [{ name: 'data', emptyDir: {} }] });
  const r = inject(input, mesh, { namespace: 'shop' });
  assert.deepEqual(uninject(r.pod).pod, input);
  const app = pod(undefined);
  assert.equal(uninject(app).uninjected, false);
});

test("an app's own prometheus.io annotations are kept and survive uninject", () => {
  const input = pod({ 'weft.io/inject': 'enabled', 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080' });
  const r = inject(input, mesh, { namespace: 'shop' });
  assert.equal(r.pod.metadata?.annotations?.['prometheus.io/port'], '8080');
  assert.equal(r.warnings.length, 1);
  assert.deepEqual(uninject(r.pod).pod, input);
});

test('a Deployment pod is labelled with its Deployment, not its ReplicaSet', () => {
  const p: PodLike = {
    metadata: {
      name: 'web-7d4b9c-abcde',
      labels: { 'pod-template-hash': '7d4b9c' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d4b9c', uid: 'u', controller: true }],
    },
  };
  assert.deepEqual(owningWorkload(p), { kind: 'deployment', name: 'web' });
  p.metadata!.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'u', controller: true }];
  assert.deepEqual(owningWorkload(p), { kind: 'statefulset', name: 'db' });
});

function runAwait(port: number, timeoutSeconds: number): Promise<number | null> {
  const child = spawn(process.execPath, ['-e', awaitScript(port, timeoutSeconds)], { stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

test('the postStart await script returns once /ready answers 200 and fails after its timeout', async (t) => {
  let calls = 0;
  let readyAfter = 3;
  const server = http.createServer((req, res) => {
    calls++;
    res.writeHead(req.url === '/ready' && calls >= readyAfter ? 200 : 503).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  assert.equal(await runAwait(port, 60), 0);
  assert.ok(calls >= 3, `exited after ${calls} polls`);
  readyAfter = Infinity;
  assert.equal(await runAwait(port, 1), 1);
});
