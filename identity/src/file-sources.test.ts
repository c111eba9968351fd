// Issuer and anchors from files: read at start (missing files named), and
// re-read so that a renewed issuer written over the old files is picked up.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { createRegistry } from '@weft/common/metrics';
import { TestPki } from '@weft/common/testing/pki';
import { fileIssuerSource, fileTrustSource } from './file-sources.js';
import { startIdentityService } from './identity-service.js';
import { IssuerError } from './issuer.js';
import { FakeTokenValidator } from './testing/fake-token-validator.js';
import { captureLog, LEVEL } from './testing/log-capture.js';
import { waitFor } from '@weft/common/poll';

const pki = new TestPki();
after(() => pki.dispose());

test('a missing issuer file is refused at start, naming the path', async () => {
  const source = fileIssuerSource({ certFile: '/nonexistent/tls.crt', keyFile: '/nonexistent/tls.key' });
  await assert.rejects(
    source.start({ change: () => undefined, problem: () => undefined }),
    (err: unknown) => err instanceof IssuerError && /cannot read \/nonexistent\/tls\.crt: ENOENT/.test(err.message),
  );
});

test('identity picks up an issuer renewed in place on disk, and reports files that vanish', async () => {
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
  const v1 = pki.cert({ subject: '/CN=file-issuer-v1', ca: true, issuer: anchor });
  const certFile = pki.file('tls.crt', v1.cert);
  const keyFile = pki.file('tls.key', v1.key);
  const { log, records } = captureLog();
  const service = await startIdentityService({
    host: '127.0.0.1',
    port: 0,
    trustDomain: 'cluster.local',
    controlNamespace: 'weft',
    validator: new FakeTokenValidator(),
    issuerSource: fileIssuerSource({ certFile, keyFile, pollMs: 50 }),
    trustSource: fileTrustSource({ file: anchor.certPath, pollMs: 50 }),
    log,
    registry: createRegistry('identity-test'),
  });
  try {
    assert.equal(service.issuer.current.issuer.subject, 'CN=file-issuer-v1');
    const v2 = pki.cert({ subject: '/CN=file-issuer-v2', ca: true, issuer: anchor });
    // Key first, then certificate: in between the pair does not match, which must be rejected, not used.
    copyFileSync(v2.keyPath, keyFile);
    copyFileSync(v2.certPath, certFile);
    await waitFor('the renewed issuer', () => service.issuer.current.issuer.subject === 'CN=file-issuer-v2');
    copyFileSync('/dev/null', anchor.certPath);
    await waitFor('the emptied bundle to be rejected', () =>
      records.some(
        (r) => r.level === LEVEL.error && /trust anchors: trust anchor bundle holds no PEM CERTIFICATE block/.test(String(r.err)),
      ),
    );
    assert.equal(service.issuer.current.issuer.subject, 'CN=file-issuer-v2');
  } finally {
    await service.close();
  }
});
