import { test } from 'node:test';
import assert from 'node:assert/strict';
import { env, loadConfig, parseDuration, parseListenAddr, parsePortList } from './config.js';
import { ConfigError } from './errors.js';

const schema = {
  port: env.port('WEFT_PORT', 4140),
  level: env.oneOf('WEFT_LOG_LEVEL', ['info', 'debug'] as const, 'info'),
  lifetime: env.duration('WEFT_LIFETIME', '24h'),
  namespace: env.string('WEFT_NAMESPACE'),
  tls: env.bool('WEFT_TLS', true),
  skip: env.portList('WEFT_SKIP_PORTS'),
};

test('defaults apply when variables are unset', () => {
  const cfg = loadConfig(schema, { WEFT_NAMESPACE: 'weft' });
  assert.deepEqual(cfg, { port: 4140, level: 'info', lifetime: 86_400_000, namespace: 'weft', tls: true, skip: [] });
});

test('every bad variable is named in one ConfigError', () => {
  assert.throws(
    () => loadConfig(schema, { WEFT_PORT: '70000', WEFT_LOG_LEVEL: 'loud', WEFT_LIFETIME: 'soon', WEFT_TLS: 'maybe', WEFT_SKIP_PORTS: '22,x' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'CONFIG_INVALID');
      const text = err.problems.join('\n');
      for (const v of ['WEFT_PORT=70000 is above the maximum 65535', 'WEFT_LOG_LEVEL="loud" is not one of info, debug', 'WEFT_LIFETIME', 'WEFT_TLS="maybe"', 'WEFT_SKIP_PORTS', 'WEFT_NAMESPACE is required']) {
        assert.ok(text.includes(v), `expected "${v}" in:\n${text}`);
      }
      assert.equal(err.problems.length, 6);
      return true;
    },
  );
});

test('a setting of its own that throws a ConfigError is reported with the others', () => {
  const mine = (raw: string | undefined): string | undefined => {
    if (raw === 'bad') throw new ConfigError(['WEFT_MINE="bad" is mine and bad']);
    return raw;
  };
  const own = { mine: { variable: 'WEFT_MINE', parse: mine }, port: env.port('WEFT_PORT') };
  assert.throws(() => loadConfig(own, { WEFT_MINE: 'bad', WEFT_PORT: 'x' }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems, ['WEFT_MINE="bad" is mine and bad', 'WEFT_PORT="x" is not an integer']);
    return true;
  });
});

test('a non-integer port is rejected by name', () => {
  assert.throws(() => loadConfig({ p: env.port('WEFT_ADMIN_PORT') }, { WEFT_ADMIN_PORT: '41x' }), /WEFT_ADMIN_PORT="41x" is not an integer/);
});

test('durations parse in ms, s, m and h', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('20s'), 20_000);
  assert.equal(parseDuration('1.5m'), 90_000);
  assert.equal(parseDuration('24h'), 86_400_000);
  assert.throws(() => parseDuration('10'), /not a duration/);
});

test('a duration with a range is held to it, by name and in its own syntax', () => {
  const ranged = { t: env.duration('WEFT_T', '10s', { min: '1s', max: '1h' }) };
  assert.equal(loadConfig(ranged, {}).t, 10_000);
  assert.equal(loadConfig(ranged, { WEFT_T: '1s' }).t, 1_000);
  assert.equal(loadConfig(ranged, { WEFT_T: '60m' }).t, 3_600_000);
  assert.throws(() => loadConfig(ranged, { WEFT_T: '500ms' }), /WEFT_T=500ms is below the minimum 1s/);
  assert.throws(() => loadConfig(ranged, { WEFT_T: '2h' }), /WEFT_T=2h is above the maximum 1h/);
  assert.throws(() => loadConfig(ranged, { WEFT_T: '-1s' }), /WEFT_T: "-1s" is not a duration/);
});

test('port lists accept single ports and ranges, and reject bad ranges', () => {
  assert.deepEqual(parsePortList('443, 25,8000-8002'), [25, 443, 8000, 8001, 8002]);
  assert.throws(() => parsePortList('9-3'), /"9-3" is not a port or port range/);
  assert.throws(() => parsePortList('0'), /"0"/);
});

test('listen addresses: host:port, [v6]:port and :port; anything else is named', () => {
  assert.deepEqual(parseListenAddr('127.0.0.1:4140'), { host: '127.0.0.1', port: 4140 });
  assert.deepEqual(parseListenAddr('[::1]:4191'), { host: '::1', port: 4191 });
  assert.deepEqual(parseListenAddr(':8443'), { host: '0.0.0.0', port: 8443 });
  assert.deepEqual(parseListenAddr('localhost:0'), { host: 'localhost', port: 0 });
  for (const bad of ['4140', '::1:80', 'host:65536', 'host:', '[zz]:80', 'a b:80']) assert.throws(() => parseListenAddr(bad), /is not host:port/, bad);
  const schema = { listen: env.listenAddr('WEFT_X_LISTEN_ADDR', '0.0.0.0:8443') };
  assert.deepEqual(loadConfig(schema, {}).listen, { host: '0.0.0.0', port: 8443 });
  assert.throws(() => loadConfig(schema, { WEFT_X_LISTEN_ADDR: 'nope' }), /WEFT_X_LISTEN_ADDR: "nope" is not host:port/);
});
