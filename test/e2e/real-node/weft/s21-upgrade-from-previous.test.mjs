// Scenario 21: `helm upgrade` from the previous release (N-1, recorded in
// test/e2e/previous-release.json) to this one (N) on the real node, with 0
// failed meshed requests. N-1 is its own charts and its own images, built
// from its commit (lib/previous-release.mjs) and pushed to the node's
// registry next to N's by run.mjs; nothing of N runs before the upgrade.
//   1. install N-1 as its docs/install.md said: trust anchor with openssl,
//      `helm install weft-crds`, path B (cert-manager creates everything),
//      `--set image.registry` only (its images carry its appVersion tag);
//   2. meshed workloads: web (Deployment, 2 replicas) behind a Server +
//      AuthorizationPolicy that admit only the `client` ServiceAccount over
//      mesh TLS, and a ServiceProfile whose GET route is retryable; a
//      `client` Deployment; a bare `caller` pod (ServiceAccount client)
//      that carries the traffic loop through every step;
//   3. under the loop: `helm upgrade weft-crds`, `weft crds migrate`, then `helm upgrade weft`
//      with the documented flags (docs/install.md "Upgrade"; what
//      `--reuse-values` alone renders is compared and printed first) and a
//      changed value (destination.replicas=2), the control plane on N's
//      images; then web and client rolled (what
//      `kubectl rollout restart` does), so their proxies move to N;
//   4. afterwards: 0 failed requests across all of it; every control-plane
//      pod runs N's image digests; rolled and new pods carry N's proxy; the
//      policy still decides (client's new pod 200 with its identity, a pod
//      of another ServiceAccount 403); the objects created at N-1's API
//      versions read back at every version N's CRDs serve.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadEnv, notRunning, waitFor } from '../../lib/env.mjs';
import { deleteNamespaces, echoPod, readyPods } from '../../lib/pods.mjs';
import { containerLog, controlPlaneReady, meshedNamespace, podLogs, podReady } from '../../lib/node-pods.mjs';
import { trafficLoop } from '../../lib/traffic.mjs';
import { WEFT_NS, chartPaths, previousRelease } from '../../lib/weft-install.mjs';

const NS = 'weft-e2e-s21';
let env;
let prev;
const installed = [];

/** The policy and route objects, at N-1's API versions: the traffic depends on each of them. */
const POLICY = [
  ['policy.weft.io/v1alpha1', 'servers', { kind: 'Server', metadata: { name: 'web-http' }, spec: { podSelector: { matchLabels: { app: 'web' } }, port: 8080, proxyProtocol: 'HTTP/1' } }],
  ['policy.weft.io/v1alpha1', 'meshtlsauthentications', { kind: 'MeshTLSAuthentication', metadata: { name: 'web-clients' }, spec: { identityRefs: [{ kind: 'ServiceAccount', name: 'client' }] } }],
  ['policy.weft.io/v1alpha1', 'authorizationpolicies', { kind: 'AuthorizationPolicy', metadata: { name: 'web-authz' }, spec: { targetRef: { group: 'policy.weft.io', kind: 'Server', name: 'web-http' }, requiredAuthenticationRefs: [{ group: 'policy.weft.io', kind: 'MeshTLSAuthentication', name: 'web-clients' }] } }],
  // A server app that stops at SIGTERM answers 503 through its dying proxy for a request caught in the roll (s22):
  // the retryable route is what carries those requests to the other replica.
  ['weft.io/v1alpha1', 'serviceprofiles', { kind: 'ServiceProfile', metadata: { name: `web.${NS}.svc.cluster.local` }, spec: { routes: [{ name: 'GET /', matches: [{ method: 'GET', path: { prefix: '/' } }], isRetryable: true }] } }],
];

// The workloads shut down as Kubernetes asks of a served app: a preStop pause (the kubelet's sleep action) keeps the
// app answering while its endpoint's removal reaches the callers, so a rollout is not a race between the app's exit
// and that removal (which no proxy can win for a request already on its way: the echo app exits at SIGTERM).
const deployment = (name, replicas, sa) => {
  const pod = echoPod(env.echoImage, name, sa);
  pod.spec.terminationGracePeriodSeconds = 10;
  pod.spec.containers[0].lifecycle = { preStop: { sleep: { seconds: 3 } } };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
    spec: { replicas, strategy: { rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } }, selector: { matchLabels: { app: name } }, template: { metadata: pod.metadata, spec: pod.spec } },
  };
};

