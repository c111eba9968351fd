// identity's environment, as the chart sets it (docs/contracts.md): defaults,
// Go duration syntax, and every bad setting named at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@weft/common/errors';
import { loadIdentityConfig, parseGoDuration } from './config.js';

test('defaults match the contract: 8080/9990, weft namespace, 24h leaves, 20s skew, identity.weft.io, the Secret and ConfigMap names', () => {
  const c = loadIdentityConfig({});
  assert.deepEqual(c.listen, { host: '0.0.0.0', port: 8080 });
  assert.deepEqual(c.adminListen, { host: '0.0.0.0', port: 9990 });
  assert.equal(c.controlNamespace, 'weft');
  assert.equal(c.trustDomain, 'cluster.local');
  assert.equal(c.issuanceLifetimeMs, 24 * 3_600_000);
  assert.equal(c.clockSkewMs, 20_000);
  assert.equal(c.tokenAudience, 'identity.weft.io');
  assert.equal(c.issuerSource, 'kubernetes');
  assert.equal(c.issuerSecret, 'weft-identity-issuer');
  assert.equal(c.trustRootsConfigMap, 'weft-identity-trust-roots');
  assert.deepEqual(c.certifyRateLimit, { burst: 10, perMinute: 60 });
});

test('the chart values parse: Go durations, scheme, names', () => {
  const c = loadIdentityConfig({
    WEFT_IDENTITY_ISSUANCE_LIFETIME: '48h0m0s',
    WEFT_IDENTITY_CLOCK_SKEW_ALLOWANCE: '1m30s',
    WEFT_IDENTITY_ISSUER_SCHEME: 'weft.io/tls',
    WEFT_IDENTITY_LISTEN_ADDR: '[::]:8080',
    WEFT_IDENTITY_ISSUER_SECRET: 'my-issuer',
    WEFT_IDENTITY_CERTIFY_SOURCE_BURST: '20',
    WEFT_IDENTITY_CERTIFY_SOURCE_PER_MINUTE: '6',
  });
  assert.equal(c.issuanceLifetimeMs, 48 * 3_600_000);
  assert.equal(c.clockSkewMs, 90_000);
  assert.deepEqual(c.listen, { host: '::', port: 8080 });
  assert.equal(c.issuerSecret, 'my-issuer');
  assert.deepEqual(c.certifyRateLimit, { burst: 20, perMinute: 6 });
});

test('Go durations: compound, fractional and sub-second units', () => {
  assert.equal(parseGoDuration('24h0m0s'), 86_400_000);
  assert.equal(parseGoDuration('1.5h'), 5_400_000);
  assert.equal(parseGoDuration('250ms'), 250);
  assert.equal(parseGoDuration('2m500ms'), 120_500);
  for (const bad of ['', '24', 'forever', '1d', '-5s', '5 s']) assert.throws(() => parseGoDuration(bad), /is not a duration/, bad);
});

test('every bad setting is named in one error', () => {
  assert.throws(
    () =>
      loadIdentityConfig({
        WEFT_IDENTITY_LISTEN_ADDR: 'nowhere',
        WEFT_IDENTITY_ISSUANCE_LIFETIME: '30s',
        WEFT_IDENTITY_CLOCK_SKEW_ALLOWANCE: 'soon',
        WEFT_IDENTITY_ISSUER_SOURCE: 'files',
        WEFT_IDENTITY_ISSUER_CERT_FILE: '/etc/weft/tls.crt',
      }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, [
        'WEFT_IDENTITY_LISTEN_ADDR="nowhere" is not host:port (or [ipv6]:port, or :port for all addresses)',
        'WEFT_IDENTITY_CLOCK_SKEW_ALLOWANCE: "soon" is not a duration (Go syntax, e.g. 24h0m0s, 90m, 20s)',
        'WEFT_IDENTITY_ISSUANCE_LIFETIME="30s" must be at least 1m (proxies renew at 70 % of it)',
        'WEFT_IDENTITY_ISSUER_KEY_FILE is required when WEFT_IDENTITY_ISSUER_SOURCE=files',
        'WEFT_IDENTITY_TRUST_ANCHORS_FILE is required when WEFT_IDENTITY_ISSUER_SOURCE=files',
      ]);
      return true;
    },
  );
  assert.throws(() => loadIdentityConfig({ WEFT_IDENTITY_ISSUER_SCHEME: 'linkerd.io/tls' }), /WEFT_IDENTITY_ISSUER_SCHEME="linkerd.io\/tls" is not one of kubernetes.io\/tls, weft.io\/tls/);
});

test('a Certify rate limit that is not a positive integer is named', () => {
  assert.throws(
    () => loadIdentityConfig({ WEFT_IDENTITY_CERTIFY_SOURCE_BURST: '0', WEFT_IDENTITY_CERTIFY_SOURCE_PER_MINUTE: '1.5' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, ['WEFT_IDENTITY_CERTIFY_SOURCE_BURST=0 is below the minimum 1', 'WEFT_IDENTITY_CERTIFY_SOURCE_PER_MINUTE="1.5" is not an integer']);
      return true;
    },
  );
});

test('the leaf lifetime is bounded: 1m to 168h (7 days), zero included in the refusals', () => {
  assert.equal(loadIdentityConfig({ WEFT_IDENTITY_ISSUANCE_LIFETIME: '168h' }).issuanceLifetimeMs, 7 * 24 * 3_600_000);
  assert.equal(loadIdentityConfig({ WEFT_IDENTITY_ISSUANCE_LIFETIME: '1m', WEFT_IDENTITY_CLOCK_SKEW_ALLOWANCE: '10s' }).issuanceLifetimeMs, 60_000);
  const problems = (lifetime: string): readonly string[] => {
    try {
      loadIdentityConfig({ WEFT_IDENTITY_ISSUANCE_LIFETIME: lifetime });
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems;
    }
    return [];
  };
  assert.deepEqual(problems('168h0m1s'), ['WEFT_IDENTITY_ISSUANCE_LIFETIME="168h0m1s" must be at most 168h (7 days): leaves cannot be revoked, so their lifetime bounds a stolen key']);
  assert.deepEqual(problems('8760h'), ['WEFT_IDENTITY_ISSUANCE_LIFETIME="8760h" must be at most 168h (7 days): leaves cannot be revoked, so their lifetime bounds a stolen key']);
  assert.deepEqual(problems('0s'), ['WEFT_IDENTITY_ISSUANCE_LIFETIME="0s" must be at least 1m (proxies renew at 70 % of it)']);
  assert.deepEqual(problems('59s'), ['WEFT_IDENTITY_ISSUANCE_LIFETIME="59s" must be at least 1m (proxies renew at 70 % of it)']);
});

test('a clock skew allowance as long as the leaf lifetime is refused', () => {
  assert.throws(
    () => loadIdentityConfig({ WEFT_IDENTITY_ISSUANCE_LIFETIME: '1h', WEFT_IDENTITY_CLOCK_SKEW_ALLOWANCE: '60m' }),
    /WEFT_IDENTITY_CLOCK_SKEW_ALLOWANCE must be shorter than WEFT_IDENTITY_ISSUANCE_LIFETIME/,
  );
});
