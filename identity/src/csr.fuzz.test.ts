// Fuzz target for CSR parsing (identity's most exposed parser: any pod sends
// it bytes). 100,000 mutations of valid ECDSA P-256 and RSA CSRs, with and
// without names; each must either verify (and then carry only the expected
// identity) or be refused with INVALID_ARGUMENT — never another error, never
// a hang or crash.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestPki } from '@weft/common/testing/pki';
import { Mutator } from '@weft/common/testing/mutate';
import { InvalidArgumentError } from '@weft/common/errors';
import { verifyCsr } from './csr.js';
import { opensslCsr } from './testing/openssl-csr.js';

const CASES = 100_000;
const WEB = 'web.demo.serviceaccount.identity.weft.cluster.local';
const expected = { dns: WEB, spiffe: 'spiffe://cluster.local/ns/demo/sa/web' };
const pki = new TestPki();
after(() => pki.dispose());

test(`fuzz: ${CASES.toLocaleString('en')} mutated CSRs are verified or refused with INVALID_ARGUMENT`, { timeout: 600_000 }, async () => {
  const corpus = [
    opensslCsr(pki, { key: 'ec', subject: `/CN=${WEB}`, dns: [WEB] }).der,
    opensslCsr(pki, { key: 'ec', subject: `/CN=${WEB}` }).der,
    opensslCsr(pki, { key: 'rsa2048', subject: `/CN=${WEB}` }).der,
    opensslCsr(pki, { key: 'ec', subject: '/CN=other.demo.serviceaccount.identity.weft.cluster.local', dns: ['evil.example'] }).der,
  ];
  const m = new Mutator(20261202, corpus, [Buffer.from([0x30, 0x82]), Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x11]), Buffer.from(WEB), Buffer.from([0x81, 0xff, 0xff, 0xff, 0xff])]);
  let verified = 0;
  let refused = 0;
  for (let i = 0; i < CASES; i++) {
    const der = m.next();
    try {
      await verifyCsr(der, expected);
      verified++;
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) assert.fail(`input #${i} (${der.toString('hex').slice(0, 200)}): not INVALID_ARGUMENT: ${(err as Error).stack}`);
      refused++;
    }
  }
  assert.equal(verified + refused, CASES);
  // Mutations that keep a valid signature are rare but possible (e.g. in unsigned padding); the refusals are the rest.
  assert.ok(refused > CASES * 0.9, `only ${refused} refused`);
});
