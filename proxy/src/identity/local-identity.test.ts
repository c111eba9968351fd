import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@weft/common/log';
import { CertifyingIdentity, type TlsCredentials } from './local-identity.js';

const log = createLogger('identity-test', 'silent');

async function until(what: string, check: () => boolean): Promise<void> {
  // Polls the real condition; the bound is a safety net only.
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), `timed out waiting for ${what}`);
}

test('renews at 70 % of the lifetime and announces each new certificate', { timeout: 30_000 }, async () => {
  const issued: TlsCredentials[] = [];
  const id = new CertifyingIdentity('web.ns.serviceaccount.identity.weft.cluster.local', 'anchors', async () => {
    const creds = { cert: `cert-${issued.length}`, key: 'k', expiresAt: new Date(Date.now() + 1500) };
    issued.push(creds);
    return creds;
  }, log);
  const seen: string[] = [];
  id.onChange((c) => seen.push(c.cert));
  try {
    await until('two certifications', () => issued.length >= 2);
    const first = issued[0]!;
    // The renewal came after 70 % of the first lifetime (1.05 s of 1.5 s), not before.
    assert.ok(issued[1]!.expiresAt.getTime() - first.expiresAt.getTime() >= 1000);
    assert.equal(id.current()?.cert, issued.at(-1)!.cert);
    assert.deepEqual(seen.slice(0, 2), ['cert-0', 'cert-1']);
  } finally {
    id.close();
  }
});

test('a failed certification keeps retrying, and the proxy stays without a certificate until one succeeds', { timeout: 30_000 }, async () => {
  let calls = 0;
  const id = new CertifyingIdentity('web.ns.serviceaccount.identity.weft.cluster.local', 'anchors', async () => {
    calls++;
    if (calls < 3) throw new Error('identity unavailable');
    return { cert: 'good', key: 'k', expiresAt: new Date(Date.now() + 3_600_000) };
  }, log);
  try {
    assert.equal(id.current(), undefined);
    await until('a certificate', () => id.current() !== undefined);
    assert.equal(calls, 3);
    assert.equal(id.current()?.cert, 'good');
  } finally {
    id.close();
  }
});

test('a certificate valid for a year is not renewed at once (timers above 2^31-1 ms would fire immediately)', { timeout: 30_000 }, async () => {
  let calls = 0;
  const id = new CertifyingIdentity('web.ns.serviceaccount.identity.weft.cluster.local', 'anchors', async () => {
    calls++;
    return { cert: `cert-${calls}`, key: 'k', expiresAt: new Date(Date.now() + 365 * 24 * 3600_000) };
  }, log);
  try {
    await until('the first certification', () => id.current() !== undefined);
    // An overflowing timer fires after 1 ms; give it many times that, then check no renewal happened.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(calls, 1);
  } finally {
    id.close();
  }
});
