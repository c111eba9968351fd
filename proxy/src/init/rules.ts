/**
 * The interception rule set, as data. `interceptionPlan(config)` is pure: it
 * turns the init flags into the nat chains weft owns and the jumps that hook
 * them into PREROUTING / OUTPUT. The executor (iptables.ts) applies or removes
 * a plan; keeping the rules as data lets unit tests pin them without root.
 */

/** An inclusive TCP port range; a single port has `from === to`. */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

export type IpFamily = 'ipv4' | 'ipv6';

/** A CIDR block, e.g. `10.0.0.0/8` or `fd00::/8`, with the family whose table it goes to. */
export interface Subnet {
  readonly family: IpFamily;
  /** As iptables takes it: `address/prefix`. */
  readonly cidr: string;
}

export interface InterceptionConfig {
  /** Where redirected inbound connections land (proxy inbound listener, 4143). */
  readonly inboundProxyPort: number;
  /** Where redirected outbound connections land (proxy outbound listener, 4140). */
  readonly outboundProxyPort: number;
  /** The proxy's own UID: its outbound connections must not be redirected back to itself. */
  readonly proxyUid: number;
  readonly inboundPortsToIgnore: readonly PortRange[];
  readonly outboundPortsToIgnore: readonly PortRange[];
  /** Connections from these sources reach the app directly (e.g. a node-local agent probing it). */
  readonly inboundSubnetsToIgnore?: readonly Subnet[];
  /** Connections to these destinations leave without the proxy (e.g. a database network outside the mesh). */
  readonly outboundSubnetsToIgnore?: readonly Subnet[];
  readonly families: readonly IpFamily[];
}

export const INBOUND_CHAIN = 'WEFT_PROXY_INBOUND';
export const OUTBOUND_CHAIN = 'WEFT_PROXY_OUTBOUND';

/** A chain weft creates in the nat table, with its rules and the jump that hooks it in. */
export interface NatChain {
  readonly name: string;
  /** The built-in chain that jumps to this one. */
  readonly hook: 'PREROUTING' | 'OUTPUT';
  /** Rule spec of the jump (without `-A <hook>`). */
  readonly jump: readonly string[];
  /** Rule specs appended to the chain, in order (without `-A <name>`). */
  readonly rules: readonly (readonly string[])[];
  /** Rule specs for one family only (skipped subnets: an IPv4 CIDR means nothing to ip6tables), appended before `rules`. */
  readonly familyRules: Readonly<Record<IpFamily, readonly (readonly string[])[]>>;
}

export interface InterceptionPlan {
  readonly table: 'nat';
  readonly families: readonly IpFamily[];
  readonly chains: readonly NatChain[];
}

/** Every rule carries this comment prefix so `iptables-save` shows who owns it. */
export const COMMENT_PREFIX = 'weft';

function comment(text: string): string[] {
  return ['-m', 'comment', '--comment', `${COMMENT_PREFIX}: ${text}`];
}

/** iptables spells a range `from:to`. */
export function portSpec(range: PortRange): string {
  return range.from === range.to ? String(range.from) : `${range.from}:${range.to}`;
}

function portLabel(range: PortRange): string {
  return range.from === range.to ? String(range.from) : `${range.from}-${range.to}`;
}

export function interceptionPlan(config: InterceptionConfig): InterceptionPlan {
  const inbound: string[][] = [];
  // The inbound listener itself is never redirected: peers' mTLS lands on it directly.
  const inboundSkips = [{ from: config.inboundProxyPort, to: config.inboundProxyPort }, ...config.inboundPortsToIgnore];
  for (const range of dedupe(inboundSkips)) {
    inbound.push(['-p', 'tcp', '--dport', portSpec(range), ...comment(`skip inbound port ${portLabel(range)}`), '-j', 'RETURN']);
  }
  inbound.push(['-p', 'tcp', ...comment('redirect inbound to proxy'), '-j', 'REDIRECT', '--to-ports', String(config.inboundProxyPort)]);

  const outbound: string[][] = [
    // The proxy's own connections (to peers, to the control plane) leave as they are.
    ['-m', 'owner', '--uid-owner', String(config.proxyUid), ...comment('skip proxy uid'), '-j', 'RETURN'],
    // Loopback covers the app talking to its own proxy (admin, explicit ports) and to itself.
    ['-o', 'lo', ...comment('skip loopback'), '-j', 'RETURN'],
  ];
  for (const range of dedupe(config.outboundPortsToIgnore)) {
    outbound.push(['-p', 'tcp', '--dport', portSpec(range), ...comment(`skip outbound port ${portLabel(range)}`), '-j', 'RETURN']);
  }
  outbound.push(['-p', 'tcp', ...comment('redirect outbound to proxy'), '-j', 'REDIRECT', '--to-ports', String(config.outboundProxyPort)]);

  const subnetRules = (subnets: readonly Subnet[] | undefined, flag: '-s' | '-d', what: string) => {
    const of = (family: IpFamily) =>
      [...new Set((subnets ?? []).filter((n) => n.family === family).map((n) => n.cidr))].map((cidr) => [flag, cidr, ...comment(`skip ${what} subnet ${cidr}`), '-j', 'RETURN']);
    return { ipv4: of('ipv4'), ipv6: of('ipv6') };
  };

  return {
    table: 'nat',
    families: config.families,
    chains: [
      { name: INBOUND_CHAIN, hook: 'PREROUTING', jump: ['-p', 'tcp', ...comment('inbound interception'), '-j', INBOUND_CHAIN], rules: inbound, familyRules: subnetRules(config.inboundSubnetsToIgnore, '-s', 'inbound') },
      { name: OUTBOUND_CHAIN, hook: 'OUTPUT', jump: ['-p', 'tcp', ...comment('outbound interception'), '-j', OUTBOUND_CHAIN], rules: outbound, familyRules: subnetRules(config.outboundSubnetsToIgnore, '-d', 'outbound') },
    ],
  };
}

function dedupe(ranges: readonly PortRange[]): PortRange[] {
  const seen = new Set<string>();
  const out: PortRange[] = [];
  for (const r of ranges) {
    const key = portSpec(r);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(r);
    }
  }
  return out;
}
