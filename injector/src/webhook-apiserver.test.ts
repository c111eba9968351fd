/**
 * Against the real kube-apiserver of the e2e environment (test/e2e, sets
 * WEFT_E2E_KUBECONFIG): a real MutatingWebhookConfiguration pointing at this
 * injector; a Pod created in an annotated namespace comes back injected, one
 * in an unannotated namespace does not. Skips, saying why, without it.
 */
import { waitFor } from '@weft/common/poll';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { TestPki } from '@weft/common/testing/pki';
import { createLogger } from '@weft/common/log';
import { k8s, loadKubeConfig } from '@weft/common/k8s/client';
import { startInjector, type RunningInjector } from './injector.js';
import { TESTDATA } from './testing/test-mesh.js';

const kubeconfig = process.env.WEFT_E2E_KUBECONFIG;
const skip = kubeconfig ? undefined : 'WEFT_E2E_KUBECONFIG is not set: run `node test/e2e/run.mjs --exec -- node ci/unit.mjs injector` to test against a real kube-apiserver';

const id = randomBytes(3).toString('hex');
const webhookName = `weft-injector-e2e-${id}`;
const nsOn = `inj-on-${id}`;
const nsOff = `inj-off-${id}`;
const SELECTOR = { 'weft-injector-e2e': id };
let pki: TestPki | undefined;
let injector: RunningInjector | undefined;
let kc: k8s.KubeConfig;

/** Polls the real condition; 60 s is a safety net only. */
const eventually = <T>(what: string, fn: () => Promise<T | undefined>): Promise<T> => waitFor(what, fn, { timeoutMs: 60_000 });

function podBody(name: string): k8s.V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    // An unknown scheduler keeps the pod Pending: the e2e node agent never runs it.
    spec: { schedulerName: 'weft-injector-e2e-none', containers: [{ name: 'app', image: 'nginx:1.27', ports: [{ containerPort: 80 }] }] },
  };
}

const hasProxy = (pod: k8s.V1Pod): boolean =>
  [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].some((c) => c.name === 'weft-proxy');

before(async () => {
  if (skip) return;
  kc = loadKubeConfig({ kubeconfig });
  pki = new TestPki();
  const ca = pki.cert({ subject: '/CN=weft-injector-e2e-ca', ca: true });
  const leaf = pki.cert({ subject: '/CN=localhost', dns: ['localhost'], issuer: ca });
  injector = await startInjector(
    {
      WEFT_INJECTOR_KUBECONFIG: kubeconfig,
      WEFT_INJECTOR_LISTEN_ADDR: '127.0.0.1:0',
      WEFT_INJECTOR_ADMIN_LISTEN_ADDR: '127.0.0.1:0',
      WEFT_INJECTOR_TLS_CERT_FILE: leaf.certPath,
      WEFT_INJECTOR_TLS_KEY_FILE: leaf.keyPath,
      WEFT_INJECTOR_TRUST_ANCHORS_FILE: `${TESTDATA}trust-anchors.pem`,
    },
    createLogger('injector-e2e', 'warn'),
  );
  const adminPort = injector.adminPort;
  await eventually('injector ready', async () => ((await fetch(`http://127.0.0.1:${adminPort}/ready`)).ok ? true : undefined));

  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: nsOn, labels: SELECTOR, annotations: { 'weft.io/inject': 'enabled' } } } });
  await core.createNamespace({ body: { metadata: { name: nsOff, labels: SELECTOR } } });
  await kc.makeApiClient(k8s.AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
    body: {
      metadata: { name: webhookName },
      webhooks: [
        {
          name: 'inject.weft.io',
          clientConfig: { url: `https://localhost:${injector.webhookPort}/inject`, caBundle: Buffer.from(ca.cert).toString('base64') },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
          // Only this test's namespaces: other scenarios share the API server.
          namespaceSelector: { matchLabels: SELECTOR },
          failurePolicy: 'Fail',
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: 10,
          reinvocationPolicy: 'Never',
        },
      ],
    },
  });
  // Without kube-controller-manager nobody creates the default ServiceAccount the pods need.
  for (const namespace of [nsOn, nsOff]) {
    await eventually(`ServiceAccount default in ${namespace}`, async () => {
      try {
        return await core.readNamespacedServiceAccount({ name: 'default', namespace });
      } catch {
        return await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
      }
    });
  }
});