/** `kubectl rollout restart deployment/<name>` through the API, then waits for the rollout to finish. */
async function rolloutRestart(name, replicas) {
  await env.kube.patch(`/apis/apps/v1/namespaces/${NS}/deployments/${name}`, { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } });
  await waitFor(`${name} rolled`, async () => {
    const d = await env.kube.get(`/apis/apps/v1/namespaces/${NS}/deployments/${name}`);
    const s = d.status ?? {};
    return s.observedGeneration >= d.metadata.generation && s.updatedReplicas === replicas && s.readyReplicas === replicas && (s.replicas ?? 0) === replicas ? true : undefined;
  }, { timeoutMs: 240_000 });
}

const podsOf = async (ns, selector = '') => (await env.kube.get(`/api/v1/namespaces/${ns}/pods${selector ? `?labelSelector=${encodeURIComponent(selector)}` : ''}`)).items.filter((p) => !p.metadata.deletionTimestamp);
const allContainers = (p) => [...(p.spec.initContainers ?? []), ...p.spec.containers];
const proxyImage = (p) => allContainers(p).find((c) => c.name === 'weft-proxy')?.image;

/** Every container of the control plane's pods: [pod, container, image, imageID]. */
async function controlPlaneImages() {
  return (await podsOf(WEFT_NS)).flatMap((p) =>
    [...(p.status.initContainerStatuses ?? []), ...(p.status.containerStatuses ?? [])].map((c) => [p.metadata.name, c.name, c.image, c.imageID]),
  );
}

/** The manifest digest of weft image `name` the release published. */
const digestOf = (release, name) => release.images[name].digest;

/** One GET from pod `name` to web: { status, body }. */
async function callWeb(name, path) {
  const net = await env.podNet(NS, name);
  const r = spawnSync(net[0], [...net.slice(1), 'curl', '-s', '--max-time', '10', '-w', '\n%{http_code}', `http://web${path}`], { encoding: 'utf8' });
  const lines = r.stdout.split('\n');
  return { status: lines.pop(), body: lines.join('\n') };
}

