// viz's tap client certificate is a mounted Secret that cert-manager renews and the kubelet swaps
// (`..data` symlink): viz must present each new certificate to the proxies' tap servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@weft/common/poll';
import { TestPki } from '@weft/common/testing/pki';
import { AtomicDir } from '@weft/common/testing/atomic-dir';
import { startViz } from './testing/viz-process.js';

const IDENTITY = 'web.shop.serviceaccount.identity.weft.cluster.local';

test('viz presents each renewed tap client certificate to a proxy after two kubelet symlink swaps', async (t) => {
  const pki = new TestPki();
  const vol = new AtomicDir();
  t.after(() => {
    pki.dispose();
    vol.remove();
  });
  const anchor = pki.cert({ subject: '/CN=anchor', ca: true });
  const proxyLeaf = pki.cert({ subject: '/CN=web', dns: [IDENTITY], issuer: anchor });
  const vizLeaf = (n: number) =>
    pki.cert({ subject: `/CN=viz-${n}`, dns: ['weft-viz.weft-viz.serviceaccount.identity.weft.cluster.local'], issuer: anchor });
  const first = vizLeaf(1);
  vol.write({ 'tls.crt': first.cert, 'tls.key': first.key, 'ca.crt': anchor.cert });

  // A proxy's tap port as far as the handshake goes: it requires and verifies a client certificate, records
  // whose it was, and hangs up (viz reports the broken stream and goes on).
  const clients: string[] = [];
  const tapServer = tls.createServer(
    { cert: proxyLeaf.cert, key: proxyLeaf.key, ca: anchor.cert, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] },
    (s) => {
      const raw = s.getPeerCertificate().raw;
      if (raw) clients.push(new X509Certificate(raw).subject);
      s.destroy();
    },
  );
  await new Promise<void>((r) => tapServer.listen(0, '127.0.0.1', r));
  t.after(() => tapServer.close());
  const tapAddr = `127.0.0.1:${(tapServer.address() as AddressInfo).port}`;
  const proxies = pki.file(
    'proxies.yaml',
    `proxies:\n  - {name: web-1, namespace: shop, workload: deploy/web, adminAddr: "127.0.0.1:9", tapAddr: "${tapAddr}", identity: ${IDENTITY}}\n`,
  );

  const started = await startViz(t, {
    WEFT_VIZ_PROXIES_FILE: proxies,
    WEFT_VIZ_TRUST_ANCHORS_FILE: vol.path('ca.crt'),
    WEFT_VIZ_TAP_CERT_FILE: vol.path('tls.crt'),
    WEFT_VIZ_TAP_KEY_FILE: vol.path('tls.key'),
    WEFT_VIZ_TAP_AUTH: 'loopback',
    // One hour: a reload seen here comes from the directory watch.
    WEFT_VIZ_FILE_POLL_INTERVAL: '1h',
  });
  // One tap call: viz connects to the proxy with its current certificate; the stream ends with an error line.
  const tapOnce = async (): Promise<string | undefined> => {
    const before = clients.length;
    const res = await fetch(`${started.tap}/api/v1/tap?resource=deploy/web&namespace=shop&limit=1`, {
      signal: AbortSignal.timeout(20_000),
    });
    assert.equal(res.status, 200);
    await res.text();
    return clients.slice(before).at(-1);
  };
  assert.equal(await tapOnce(), 'CN=viz-1');
  for (const n of [2, 3]) {
    const next = vizLeaf(n);
    vol.write({ 'tls.crt': next.cert, 'tls.key': next.key, 'ca.crt': anchor.cert });
    await waitFor(`viz to present viz-${n}`, async () => ((await tapOnce()) === `CN=viz-${n}` ? true : undefined), { timeoutMs: 30_000 });
  }
  started.child.kill('SIGTERM');
});
