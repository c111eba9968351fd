// Scenarios 2-6 on one install of weft by its packaged charts (the control
// plane runs as pods on the real node from weft's images, with its charts'
// ServiceAccounts and RBAC):
// (2) a pod created in a namespace annotated `weft.io/inject: enabled` passes
// the real API server's call to the injector webhook, comes up with weft-init
// and the proxy, and the proxy gets its certificate from identity, which
// checks the pod's projected token with a real TokenReview; (3) HTTP between
// meshed pods is mTLS and the server side knows the client's identity;
// (6) an unmeshed client still reaches a meshed server; (4) cert-manager
// renews the identity issuer and identity signs new leaves with it while
// meshed traffic keeps flowing; (5) `helm upgrade` with changed values rolls
// the control plane without failing a meshed request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { notRunning, waitFor } from './lib/env.mjs';
import { readyPods as waitReadyPods } from './lib/pods.mjs';
import { cleanUp, echoThrough, nodeEnv, webService } from './lib/scenario-setup.mjs';
import { trafficLoop as podTrafficLoop } from './lib/traffic.mjs';
import { controlPlaneReady } from './lib/node-pods.mjs';
import { WEFT_NS, chartPaths, installWeft } from './lib/weft-install.mjs';

const NS = 'weft-e2e-meshed';
const skipAll = notRunning;
let skip = skipAll;
let env;
let installed = [];
/** The injected server pod of the first test, for the traffic test. */
let serverPod;

before(() => {
  if (!skip) env = nodeEnv();
});

after(async () => {
  if (env) await cleanUp(env, [NS], installed);
});

const readyPods = (ns, selector, n, what, timeoutMs) => waitReadyPods(env.kube, ns, selector, n, what, timeoutMs);

test('an injected pod gets its certificate from identity through a real TokenReview', { skip: skipAll }, async (t) => {
  if (skip) return t.skip(skip);
  ({ releases: installed } = await installWeft(env));
  const anchorFile = env.writeFile('s2-anchor.pem', Buffer.from((await env.kube.get(`/api/v1/namespaces/${WEFT_NS}/secrets/weft-trust-anchor`)).data['tls.crt'], 'base64').toString());
  await controlPlaneReady(env);

  await env.kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, annotations: { 'weft.io/inject': 'enabled' } } });
  await waitFor('default ServiceAccount', () => env.kube.getOrNull(`/api/v1/namespaces/${NS}/serviceaccounts/default`), { timeoutMs: 60_000 });
  await env.kube.create(`/apis/apps/v1/namespaces/${NS}/deployments`, {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [{
            name: 'web', image: env.echoImage, ports: [{ name: 'http', containerPort: 8080 }],
            env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
          }],
        },
      },
    },
  });
  const [pod] = await readyPods(NS, 'app=web', 1, 'the injected pod Ready (proxy holds a certificate)', 180_000);
  serverPod = pod;
  const names = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => c.name);
  assert.ok(names.some((n) => /proxy/.test(n)), `the webhook injected a proxy: ${names.join(', ')}`);
  assert.ok(names.some((n) => /init/.test(n)), `the webhook injected weft-init: ${names.join(', ')}`);

  // The proxy's inbound listener presents the pod's workload certificate.
  // Like a meshed peer, the client names the server's identity in SNI: that is what makes the proxy terminate TLS.
  const identity = `default.${NS}.serviceaccount.identity.${WEFT_NS}.cluster.local`;
  let lastOutput = '';
  const presented = await waitFor('the proxy presenting its certificate on 4143', () => {
    const r = spawnSync('openssl', ['s_client', '-connect', `${pod.status.podIP}:4143`, '-servername', identity, '-alpn', 'weft.h2', '-showcerts'], { input: '', encoding: 'utf8', timeout: 10_000 });
    lastOutput = `${r.stdout}${r.stderr}`.slice(-1500);
    const pem = r.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    return pem ? pem : undefined;
  }, { timeoutMs: 60_000, intervalMs: 1000 }).catch((err) => {
    err.message += `\n  last openssl s_client output:\n${lastOutput}`;
    throw err;
  });
  const leaf = env.writeFile('s2-leaf.pem', `${presented[0]}\n`);
  const chain = env.writeFile('s2-chain.pem', `${presented.slice(1).join('\n')}\n`);
  const verify = spawnSync('openssl', ['verify', '-CAfile', anchorFile, ...(presented.length > 1 ? ['-untrusted', chain] : []), leaf], { encoding: 'utf8' });
  assert.equal(verify.status, 0, `leaf chains to the trust anchor: ${verify.stdout}${verify.stderr}`);
  const sans = spawnSync('openssl', ['x509', '-in', leaf, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' }).stdout;
  assert.match(sans, new RegExp(`DNS:default\\.${NS}\\.serviceaccount\\.identity\\.${WEFT_NS}\\.cluster\\.local`));
  assert.match(sans, new RegExp(`URI:spiffe://cluster\\.local/ns/${NS}/sa/default`));
});