after(async () => {
  if (skip) return;
  const errors: unknown[] = [];
  const attempt = async (fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  };
  if (kc) {
    await attempt(() => kc.makeApiClient(k8s.AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({ name: webhookName }));
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await attempt(() => core.deleteNamespace({ name: nsOn }));
    await attempt(() => core.deleteNamespace({ name: nsOff }));
  }
  await injector?.close();
  pki?.dispose();
  if (errors.length) console.error(`cleanup problems: ${errors.map(String).join('; ')}`);
});

test('a pod in an annotated namespace comes back injected from the real API server', { skip }, async () => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let n = 0;
  // The API server picks up a new webhook configuration asynchronously: the
  // first pods may be admitted before it calls the injector.
  const pod = await eventually('an injected pod', async () => {
    const created = await core.createNamespacedPod({ namespace: nsOn, body: podBody(`web-${n++}`) });
    return hasProxy(created) ? created : undefined;
  });
  assert.equal(pod.metadata?.annotations?.['weft.io/inject-status'], 'injected');
  const proxy = [...(pod.spec?.initContainers ?? []), ...pod.spec!.containers].find((c) => c.name === 'weft-proxy')!;
  const env = Object.fromEntries((proxy.env ?? []).map((e) => [e.name, e.value]));
  assert.equal(env.WEFT_PROXY_IDENTITY_LOCAL_NAME, `default.${nsOn}.serviceaccount.identity.weft.cluster.local`);
  assert.ok(pod.spec?.volumes?.some((v) => v.name === 'weft-identity-token'));
  // Read back what the API server stored, not just the create response.
  const stored = await core.readNamespacedPod({ name: pod.metadata!.name!, namespace: nsOn });
  assert.ok(hasProxy(stored));
  for (const c of (stored.spec?.initContainers ?? []).filter((x) => x.name.startsWith('weft-'))) {
    assert.equal(c.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${c.name} runs under the runtime's default seccomp profile`);
  }
});

test('config.weft.io/proxy-image does not change the images the API server stores (image overrides are off by default)', { skip }, async () => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let n = 0;
  await eventually('webhook active', async () =>
    hasProxy(await core.createNamespacedPod({ namespace: nsOn, body: podBody(`probe3-${n++}`) })) ? true : undefined,
  );
  const body = podBody('image-override');
  body.metadata!.annotations = { 'config.weft.io/proxy-image': 'attacker.example.com/proxy' };
  const created = await core.createNamespacedPod({ namespace: nsOn, body });
  const images = (created.spec?.initContainers ?? []).filter((c) => c.name.startsWith('weft-')).map((c) => `${c.name}=${c.image}`);
  const configured = `${injector!.mesh().proxy.image}:${injector!.mesh().proxy.version}`;
  assert.deepEqual(images, [`weft-init=${configured}`, `weft-proxy=${configured}`]);
});

test('a pod in an unannotated namespace is created unchanged', { skip }, async () => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  // The webhook is active once a pod in the annotated namespace is injected.
  let n = 0;
  await eventually('webhook active', async () =>
    hasProxy(await core.createNamespacedPod({ namespace: nsOn, body: podBody(`probe-${n++}`) })) ? true : undefined,
  );
  const created = await core.createNamespacedPod({ namespace: nsOff, body: podBody('plain') });
  assert.equal(hasProxy(created), false);
  assert.equal(created.metadata?.annotations?.['weft.io/inject-status'], undefined);
  assert.deepEqual(created.spec?.containers.map((c) => c.name), ['app']);
});

test('the API server accepts the pre-1.29 layout and pods with invalid overrides', { skip }, async () => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let n = 0;
  await eventually('webhook active', async () =>
    hasProxy(await core.createNamespacedPod({ namespace: nsOn, body: podBody(`probe2-${n++}`) })) ? true : undefined,
  );
  const legacy = podBody('legacy');
  legacy.metadata!.annotations = { 'config.weft.io/proxy-native-sidecar': 'disabled', 'config.weft.io/skip-outbound-ports': '3306' };
  const created = await core.createNamespacedPod({ namespace: nsOn, body: legacy });
  assert.deepEqual(created.spec?.containers.map((c) => c.name), ['weft-proxy', 'app']);
  assert.ok(created.spec?.containers[0]?.lifecycle?.postStart?.exec);
  assert.deepEqual(created.spec?.initContainers?.map((c) => c.name), ['weft-init']);

  const invalid = podBody('invalid-override');
  invalid.metadata!.annotations = { 'config.weft.io/proxy-memory-limit': 'lots', 'config.weft.io/proxy-cpu-request': '3', 'config.weft.io/proxy-cpu-limit': '1' };
  const admitted = await core.createNamespacedPod({ namespace: nsOn, body: invalid });
  const proxy = admitted.spec!.initContainers!.find((c) => c.name === 'weft-proxy')!;
  assert.equal(proxy.resources?.limits?.memory, '256Mi');
  assert.equal(proxy.resources?.requests?.cpu, '1');
});
