// Scenario 9: certificates cert-manager renews reach every weft component
// that uses them, through the kubelet's real Secret volume updates (the
// atomic `..data` symlink swap), twice in a row: the second swap is where a
// watch on the first files' inodes goes deaf.
//
// Each round marks four Certificates Issuing, as `cmctl renew` does, and
// waits for cert-manager to write new Secrets; then:
//   destination  serves the new weft-destination-tls certificate on its gRPC
//                port (read from a TLS handshake with the pod);
//   injector     serves the new weft-injector-k8s-tls certificate on its
//                webhook port (read from a TLS handshake);
//   viz          sees the new weft-viz-tap-tls file in its container (read
//                through the container's root) and logs that it reloaded its
//                tap client certificate once more;
//   identity     (reads the issuer Secret from the API, not a volume) signs
//                the leaf of a pod started after the round with the new issuer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { loadEnv, notRunning, waitFor } from '../../lib/env.mjs';
import { deleteNamespaces, echoPod, readyPods } from '../../lib/pods.mjs';
import { readFileSync } from 'node:fs';
import { containerLog, containerPid, controlPlaneReady, meshedNamespace, podReady } from '../../lib/node-pods.mjs';
import { WEFT_NS, chartPaths, imageValues, installWeft, uninstallWeft, certificateReady } from '../../lib/weft-install.mjs';

const NS = 'weft-e2e-s9';
const VIZ_NS = 'weft-viz';
const ROUNDS = 2;
let env;
let installed = [];
let anchorFile;

/** Certificate → its Secret, for the four the scenario renews. */
const RENEWED = [
  { ns: WEFT_NS, certificate: 'weft-identity-issuer', secret: 'weft-identity-issuer' },
  { ns: WEFT_NS, certificate: 'weft-destination', secret: 'weft-destination-tls' },
  { ns: WEFT_NS, certificate: 'weft-injector', secret: 'weft-injector-k8s-tls' },
  { ns: VIZ_NS, certificate: 'weft-viz-tap-tls', secret: 'weft-viz-tap-tls' },
];

before(async () => {
  if (notRunning) return;
  env = loadEnv();
  assert.ok(env.state.realNode?.weftImages, 'no real node with weft images: run `npm run test:e2e`');
  const r = await installWeft(env);
  installed = r.releases;
  anchorFile = r.anchorFile;
  await controlPlaneReady(env);
  // viz, with its tap client certificate from cert-manager (no Prometheus image can be pulled here: an external URL).
  await env.kube.ensure('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: VIZ_NS } });
  await env.kube.ensure(`/apis/cert-manager.io/v1/namespaces/${VIZ_NS}/issuers`, { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'weft-viz-selfsigned' }, spec: { selfSigned: {} } });
  await env.kube.ensure(`/apis/cert-manager.io/v1/namespaces/${VIZ_NS}/certificates`, {
    apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'weft-viz-tap-tls' },
    spec: { secretName: 'weft-viz-tap-tls', commonName: `viz.${VIZ_NS}.serviceaccount.identity.${WEFT_NS}.cluster.local`, duration: '24h', privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' }, issuerRef: { name: 'weft-viz-selfsigned', kind: 'Issuer' } },
  });
  await certificateReady(env.kube, `/apis/cert-manager.io/v1/namespaces/${VIZ_NS}/certificates/weft-viz-tap-tls`);
  env.helm(['install', 'weft-viz', chartPaths(env).viz, '-n', VIZ_NS, ...[...imageValues(env), 'prometheus.enabled=false', 'prometheus.url=http://127.0.0.1:9090', 'viz.tapTls.externalSecret=true'].flatMap((s) => ['--set', s]), '--set-file', `identityTrustAnchorsPEM=${anchorFile}`, '--timeout', '3m']);
  installed.push(['weft-viz', VIZ_NS]);
  await readyPods(env.kube, VIZ_NS, 'app.kubernetes.io/name=weft-viz', 1, 'weft-viz Ready', 240_000);
  await meshedNamespace(env, NS);
});

after(async () => {
  if (!env) return;
  await deleteNamespaces(env.kube, [NS]);
  await uninstallWeft(env, installed);
  await deleteNamespaces(env.kube, [VIZ_NS]);
  env.kube.close();
});

const pemOf = (s) => s.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
const secretCert = async (ns, name) => pemOf(Buffer.from((await env.kube.get(`/api/v1/namespaces/${ns}/secrets/${name}`)).data['tls.crt'], 'base64').toString());

/** The leaf certificate a server presents in a TLS handshake (PEM), or undefined. */
function servedCert(host, port, servername, alpn) {
  const r = spawnSync('openssl', ['s_client', '-connect', `${host}:${port}`, ...(servername ? ['-servername', servername] : []), ...(alpn ? ['-alpn', alpn] : [])], { input: '', encoding: 'utf8', timeout: 10_000 });
  return pemOf(r.stdout ?? '');
}

const fingerprint = (pem) => spawnSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], { input: pem, encoding: 'utf8' }).stdout.trim().split('=').pop();

