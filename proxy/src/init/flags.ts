/**
 * weft-init's command line, parsed once into an InterceptionConfig. Flag names
 * are the contract in docs/contracts.md; every bad flag is reported at once.
 */
import { parseArgs } from 'node:util';
import { parseCidrList } from '@weft/common/config';
import { ConfigError } from '@weft/common/errors';
import type { InterceptionConfig, IpFamily, PortRange, Subnet } from './rules.js';

export interface InitCommand {
  readonly config: InterceptionConfig;
  readonly teardown: boolean;
  readonly help: boolean;
}

export const USAGE = `usage: weft-init [flags]
Sets up (or with --teardown removes) the nat rules that send a pod's TCP
traffic through the weft proxy, for IPv4 (iptables) and IPv6 (ip6tables).

  --incoming-proxy-port N        proxy inbound listener (default 4143)
  --outgoing-proxy-port N        proxy outbound listener (default 4140)
  --proxy-uid N                  UID the proxy runs as; never redirected (default 2102)
  --inbound-ports-to-ignore L    ports/ranges not redirected inbound, e.g. 4190,4191
  --outbound-ports-to-ignore L   ports/ranges not redirected outbound, e.g. 25,8000-8010
  --inbound-subnets-to-ignore L  CIDRs whose connections to the pod are not redirected, e.g. 10.0.0.0/8
  --outbound-subnets-to-ignore L CIDRs the pod reaches without the proxy, e.g. 192.168.0.0/16,fd00::/8
  --no-ipv6                      only IPv4 (skip ip6tables)
  --teardown                     remove exactly the rules weft-init adds
  --help                         this text`;

const PORT_RANGE = /^(\d+)(?:[-:](\d+))?$/;

/** Parses `25,443,8000-8010` into ranges; throws a message naming the bad part. */
export function parsePortRanges(raw: string): PortRange[] {
  const out: PortRange[] = [];
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = PORT_RANGE.exec(part);
    const from = m ? Number(m[1]) : NaN;
    const to = m?.[2] !== undefined ? Number(m[2]) : from;
    if (!m || from < 1 || to > 65535 || from > to) throw new Error(`"${part}" is not a port or port range (1-65535)`);
    out.push({ from, to });
  }
  return out;
}

/** Parses `10.0.0.0/8,fd00::/8` (a bare address is a /32 or /128); throws a message naming the bad part. */
export const parseSubnets: (raw: string) => Subnet[] = parseCidrList;

function parseInteger(raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim())) throw new Error(`"${raw}" is not an integer`);
  const n = Number(raw);
  if (n < min || n > max) throw new Error(`${n} is outside ${min}-${max}`);
  return n;
}

export function parseInitFlags(argv: readonly string[]): InitCommand {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'incoming-proxy-port': { type: 'string', default: '4143' },
        'outgoing-proxy-port': { type: 'string', default: '4140' },
        'proxy-uid': { type: 'string', default: '2102' },
        'inbound-ports-to-ignore': { type: 'string', default: '' },
        'outbound-ports-to-ignore': { type: 'string', default: '' },
        'inbound-subnets-to-ignore': { type: 'string', default: '' },
        'outbound-subnets-to-ignore': { type: 'string', default: '' },
        'no-ipv6': { type: 'boolean', default: false },
        teardown: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new ConfigError([(err as Error).message]);
  }
  const problems: string[] = [];
  const field = <T>(flag: string, parse: (raw: string) => T, fallback: T): T => {
    try {
      return parse(String(values[flag]));
    } catch (err) {
      problems.push(`--${flag}: ${(err as Error).message}`);
      return fallback;
    }
  };
  const config: InterceptionConfig = {
    inboundProxyPort: field('incoming-proxy-port', (r) => parseInteger(r, 1, 65535), 0),
    outboundProxyPort: field('outgoing-proxy-port', (r) => parseInteger(r, 1, 65535), 0),
    proxyUid: field('proxy-uid', (r) => parseInteger(r, 0, 2 ** 32 - 2), 0),
    inboundPortsToIgnore: field('inbound-ports-to-ignore', parsePortRanges, []),
    outboundPortsToIgnore: field('outbound-ports-to-ignore', parsePortRanges, []),
    inboundSubnetsToIgnore: field('inbound-subnets-to-ignore', parseSubnets, []),
    outboundSubnetsToIgnore: field('outbound-subnets-to-ignore', parseSubnets, []),
    families: (values['no-ipv6'] ? ['ipv4'] : ['ipv4', 'ipv6']) satisfies IpFamily[],
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return { config, teardown: values.teardown === true, help: values.help === true };
}
