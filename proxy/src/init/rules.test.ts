import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interceptionPlan, INBOUND_CHAIN, OUTBOUND_CHAIN, type InterceptionConfig } from './rules.js';

const config: InterceptionConfig = {
  inboundProxyPort: 4143,
  outboundProxyPort: 4140,
  proxyUid: 2102,
  inboundPortsToIgnore: [
    { from: 4190, to: 4190 },
    { from: 4191, to: 4191 },
  ],
  outboundPortsToIgnore: [
    { from: 25, to: 25 },
    { from: 8000, to: 8010 },
  ],
  families: ['ipv4', 'ipv6'],
};

const plan = interceptionPlan(config);
const chain = (name: string) => plan.chains.find((c) => c.name === name)!;
const target = (rule: readonly string[]) => rule.slice(rule.indexOf('-j') + 1).join(' ');
const dport = (rule: readonly string[]) => (rule.includes('--dport') ? rule[rule.indexOf('--dport') + 1] : undefined);

test('inbound chain hangs off PREROUTING and redirects tcp to the inbound port last', () => {
  const inbound = chain(INBOUND_CHAIN);
  assert.equal(inbound.hook, 'PREROUTING');
  assert.deepEqual(inbound.jump.slice(-2), ['-j', INBOUND_CHAIN]);
  assert.ok(inbound.jump.includes('tcp'));
  assert.equal(target(inbound.rules.at(-1)!), 'REDIRECT --to-ports 4143');
});

test('inbound skips the proxy inbound port and every ignored port before redirecting', () => {
  const skips = chain(INBOUND_CHAIN).rules.filter((r) => target(r) === 'RETURN').map(dport);
  assert.deepEqual(skips, ['4143', '4190', '4191']);
});

test('outbound excludes the proxy uid and loopback before anything else', () => {
  const outbound = chain(OUTBOUND_CHAIN);
  assert.equal(outbound.hook, 'OUTPUT');
  const [uid, lo] = outbound.rules;
  assert.deepEqual(uid!.slice(0, 3), ['-m', 'owner', '--uid-owner']);
  assert.equal(uid![3], '2102');
  assert.equal(target(uid!), 'RETURN');
  assert.deepEqual(lo!.slice(0, 2), ['-o', 'lo']);
  assert.equal(target(lo!), 'RETURN');
});

test('outbound ignored ports become RETURN rules, ranges in iptables from:to form', () => {
  const skips = chain(OUTBOUND_CHAIN).rules.filter((r) => target(r) === 'RETURN' && dport(r)).map(dport);
  assert.deepEqual(skips, ['25', '8000:8010']);
  assert.equal(target(chain(OUTBOUND_CHAIN).rules.at(-1)!), 'REDIRECT --to-ports 4140');
});

test('every rule and jump carries a weft comment so iptables-save shows the owner', () => {
  for (const c of plan.chains) {
    for (const rule of [c.jump, ...c.rules]) {
      const i = rule.indexOf('--comment');
      assert.ok(i > 0 && rule[i + 1]!.startsWith('weft: '), rule.join(' '));
    }
  }
});

test('a port listed twice yields one rule', () => {
  const dup = interceptionPlan({ ...config, inboundPortsToIgnore: [{ from: 4143, to: 4143 }, { from: 4191, to: 4191 }, { from: 4191, to: 4191 }] });
  const skips = dup.chains.find((c) => c.name === INBOUND_CHAIN)!.rules.map(dport).filter(Boolean);
  assert.deepEqual(skips, ['4143', '4191']);
});

test('custom proxy ports and uid flow into the rules', () => {
  const custom = interceptionPlan({ ...config, inboundProxyPort: 15006, outboundProxyPort: 15001, proxyUid: 1337, inboundPortsToIgnore: [], outboundPortsToIgnore: [] });
  const text = custom.chains.map((c) => c.rules.map((r) => r.join(' ')).join('\n')).join('\n');
  assert.match(text, /--uid-owner 1337/);
  assert.match(text, /REDIRECT --to-ports 15006/);
  assert.match(text, /REDIRECT --to-ports 15001/);
  assert.doesNotMatch(text, /4143|4140|2102/);
});

test('skipped subnets become RETURN rules by source (inbound) and destination (outbound), each in its own family\'s table', () => {
  const p = interceptionPlan({
    ...config,
    inboundSubnetsToIgnore: [{ family: 'ipv4', cidr: '10.10.0.0/16' }],
    outboundSubnetsToIgnore: [{ family: 'ipv4', cidr: '192.168.0.0/16' }, { family: 'ipv6', cidr: 'fd00::/8' }, { family: 'ipv4', cidr: '192.168.0.0/16' }],
  });
  const inbound = p.chains.find((c) => c.name === INBOUND_CHAIN)!;
  const outbound = p.chains.find((c) => c.name === OUTBOUND_CHAIN)!;
  assert.deepEqual(inbound.familyRules.ipv4.map((r) => `${r[0]} ${r[1]} ${target(r)}`), ['-s 10.10.0.0/16 RETURN']);
  assert.deepEqual(inbound.familyRules.ipv6, []);
  assert.deepEqual(outbound.familyRules.ipv4.map((r) => `${r[0]} ${r[1]} ${target(r)}`), ['-d 192.168.0.0/16 RETURN'], 'listed twice, one rule');
  assert.deepEqual(outbound.familyRules.ipv6.map((r) => `${r[0]} ${r[1]} ${target(r)}`), ['-d fd00::/8 RETURN']);
  for (const rule of [...outbound.familyRules.ipv4, ...outbound.familyRules.ipv6]) assert.match(rule.join(' '), /--comment weft: skip outbound subnet/);
  assert.deepEqual(chain(OUTBOUND_CHAIN).familyRules, { ipv4: [], ipv6: [] }, 'none without the flags');
});