/** What `cmctl renew` does: set the Issuing condition; cert-manager re-issues. */
async function renew({ ns, certificate }) {
  const path = `/apis/cert-manager.io/v1/namespaces/${ns}/certificates/${certificate}`;
  const cert = await env.kube.get(path);
  const conditions = (cert.status.conditions ?? []).filter((c) => c.type !== 'Issuing');
  conditions.push({ type: 'Issuing', status: 'True', reason: 'ManuallyTriggered', message: 'weft e2e: renewal', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
  await env.kube.request('PATCH', `${path}/status`, { status: { conditions } }, { contentType: 'application/merge-patch+json' });
}

const podOf = async (ns, name) => (await readyPods(env.kube, ns, `app.kubernetes.io/name=${name}`, 1, `${name} Ready`, 180_000))[0];
const vizReloads = (vizPod) => containerLog(env, VIZ_NS, vizPod, 'viz').split('\n').filter((l) => l.includes('tap client certificate reloaded')).length;

for (let round = 1; round <= ROUNDS; round++) {
  test(`renewal ${round} of ${ROUNDS}: destination, the injector, viz and identity take the new certificates`, { skip: notRunning }, async () => {
    const old = {};
    for (const r of RENEWED) old[r.secret] = await secretCert(r.ns, r.secret);
    const viz = await podOf(VIZ_NS, 'weft-viz');
    const vizBefore = vizReloads(viz.metadata.name);
    for (const r of RENEWED) await renew(r);
    const renewed = {};
    for (const r of RENEWED) {
      renewed[r.secret] = await waitFor(`cert-manager to write a new ${r.ns}/${r.secret}`, async () => {
        const pem = await secretCert(r.ns, r.secret);
        return pem && pem !== old[r.secret] ? pem : undefined;
      }, { timeoutMs: 120_000, intervalMs: 500 });
    }

    // The pods that mount the Secrets are the same ones (no restart): the kubelet swaps the files under them.
    const destination = await podOf(WEFT_NS, 'weft-destination');
    const injector = await podOf(WEFT_NS, 'weft-injector');
    let last;
    const deadline = { timeoutMs: 240_000, intervalMs: 2000 };
    await waitFor('destination serving the renewed certificate', () => {
      last = servedCert(destination.status.podIP, 8086, `weft-destination.${WEFT_NS}.svc.cluster.local`, 'h2');
      return last === renewed['weft-destination-tls'];
    }, deadline).catch((err) => {
      err.message += `\n  served ${last ? fingerprint(last) : 'nothing'}, Secret ${fingerprint(renewed['weft-destination-tls'])}, before ${fingerprint(old['weft-destination-tls'])}`;
      throw err;
    });
    await waitFor('the injector serving the renewed webhook certificate', () => {
      last = servedCert(injector.status.podIP, 8443, `weft-injector.${WEFT_NS}.svc`);
      return last === renewed['weft-injector-k8s-tls'];
    }, deadline).catch((err) => {
      err.message += `\n  served ${last ? fingerprint(last) : 'nothing'}, Secret ${fingerprint(renewed['weft-injector-k8s-tls'])}, before ${fingerprint(old['weft-injector-k8s-tls'])}`;
      throw err;
    });
    // viz: the kubelet swapped the file inside viz's container (read through the container's root), and viz reloaded it.
    const vizStatus = (await env.kube.get(`/api/v1/namespaces/${VIZ_NS}/pods/${viz.metadata.name}`)).status.containerStatuses.find((c) => c.name === 'viz');
    const vizFile = `/proc/${containerPid(env, vizStatus.containerID)}/root/var/run/weft/viz/tap-tls/tls.crt`;
    await waitFor('the kubelet swapping the renewed tap certificate into viz', () => pemOf(readFileSync(vizFile, 'utf8')) === renewed['weft-viz-tap-tls'], deadline);
    await waitFor('viz reloading its tap client certificate', () => vizReloads(viz.metadata.name) > vizBefore, deadline);

    // identity: a proxy certified now gets a leaf from the renewed issuer, not the old one.
    const name = `late-${round}`;
    await env.kube.create(`/api/v1/namespaces/${NS}/pods`, echoPod(env.echoImage, name));
    const late = await podReady(env, NS, name);
    const identity = `default.${NS}.serviceaccount.identity.${WEFT_NS}.cluster.local`;
    const leaf = await waitFor(`${name} presenting its workload certificate`, () => servedCert(late.status.podIP, 4143, identity, 'weft.h2'), { timeoutMs: 60_000, intervalMs: 1000 });
    const leafFile = env.writeFile(`s9-leaf-${round}.pem`, `${leaf}\n`);
    const verify = (issuerPem) => spawnSync('openssl', ['verify', '-partial_chain', '-CAfile', env.writeFile(`s9-issuer-${round}.pem`, issuerPem), leafFile], { encoding: 'utf8' });
    const byNew = verify(renewed['weft-identity-issuer']);
    assert.equal(byNew.status, 0, `the leaf is signed by the renewed issuer: ${byNew.stdout}${byNew.stderr}`);
    assert.notEqual(verify(old['weft-identity-issuer']).status, 0, 'and not by the previous one');
    const chain = spawnSync('openssl', ['verify', '-CAfile', anchorFile, '-untrusted', env.writeFile(`s9-issuer-${round}.pem`, renewed['weft-identity-issuer']), leafFile], { encoding: 'utf8' });
    assert.equal(chain.status, 0, `and chains to the trust anchor: ${chain.stdout}${chain.stderr}`);

    // Same pods throughout: a restart would hide a deaf file watch.
    for (const p of [destination, injector, viz]) {
      const now = await env.kube.get(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`);
      assert.ok(now.status.containerStatuses.every((c) => c.restartCount === 0), `${p.metadata.name} did not restart: ${JSON.stringify(now.status.containerStatuses.map((c) => [c.name, c.restartCount]))}`);
    }
    console.log(`# renewal ${round}: destination serves ${fingerprint(renewed['weft-destination-tls']).slice(0, 23)}…, injector ${fingerprint(renewed['weft-injector-k8s-tls']).slice(0, 23)}…, viz reloaded its tap certificate (${vizReloads(viz.metadata.name)} reloads logged), ${name}'s leaf signed by the renewed issuer; same pods, no restarts`);
  });
}
