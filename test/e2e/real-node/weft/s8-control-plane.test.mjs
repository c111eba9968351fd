// Scenario 8 (real node, opt-in: `node test/e2e/real-node.mjs --weft`): weft's
// control plane chart runs as pods on the real kubelet from weft's own images
// (`npm run images -- --push <loopback registry>/weft`), installed with helm
// as an operator would (cert-manager issues the identity issuer and webhook
// certificates). Every control-plane pod must turn Ready from images whose
// digests are the pushed ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadEnv, waitFor } from '../../lib/env.mjs';
import { installWeft, uninstallWeft, chartsMissing, WEFT_NS } from '../../lib/weft-install.mjs';

const env = process.env.WEFT_E2E_KUBECONFIG ? loadEnv() : undefined;
const rn = env?.state.realNode;

test('s8: weft control plane on the real node from the pushed images', async (t) => {
  assert.ok(env && rn?.weftImages, 'no pushed weft images: run `node test/e2e/real-node.mjs --weft`');
  assert.equal(chartsMissing(env.repoRoot), undefined);
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
  } finally {
    await uninstallWeft(env, releases);
  }
});