before(async () => {
  if (notRunning) return;
  env = loadEnv();
  assert.ok(env.state.realNode?.weftImages, 'no real node with weft images in this environment');
  prev = previousRelease(env);
  const dir = env.state.runDir ?? '/tmp';
  console.log(`# s21: N-1 = weft ${prev.version} (charts ${prev.chartVersion}, ${prev.commit.slice(0, 12)}), N = weft ${env.state.realNode.weftImages.tag}`);

  // A fresh N-1 install: earlier scenarios of the run leave weft's CRDs behind (helm.sh/resource-policy: keep), at N's
  // versions, which N-1's chart cannot take back (a stored version cannot leave spec.versions).
  const left = (await env.kube.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions')).items.filter((c) => c.metadata.annotations?.['meta.helm.sh/release-name'] === 'weft-crds');
  for (const c of left) await env.kube.delete(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${c.metadata.name}`);
  await waitFor("earlier scenarios' weft CRDs gone", async () => {
    const names = new Set((await env.kube.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions')).items.map((c) => c.metadata.name));
    return left.every((c) => !names.has(c.metadata.name)) ? true : undefined;
  }, { timeoutMs: 120_000 });
  if (left.length) console.log(`# s21: removed ${left.length} weft CRDs earlier scenarios kept`);

  // 1. N-1's docs/install.md, section 1 and path B, with its images from the node's registry.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 's21-ca.key', '-out', 's21-ca.crt', '-days', '3650', '-subj', '/CN=root.identity.weft.cluster.local',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { cwd: dir, stdio: 'pipe' });
  env.kubectl(['create', 'namespace', WEFT_NS]);
  env.helm(['install', 'weft-crds', prev.charts.crds, '--wait', '--timeout', '3m']);
  installed.push(['weft-crds', 'default']);
  env.kubectl(['-n', WEFT_NS, 'create', 'secret', 'tls', 'weft-trust-anchor', `--cert=${join(dir, 's21-ca.crt')}`, `--key=${join(dir, 's21-ca.key')}`]);
  env.helm(['install', 'weft', prev.charts.controlPlane, '-n', WEFT_NS, '--set-file', `identityTrustAnchorsPEM=${join(dir, 's21-ca.crt')}`, '--set', 'certManager.create=true', '--set', `image.registry=${prev.registry}`, '--timeout', '3m']);
  installed.push(['weft', WEFT_NS]);
  await controlPlaneReady(env);
  const release = JSON.parse(env.helm(['list', '-n', WEFT_NS, '-o', 'json'])).find((r) => r.name === 'weft');
  assert.equal(release.chart, `weft-control-plane-${prev.chartVersion}`);
  assert.equal(release.app_version, prev.version);

  // 2. workloads and the objects their traffic depends on.
  await meshedNamespace(env, NS);
  for (const sa of ['client', 'other']) await env.kube.create(`/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa } });
  for (const [apiVersion, plural, obj] of POLICY) {
    const [group, version] = apiVersion.split('/');
    await env.kube.create(`/apis/${group}/${version}/namespaces/${NS}/${plural}`, { apiVersion, ...JSON.parse(JSON.stringify(obj)) });
  }
  await env.kube.create(`/api/v1/namespaces/${NS}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
  await env.kube.create(`/apis/apps/v1/namespaces/${NS}/deployments`, deployment('web', 2, 'default'));
  await env.kube.create(`/apis/apps/v1/namespaces/${NS}/deployments`, deployment('client', 1, 'client'));
  await env.kube.create(`/api/v1/namespaces/${NS}/pods`, echoPod(env.echoImage, 'caller', 'client'));
  await readyPods(env.kube, NS, 'app=web', 2, 'web Ready', 180_000);
  await readyPods(env.kube, NS, 'app=client', 1, 'client Ready', 180_000);
  await podReady(env, NS, 'caller');
});

after(async () => {
  if (!env) return;
  await deleteNamespaces(env.kube, [NS]);
  for (const [release, ns] of [...installed].reverse()) {
    try {
      env.helm(['uninstall', release, '-n', ns, '--wait', '--timeout', '2m']);
    } catch (err) {
      console.log(`# helm uninstall ${release}: ${err.message}`);
    }
  }
  await deleteNamespaces(env.kube, [WEFT_NS]);
  env.kube.close();
});

test('helm upgrade from the previous release to this one: 0 failed meshed requests, N everywhere afterwards, policy still enforced', { skip: notRunning }, async () => {
  const N = { ...env.state.realNode.weftImages, charts: chartPaths(env) };
  const prevProxy = `${prev.registry}/proxy:${prev.version}`;
  const nProxy = `${N.registry}/proxy:${N.tag}`;
  assert.notEqual(prev.version, N.tag, 'this tree is a new release: root package.json version differs from previous-release.json');

  // Before: N-1 everywhere, and the policy deciding already.
  const cpBefore = await controlPlaneImages();
  assert.ok(cpBefore.length >= 3, `control-plane containers: ${JSON.stringify(cpBefore)}`);
  for (const [pod, container, image, imageID] of cpBefore) {
    if (!image.includes('/weft/')) continue;
    const name = image.split('/').pop().split(':')[0];
    assert.ok(imageID.endsWith(digestOf(prev, name)), `before: ${pod}/${container} runs ${imageID}, N-1's ${name} is ${digestOf(prev, name)}`);
  }
  const podsBefore = await podsOf(NS);
  assert.equal(podsBefore.length, 4, `web x2, client, caller: ${podsBefore.map((p) => p.metadata.name)}`);
  for (const p of podsBefore) assert.equal(proxyImage(p), prevProxy, `before: ${p.metadata.name}'s proxy`);
  const clientId = `client.${NS}.serviceaccount.identity.${WEFT_NS}.cluster.local`;
  const first = await callWeb('caller', '/before');
  assert.equal(first.status, '200', `caller -> web before the upgrade: ${first.status} ${first.body}`);
  assert.equal(JSON.parse(first.body).clientId, clientId);

  const loop = trafficLoop(await env.podNet(NS, 'caller'), 'http://web/upgrade', env.writeFile('s21-statuses.txt', ''));
  const steps = [];
  const mark = (step) => steps.push([step, loop.statuses().length]);
  try {
    await waitFor('the loop running', () => (loop.statuses().length >= 10 ? true : undefined), { timeoutMs: 60_000 });

    mark('helm upgrade weft-crds');
    env.helm(['upgrade', 'weft-crds', N.charts.crds, '--wait', '--timeout', '3m']);
    // The storage migration docs/install.md lists after the CRDs (docs/crds.md), under the same loop.
    mark('weft crds migrate');
    const migrate = spawnSync(process.execPath, [join(env.repoRoot, 'cli/dist/main.js'), 'crds', 'migrate', '--kubeconfig', env.kubeconfig], { encoding: 'utf8', timeout: 180_000 });
    console.log(`# s21: weft crds migrate (exit ${migrate.status}):\n${`${migrate.stdout}${migrate.stderr}`.trim().replace(/^/gm, '#   ')}`);
    assert.equal(migrate.status, 0, 'weft crds migrate');

    // What `--reuse-values` alone would do: Helm reuses the previous release's values *and its chart's defaults*, so a
    // value new in N is missing from the render and a changed default keeps its old value. Rendered beside the
    // documented flag and printed (it may fail to render: that is what a user would meet); users run the documented one.
    const render = (flag) => {
      try {
        return { manifest: JSON.parse(env.helm(['upgrade', 'weft', N.charts.controlPlane, '-n', WEFT_NS, flag, '--set', 'destination.replicas=2', '--dry-run=server', '-o', 'json'])).manifest.split('\n') };
      } catch (err) {
        return { error: (err.stderr || err.message).trim() };
      }
    };
    const reuse = render('--reuse-values');
    const reset = render('--reset-then-reuse-values');
    assert.ok(reset.manifest, `the documented upgrade renders: ${reset.error}`);
    if (reuse.error) console.log(`# s21: --reuse-values does not render: ${reuse.error.replace(/\s+/g, ' ')}`);
    else {
      const onlyReuse = reuse.manifest.filter((l) => !reset.manifest.includes(l));
      const onlyReset = reset.manifest.filter((l) => !reuse.manifest.includes(l));
      console.log(`# s21: --reuse-values renders ${reuse.manifest.length} lines, --reset-then-reuse-values ${reset.manifest.length}; ${onlyReuse.length} lines only with --reuse-values, ${onlyReset.length} only with --reset-then-reuse-values`);
      for (const l of onlyReuse.slice(0, 10)) console.log(`#   --reuse-values only: ${l.trim()}`);
      for (const l of onlyReset.slice(0, 10)) console.log(`#   --reset-then-reuse-values only: ${l.trim()}`);
    }

    mark('helm upgrade weft');
    // A value changes in the same command (what `-f my-changes.yaml` does): the install's values must survive it.
    env.helm(['upgrade', 'weft', N.charts.controlPlane, '-n', WEFT_NS, '--reset-then-reuse-values', '--set', 'destination.replicas=2', '--wait', '--timeout', '4m']);
    await waitFor("every control-plane pod on N's images", async () => {
      const imgs = await controlPlaneImages();
      return imgs.length >= 3 && imgs.filter(([, , image]) => image.includes('/weft/')).every(([, , image, imageID]) => imageID.endsWith(digestOf(N, image.split('/').pop().split(':')[0]))) ? imgs : undefined;
    }, { timeoutMs: 240_000 });
    await controlPlaneReady(env);
    await readyPods(env.kube, WEFT_NS, 'app.kubernetes.io/name=weft-destination', 2, 'two destination replicas Ready', 240_000);
    // `kubectl -n weft wait --for=delete pod -l app.kubernetes.io/version=<N-1>` (docs/install.md): a terminating N-1
    // injector keeps answering the API server's kept-alive webhook connection while it drains, and writes N-1's proxy
    // into pods created then (seen: a rolled web pod with proxy 0.1.0).
    const oldSelector = encodeURIComponent(`app.kubernetes.io/part-of=weft,app.kubernetes.io/version=${prev.version}`);
    await waitFor("N-1's control-plane pods gone", async () => ((await env.kube.get(`/api/v1/namespaces/${WEFT_NS}/pods?labelSelector=${oldSelector}`)).items.length === 0 ? true : undefined), { timeoutMs: 120_000 });

    mark('rollout restart web');
    await rolloutRestart('web', 2);
    mark('rollout restart client');
    await rolloutRestart('client', 1);

    mark('after');
    const seen = loop.statuses().length;
    await waitFor('requests after the rollouts', () => (loop.statuses().length >= seen + 20 ? true : undefined), { timeoutMs: 60_000 });
  } finally {
    const statuses = loop.stop();
    const failed = statuses.filter((s) => s !== '200');
    const broke = (containerLog(env, NS, 'caller', 'weft-proxy').match(/destination stream broke/g) ?? []).length;
    console.log(`# s21: ${statuses.length} meshed requests across the upgrade ${prev.version} -> ${N.tag}, ${failed.length} failed; caller's destination stream broke ${broke} times`);
    console.log(`# s21: steps began at request ${steps.map(([s, n]) => `${n} (${s})`).join(', ')}`);
    if (failed.length > 0) {
      statuses.forEach((s, i) => s !== '200' && console.log(`#   request ${i}: ${s}`));
      console.log(podLogs(env, NS, 'caller', 80).replace(/^/gm, '# '));
    }
    {
      // Whether the caller's proxy retried (the route is retryable), and how its responses went.
      const net = await env.podNet(NS, 'caller');
      const metrics = spawnSync(net[0], [...net.slice(1), 'curl', '-s', '--max-time', '10', 'http://127.0.0.1:4191/metrics'], { encoding: 'utf8' }).stdout ?? '';
      console.log(metrics.split('\n').filter((l) => /^(retry_|route_response_total)/.test(l) && !/ 0$/.test(l)).join('\n').replace(/^/gm, '# metrics '));
    }
    assert.equal(failed.length, 0, `failed requests during the upgrade: ${failed.join(',')}`);
  }

  const release = JSON.parse(env.helm(['list', '-n', WEFT_NS, '-o', 'json'])).find((r) => r.name === 'weft');
  assert.equal(release.app_version, N.tag);
  assert.equal(release.revision, '2');
  const values = JSON.parse(env.helm(['get', 'values', 'weft', '-n', WEFT_NS, '-o', 'json']));
  assert.equal(values.destination?.replicas, 2, 'the value changed in the upgrade');
  assert.equal(values.certManager?.create, true, 'install values kept');
  assert.equal(values.image?.registry, prev.registry, 'install values kept');
  assert.match(values.identityTrustAnchorsPEM ?? '', /BEGIN CERTIFICATE/, 'install values kept');
  const crds = JSON.parse(env.helm(['list', '-o', 'json'])).find((r) => r.name === 'weft-crds');
  assert.equal(crds.app_version, N.tag);

  // Rolled workloads and pods created now: N's proxy; the caller, never recreated, carried the loop on N-1's proxy throughout.
  const rolled = await podsOf(NS, 'app in (web,client)');
  assert.equal(rolled.length, 3, `web x2 and client after the rollout: ${rolled.map((p) => p.metadata.name)}`);
  for (const p of rolled) assert.equal(proxyImage(p), nProxy, `${p.metadata.name} after the rollout`);
  assert.equal(proxyImage(await env.kube.get(`/api/v1/namespaces/${NS}/pods/caller`)), prevProxy, "the caller's proxy is still N-1's");
  await env.kube.create(`/api/v1/namespaces/${NS}/pods`, echoPod(env.echoImage, 'other', 'other'));
  const other = await podReady(env, NS, 'other');
  assert.equal(proxyImage(other), nProxy, 'a pod created after the upgrade');

  // The policy created at N-1 still decides: the client's new pod (N proxy) gets in with its identity, another ServiceAccount does not.
  const [clientPod] = await podsOf(NS, 'app=client');
  const ok = await callWeb(clientPod.metadata.name, '/after');
  assert.equal(ok.status, '200', `client -> web after the upgrade: ${ok.status} ${ok.body}`);
  assert.equal(JSON.parse(ok.body).clientId, clientId);
  const denied = await callWeb('other', '/after');
  assert.equal(denied.status, '403', `other -> web is not in web-clients: ${denied.status} ${denied.body}`);

  // The objects created at N-1's versions, read at every version N's CRDs serve.
  for (const [apiVersion, plural, obj] of POLICY) {
    const group = apiVersion.split('/')[0];
    const crd = await env.kube.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.${group}`);
    const served = crd.spec.versions.filter((v) => v.served).map((v) => v.name);
    assert.ok(served.length > 0, `${plural}.${group} serves ${served}`);
    const storage = crd.spec.versions.find((v) => v.storage).name;
    assert.deepEqual(crd.status.storedVersions, [storage], `${plural}.${group}: after weft crds migrate etcd holds only ${storage}`);
    for (const version of served) {
      const got = await env.kube.get(`/apis/${group}/${version}/namespaces/${NS}/${plural}/${obj.metadata.name}`);
      assert.equal(got.apiVersion, `${group}/${version}`);
      assert.equal(got.metadata.name, obj.metadata.name);
      assert.ok(got.spec && Object.keys(got.spec).length > 0, `${plural}/${obj.metadata.name} at ${version} has its spec: ${JSON.stringify(got)}`);
    }
    console.log(`# s21: ${plural}.${group}/${obj.metadata.name} (created at ${apiVersion}) read at ${served.join(', ')}`);
  }
});
