import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@weft/common/poll';
import { TestPki } from '@weft/common/testing/pki';
import { AtomicDir } from '@weft/common/testing/atomic-dir';
import { unusedPort } from '@weft/common/testing/ports';
import { servedCertificate } from '@weft/common/testing/served-certificate';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

test('destination serves each renewed certificate after two kubelet symlink swaps of its mounted Secret', async (t) => {
  const pki = new TestPki();
  const tlsVol = new AtomicDir();
  const rootsVol = new AtomicDir();
  t.after(() => {
    pki.dispose();
    tlsVol.remove();
    rootsVol.remove();
  });
  const anchor = pki.cert({ subject: '/CN=anchor', ca: true });
  const name = 'weft-destination.weft.serviceaccount.identity.weft.cluster.local';
  const serving = (n: number) => pki.cert({ subject: `/CN=destination-${n}`, dns: [name], issuer: anchor });
  const client = pki.cert({ subject: '/CN=proxy', dns: ['proxy.shop.serviceaccount.identity.weft.cluster.local'], issuer: anchor });
  const first = serving(1);
  tlsVol.write({ 'tls.crt': first.cert, 'tls.key': first.key });
  rootsVol.write({ 'ca-bundle.crt': anchor.cert });
  const [port, policyPort, adminPort] = [await unusedPort(), await unusedPort(), await unusedPort()];
  const child = spawn(process.execPath, [MAIN], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      WEFT_DESTINATION_SOURCE: 'file',
      WEFT_DESTINATION_DISCOVERY_FILE: pki.file('discovery.yaml', '{}\n'),
      WEFT_DESTINATION_LISTEN_HOST: '127.0.0.1',
      WEFT_DESTINATION_PORT: String(port),
      WEFT_DESTINATION_POLICY_PORT: String(policyPort),
      WEFT_DESTINATION_ADMIN_PORT: String(adminPort),
      WEFT_DESTINATION_TLS_CERT_FILE: tlsVol.path('tls.crt'),
      WEFT_DESTINATION_TLS_KEY_FILE: tlsVol.path('tls.key'),
      WEFT_DESTINATION_TRUST_ANCHORS_FILE: rootsVol.path('ca-bundle.crt'),
      // The poll would also find the change; one hour proves the directory watch does.
      WEFT_DESTINATION_FILE_POLL_INTERVAL: '1h',
      WEFT_DESTINATION_SHUTDOWN_DRAIN: '10s',
    },
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  child.stdout.on('data', (c: Buffer) => (stdout += c));
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const served = async (p: number) =>
    (await servedCertificate({ port: p, ca: anchor.cert, servername: name, cert: client.cert, key: client.key, alpn: ['h2'] })).subject;
  await waitFor('destination to serve', async () => (child.exitCode === null ? await served(port) : assert.fail(`exited: ${stderr}`)), {
    timeoutMs: 60_000,
  });
  assert.equal(await served(port), 'CN=destination-1');

  for (const n of [2, 3]) {
    const next = serving(n);
    tlsVol.write({ 'tls.crt': next.cert, 'tls.key': next.key });
    await waitFor(
      `destination to serve destination-${n}`,
      async () => ((await served(port)) === `CN=destination-${n}` ? true : undefined),
      { timeoutMs: 30_000 },
    );
    assert.equal(await served(policyPort), `CN=destination-${n}`, 'the policy port serves the same certificate');
  }

  // SIGTERM: destination keeps serving through its drain (proxies reconnecting meanwhile are still answered), then exits.
  child.kill('SIGTERM');
  await waitFor('the drain to start', () => (/draining/.test(stdout) ? true : undefined), { timeoutMs: 30_000 });
  assert.equal(await served(port), 'CN=destination-3', 'still serving while draining');
  assert.equal(child.exitCode, null);
  assert.equal(await exited, 0);
  assert.match(stdout, /"drainMs":10000/);
});