test('HTTP between meshed pods is mTLS: the server sees the client identity, and proxy metrics show it', { skip: skipAll }, async (t) => {
  if (skip) return t.skip(skip);
  if (!serverPod) return t.skip('no injected server pod (previous test failed)');
  await webService(env, NS);
  await env.kube.create(`/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'client' } });
  await env.kube.create(`/api/v1/namespaces/${NS}/pods`, {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', labels: { app: 'client' } },
    spec: { serviceAccountName: 'client', terminationGracePeriodSeconds: 2, containers: [{ name: 'client', image: env.echoImage, ports: [{ containerPort: 8080 }] }] },
  });
  await readyPods(NS, 'app=client', 1, 'the injected client pod Ready', 180_000);
  const inClient = await env.podNet(NS, 'client');
  const clientId = `client.${NS}.serviceaccount.identity.${WEFT_NS}.cluster.local`;
  // The app sends plaintext to the Service name; its proxy (iptables redirect) does the rest.
  const body = await echoThrough(inClient, `http://web.${NS}.svc.cluster.local/mtls`, '/mtls');
  assert.equal(body.pod, serverPod.metadata.name);
  assert.equal(body.clientId, clientId, 'the server-side proxy authenticated the client by its certificate');

  const metrics = spawnSync('curl', ['-sf', '--max-time', '5', `http://${serverPod.status.podIP}:4191/metrics`], { encoding: 'utf8' }).stdout;
  const inbound = metrics.split('\n').filter((l) => l.startsWith('request_total{') && l.includes('direction="inbound"') && l.includes(`client_id="${clientId}"`));
  assert.ok(inbound.length > 0, `server proxy counts inbound requests from ${clientId}:\n${metrics.split('\n').filter((l) => l.startsWith('request_total')).join('\n')}`);
  assert.ok(inbound.some((l) => l.includes('tls="true"')), `with tls="true": ${inbound.join('\n')}`);
});

test('an unmeshed client still reaches the meshed server (plaintext, no client identity)', { skip: skipAll }, async (t) => {
  if (skip) return t.skip(skip);
  if (!serverPod) return t.skip('no injected server pod (previous test failed)');
  // The host is outside the mesh: it calls the Service's cluster IP through kube-proxy, as any unmeshed client would.
  const svc = await env.kube.get(`/api/v1/namespaces/${NS}/services/web`).catch(() => undefined);
  if (!svc) return t.skip('the web Service was not created (previous test failed)');
  let last = '';
  const body = await waitFor('an unmeshed request to web', () => {
    const r = spawnSync('curl', ['-s', '--max-time', '10', `http://${svc.spec.clusterIP}/plain`], { encoding: 'utf8' });
    last = `${r.status} ${r.stdout}${r.stderr}`;
    return r.status === 0 ? JSON.parse(r.stdout) : undefined;
  }, { timeoutMs: 60_000, intervalMs: 1000 }).catch((err) => {
    err.message += `\n  last curl: ${last}`;
    throw err;
  });
  assert.equal(body.path, '/plain');
  assert.equal(body.pod, serverPod.metadata.name);
  assert.equal(body.clientId, null, 'no mesh identity for an unmeshed caller');
  const metrics = spawnSync('curl', ['-sf', '--max-time', '5', `http://${serverPod.status.podIP}:4191/metrics`], { encoding: 'utf8' }).stdout;
  const plain = metrics.split('\n').filter((l) => l.startsWith('request_total{') && l.includes('direction="inbound"') && l.includes('tls="no_identity"'));
  assert.ok(plain.length > 0, `server proxy counts the plaintext request as tls="no_identity":\n${metrics.split('\n').filter((l) => l.startsWith('request_total')).join('\n')}`);
});

/** Meshed requests from the client pod to web every 200 ms; stop() returns the HTTP statuses seen. */
const trafficLoop = (podNet, name) => podTrafficLoop(podNet, `http://web.${NS}.svc.cluster.local/${name}`, env.writeFile(`${name}-statuses.txt`, ''));

/** The client pod's network (lib/pod-exec.mjs prefix), or undefined when it is not running (a previous test failed). */
const clientNet = () => env.podNet(NS, 'client').catch(() => undefined);

/** The certificate the pod's proxy presents on its inbound port (as PEM blocks, leaf first). */
function presentedChain(podIP, identity) {
  const r = spawnSync('openssl', ['s_client', '-connect', `${podIP}:4143`, '-servername', identity, '-alpn', 'weft.h2', '-showcerts'], { input: '', encoding: 'utf8', timeout: 10_000 });
  return r.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? undefined;
}

test('cert-manager renews the identity issuer: identity reloads, new leaves chain to the new issuer, no meshed request fails', { skip: skipAll }, async (t) => {
  if (skip) return t.skip(skip);
  if (!serverPod) return t.skip('no injected server pod (previous test failed)');
  const netns = await clientNet();
  if (!netns) return t.skip('no meshed client pod (previous test failed)');
  const secretPath = `/api/v1/namespaces/${WEFT_NS}/secrets/weft-identity-issuer`;
  const certPath = `/apis/cert-manager.io/v1/namespaces/${WEFT_NS}/certificates/weft-identity-issuer`;
  const oldIssuer = Buffer.from((await env.kube.get(secretPath)).data['tls.crt'], 'base64').toString();
  const traffic = trafficLoop(netns, 'rotation');
  let statuses;
  try {
    await waitFor('requests flowing before the rotation', () => traffic.statuses().filter((l) => l === '200').length >= 3, { timeoutMs: 30_000 });
    // What `cmctl renew` does: mark the Certificate Issuing; cert-manager re-issues it (new key: rotationPolicy Always).
    const cert = await env.kube.get(certPath);
    const conditions = (cert.status.conditions ?? []).filter((c) => c.type !== 'Issuing');
    conditions.push({ type: 'Issuing', status: 'True', reason: 'ManuallyTriggered', message: 'weft e2e: issuer rotation', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
    await env.kube.request('PATCH', `${certPath}/status`, { status: { conditions } }, { contentType: 'application/merge-patch+json' });
    const newIssuer = await waitFor('cert-manager to write a new issuer', async () => {
      const pem = Buffer.from((await env.kube.get(secretPath)).data['tls.crt'], 'base64').toString();
      return pem !== oldIssuer ? pem : undefined;
    }, { timeoutMs: 120_000 });
    const newFile = env.writeFile('s4-new-issuer.pem', newIssuer);
    const oldFile = env.writeFile('s4-old-issuer.pem', oldIssuer);

    // A pod that starts now is certified by the reloaded identity: its leaf is signed by the new issuer.
    await env.kube.create(`/api/v1/namespaces/${NS}/pods`, {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'late', labels: { app: 'late' } },
      spec: { serviceAccountName: 'client', terminationGracePeriodSeconds: 2, containers: [{ name: 'late', image: env.echoImage, ports: [{ containerPort: 8080 }] }] },
    });
    const [late] = await readyPods(NS, 'app=late', 1, 'a pod started after the rotation Ready', 180_000);
    const identity = `client.${NS}.serviceaccount.identity.${WEFT_NS}.cluster.local`;
    const chain = await waitFor('the late pod presenting its certificate', () => presentedChain(late.status.podIP, identity), { timeoutMs: 60_000, intervalMs: 1000 });
    const leaf = env.writeFile('s4-leaf.pem', `${chain[0]}\n`);
    const verifyWith = (issuerFile) => spawnSync('openssl', ['verify', '-partial_chain', '-CAfile', issuerFile, leaf], { encoding: 'utf8' });
    const byNew = verifyWith(newFile);
    assert.equal(byNew.status, 0, `the new leaf is signed by the renewed issuer: ${byNew.stdout}${byNew.stderr}`);
    assert.notEqual(verifyWith(oldFile).status, 0, 'and not by the old one');
    const count = traffic.statuses().length;
    await waitFor('requests after the rotation', () => traffic.statuses().length >= count + 10, { timeoutMs: 30_000 });
  } finally {
    statuses = traffic.stop();
  }
  const failed = statuses.filter((x) => x !== '200');
  console.log(`# rotation: ${statuses.length} meshed requests, ${failed.length} failed`);
  assert.deepEqual(failed, [], `${failed.length} of ${statuses.length} meshed requests failed during the rotation`);
});

test('helm upgrade with changed values reconfigures the control plane without failing meshed requests', { skip: skipAll }, async (t) => {
  if (skip) return t.skip(skip);
  if (!serverPod) return t.skip('no injected server pod (previous test failed)');
  const netns = await clientNet();
  if (!netns) return t.skip('no meshed client pod (previous test failed)');
  const before = await env.kube.get(`/apis/apps/v1/namespaces/${WEFT_NS}/deployments?labelSelector=${encodeURIComponent('app.kubernetes.io/component in (identity,destination,injector)')}`);
  assert.equal(before.items.length, 3);
  const oldPods = new Set((await env.kube.get(`/api/v1/namespaces/${WEFT_NS}/pods`)).items.map((p) => p.metadata.uid));
  // Meshed traffic throughout the upgrade: one request every 200 ms, each status recorded.
  const traffic = trafficLoop(netns, 'upgrade');
  let statuses;
  try {
    await waitFor('requests flowing before the upgrade', () => traffic.statuses().filter((l) => l === '200').length >= 3, { timeoutMs: 30_000 });
    env.helm(['upgrade', 'weft', chartPaths(env).controlPlane, '-n', WEFT_NS, '--reuse-values', '--set', 'logLevel=debug', '--timeout', '3m']);
    // Rolled out: every Deployment's new template is observed, updated and available, with the new value.
    await waitFor('control plane rolled out', async () => {
      const list = await env.kube.get(`/apis/apps/v1/namespaces/${WEFT_NS}/deployments?labelSelector=${encodeURIComponent('app.kubernetes.io/component in (identity,destination,injector)')}`);
      return list.items.every((d) => d.status.observedGeneration >= d.metadata.generation && d.status.updatedReplicas === d.spec.replicas && d.status.availableReplicas === d.spec.replicas && (d.status.replicas ?? 0) === d.spec.replicas);
    }, { timeoutMs: 180_000, intervalMs: 1000 });
    for (const d of before.items) {
      const now = await env.kube.get(`/apis/apps/v1/namespaces/${WEFT_NS}/deployments/${d.metadata.name}`);
      assert.ok(now.metadata.generation > d.metadata.generation, `${d.metadata.name} got a new template`);
      const envs = now.spec.template.spec.containers.flatMap((c) => c.env ?? []);
      assert.ok(envs.some((e) => /LOG_LEVEL$/.test(e.name) && e.value === 'debug'), `${d.metadata.name} runs with logLevel=debug`);
    }
    // Old pods may still be terminating (the kubelet gives them their grace period): the live ones must all be new.
    const running = (await env.kube.get(`/api/v1/namespaces/${WEFT_NS}/pods`)).items.filter((p) => !p.metadata.deletionTimestamp);
    assert.ok(running.length >= 3 && running.every((p) => !oldPods.has(p.metadata.uid)), `every control-plane pod was replaced: ${running.map((p) => p.metadata.name).join(', ')}`);
    // Keep the traffic going a little after the rollout: the data plane must ride through the new control plane.
    const count = traffic.statuses().length;
    await waitFor('requests after the rollout', () => traffic.statuses().length >= count + 10, { timeoutMs: 30_000 });
  } finally {
    statuses = traffic.stop();
  }
  const failed = statuses.filter((x) => x !== '200');
  console.log(`# upgrade: ${statuses.length} meshed requests, ${failed.length} failed`);
  assert.deepEqual(failed, [], `${failed.length} of ${statuses.length} meshed requests failed during the upgrade`);
});
