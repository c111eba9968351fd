// identity run from files (a mounted Secret outside the API): the kubelet updates the volume by swapping
// its `..data` symlink, twice in a row here, and each new issuer reaches identity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@weft/common/poll';
import { TestPki } from '@weft/common/testing/pki';
import { AtomicDir } from '@weft/common/testing/atomic-dir';
import { fileIssuerSource } from './file-sources.js';
import type { IssuerMaterial } from './issuer.js';

test('the file issuer source delivers each issuer after two kubelet symlink swaps of its volume', async (t) => {
  const pki = new TestPki();
  const vol = new AtomicDir();
  const anchor = pki.cert({ subject: '/CN=anchor', ca: true });
  const issuer = (n: number) => pki.cert({ subject: `/CN=issuer-${n}`, ca: true, issuer: anchor });
  const first = issuer(1);
  vol.write({ 'tls.crt': first.cert, 'tls.key': first.key });
  const source = fileIssuerSource({ certFile: vol.path('tls.crt'), keyFile: vol.path('tls.key'), pollMs: 100 });
  const seen: IssuerMaterial[] = [];
  const initial = await source.start({ change: (m) => seen.push(m), problem: () => undefined });
  t.after(async () => {
    await source.stop();
    pki.dispose();
    vol.remove();
  });
  assert.equal(initial.certPem, first.cert);
  for (const n of [2, 3]) {
    const next = issuer(n);
    vol.write({ 'tls.crt': next.cert, 'tls.key': next.key });
    await waitFor(`issuer-${n} delivered`, () => (seen.at(-1)?.certPem === next.cert ? true : undefined), { timeoutMs: 20_000 });
    assert.equal(seen.at(-1)!.keyPem, next.key, 'with its own key');
  }
});
