import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@weft/common/errors';
import { parseInitFlags, parsePortRanges, parseSubnets } from './flags.js';

test('defaults are the contract ports, uid 2102 and both IP families', () => {
  const { config, teardown } = parseInitFlags([]);
  assert.equal(config.inboundProxyPort, 4143);
  assert.equal(config.outboundProxyPort, 4140);
  assert.equal(config.proxyUid, 2102);
  assert.deepEqual(config.families, ['ipv4', 'ipv6']);
  assert.equal(teardown, false);
});

test('the documented flag set parses', () => {
  const cmd = parseInitFlags([
    '--incoming-proxy-port', '15006', '--outgoing-proxy-port', '15001', '--proxy-uid', '1337',
    '--inbound-ports-to-ignore', '4190,4191', '--outbound-ports-to-ignore', '25, 8000-8010', '--teardown', '--no-ipv6',
  ]);
  assert.equal(cmd.config.inboundProxyPort, 15006);
  assert.equal(cmd.config.outboundProxyPort, 15001);
  assert.equal(cmd.config.proxyUid, 1337);
  assert.deepEqual(cmd.config.inboundPortsToIgnore, [{ from: 4190, to: 4190 }, { from: 4191, to: 4191 }]);
  assert.deepEqual(cmd.config.outboundPortsToIgnore, [{ from: 25, to: 25 }, { from: 8000, to: 8010 }]);
  assert.deepEqual(cmd.config.families, ['ipv4']);
  assert.equal(cmd.teardown, true);
});

test('port ranges accept a-b and a:b and reject garbage', () => {
  assert.deepEqual(parsePortRanges('1:2,3'), [{ from: 1, to: 2 }, { from: 3, to: 3 }]);
  assert.deepEqual(parsePortRanges(''), []);
  for (const bad of ['0', '65536', '10-5', 'http', '1-2-3', '-1']) assert.throws(() => parsePortRanges(bad), new RegExp(bad.replace('-', '\\-')));
});

test('every bad flag is reported at once, by name', () => {
  assert.throws(
    () => parseInitFlags(['--incoming-proxy-port', 'x', '--proxy-uid=-3', '--outbound-ports-to-ignore', '99999']),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 3);
      assert.match(err.message, /--incoming-proxy-port/);
      assert.match(err.message, /--proxy-uid/);
      assert.match(err.message, /--outbound-ports-to-ignore/);
      return true;
    },
  );
});

test('an unknown flag is a ConfigError, not a crash', () => {
  assert.throws(() => parseInitFlags(['--frobnicate']), ConfigError);
  assert.throws(() => parseInitFlags(['stray']), ConfigError);
});

test('skipped subnets parse by family (a bare address is a host route) and a bad CIDR is named', () => {
  const cmd = parseInitFlags(['--inbound-subnets-to-ignore', '10.10.0.0/16', '--outbound-subnets-to-ignore', '192.168.0.0/16, fd00::/8,10.0.0.7']);
  assert.deepEqual(cmd.config.inboundSubnetsToIgnore, [{ family: 'ipv4', cidr: '10.10.0.0/16' }]);
  assert.deepEqual(cmd.config.outboundSubnetsToIgnore, [
    { family: 'ipv4', cidr: '192.168.0.0/16' },
    { family: 'ipv6', cidr: 'fd00::/8' },
    { family: 'ipv4', cidr: '10.0.0.7/32' },
  ]);
  assert.deepEqual(parseSubnets(''), []);
  for (const bad of ['10.0.0.0/33', 'fd00::/129', 'example.com/8', '10.0.0.0/8/1', '10.0.0/8', '10.0.0.0/x']) assert.throws(() => parseSubnets(bad), /is not a CIDR/, bad);
  assert.throws(() => parseInitFlags(['--outbound-subnets-to-ignore', '10.0.0.0/40']), /--outbound-subnets-to-ignore: "10.0.0.0\/40" is not a CIDR/);
});
