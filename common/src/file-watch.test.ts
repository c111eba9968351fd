import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { readlinkSync, rmSync } from 'node:fs';
import { watchFiles } from './file-watch.js';
import { waitFor } from './poll.js';
import { TestPki } from './testing/pki.js';
import { AtomicDir } from './testing/atomic-dir.js';
import { servedCertificate } from './testing/served-certificate.js';

// The poll is set far beyond the test's life: a change seen here came from the directory watch.
const NO_POLL_MS = 3_600_000;

test('a TLS server fed by watchFiles serves each new certificate after two kubelet symlink swaps in a row', async (t) => {
  const pki = new TestPki();
  const vol = new AtomicDir();
  t.after(() => {
    pki.dispose();
    vol.remove();
  });
  const ca = pki.cert({ subject: '/CN=anchor', ca: true });
  const leaf = (n: number) => pki.cert({ subject: `/CN=serving-${n}`, dns: ['server.test'], issuer: ca });
  const first = leaf(1);
  vol.write({ 'tls.crt': first.cert, 'tls.key': first.key });
  assert.equal(readlinkSync(vol.path('tls.crt')), '..data/tls.crt', 'visible names are symlinks through ..data');

  const server = tls.createServer({ cert: first.cert, key: first.key }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  let reloads = 0;
  const w = watchFiles([vol.path('tls.crt'), vol.path('tls.key')], NO_POLL_MS, ([cert, key]) => {
    server.setSecureContext({ cert: cert!, key: key! });
    reloads++;
  });
  t.after(() => {
    w.close();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  const served = () => servedCertificate({ port, ca: ca.cert, servername: 'server.test' }).then((c) => c.subject);
  assert.equal(await served(), 'CN=serving-1');

  for (const n of [2, 3]) {
    const before = vol.current();
    const next = leaf(n);
    vol.write({ 'tls.crt': next.cert, 'tls.key': next.key });
    assert.notEqual(vol.current(), before, '..data points at a new timestamped directory');
    await waitFor(
      `the served certificate to become serving-${n}`,
      async () => ((await served()) === `CN=serving-${n}` ? true : undefined),
      { timeoutMs: 20_000 },
    );
  }
  assert.equal(reloads, 2, 'one reload per swap');
});

test('watchFiles waits for a complete set: a missing file is retried, never delivered', async (t) => {
  const vol = new AtomicDir();
  t.after(() => vol.remove());
  vol.write({ a: 'one', b: 'one' });
  const seen: string[][] = [];
  const w = watchFiles([vol.path('a'), vol.path('b')], 100, (c) => seen.push(c));
  t.after(() => w.close());
  rmSync(vol.path('b'));
  // Let events and several polls pass with b missing: nothing may be delivered.
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(seen, []);
  vol.write({ a: 'two', b: 'two' });
  await waitFor('the complete new set', () => (seen.length ? true : undefined), { timeoutMs: 20_000 });
  assert.deepEqual(seen, [['two', 'two']]);
});
