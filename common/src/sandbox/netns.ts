/**
 * A "pod network" made of Linux network namespaces, for the local demo
 * (`npm start`) and for tests that need pods but no cluster: one bridge in the host namespace, one veth pair per
 * pod (the pod side is `eth0`), addresses on a private /24, per-pod
 * `/etc/netns/<ns>/hosts` for service names, and processes started inside a
 * pod. Everything created is recorded and `teardown()` removes it even after
 * a failure; `sweep()` removes leftovers of harnesses whose process died.
 *
 * Names encode the creating process (`weft<pid base36, 5><n>`), so concurrent
 * harnesses (node --test runs files in parallel) never collide and a sweep can
 * tell a live harness's namespaces from a dead one's. Linux limits interface
 * names to 15 characters, hence the short form.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { runCommand, mustRun, type CommandResult } from './commands.js';
import { NETNS_PREFIX, labId, removeLink, removeNamespace } from './netns-cleanup.js';

export { runCommand, mustRun, type CommandResult } from './commands.js';
export { NETNS_PREFIX, sweep, type SweepResult } from './netns-cleanup.js';

const SUBNET_BASE = '10.231';

/**
 * Why netns tests cannot run here, or undefined when they can: needs root,
 * `ip` (iproute2) and `iptables`. Tests call `t.skip(reason)` with it.
 */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces and iptables need root (CI runs as root)';
  for (const tool of [['ip', '-V'], ['iptables', '--version']]) {
    try {
      const r = await runCommand(tool);
      if (r.code !== 0) return `\`${tool.join(' ')}\` failed: ${r.stderr.trim()}`;
    } catch {
      return `${tool[0]} is not installed (Debian: apt-get install iproute2 iptables)`;
    }
  }
  return undefined;
}

export interface PodOptions {
  /** Extra `/etc/hosts` lines for this pod only (name → IP); `PodNetwork.hosts` applies to all. */
  readonly hosts?: Readonly<Record<string, string>>;
}

export interface PodProcessOptions {
  /** Run as this UID/GID (via setpriv), e.g. the proxy UID 2102 so interception skips it. */
  readonly uid?: number;
  readonly gid?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Where stdout/stderr go; default: kept in `output` for failure messages. */
  readonly stdio?: SpawnOptions['stdio'];
}

/** A process running inside a pod; its output is kept for diagnostics. */
export interface PodProcess {
  readonly child: ChildProcess;
  readonly name: string;
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it exited. */
  stop(graceMs?: number): Promise<void>;
  exited(): Promise<number | null>;
}

export class Pod {
  constructor(
    readonly network: PodNetwork,
    /** Short name given by the user, e.g. `web`. */
    readonly name: string,
    /** The namespace name (`ip netns exec <netns>`). */
    readonly netns: string,
    readonly ip: string,
    readonly hostVeth: string,
    /** `fd00:231:X::<n>` when the network was created with `ipv6: true`. */
    readonly ip6: string | undefined,
  ) {}

  /** argv prefix that runs a command inside this pod. */
  prefix(options: Pick<PodProcessOptions, 'uid' | 'gid'> = {}): string[] {
    const p = ['ip', 'netns', 'exec', this.netns];
    if (options.uid !== undefined) {
      const gid = options.gid ?? options.uid;
      // CAP_DAC_READ_SEARCH (ambient, so it survives exec): the checkout may sit in a directory only
      // root can traverse (CI clones into a private temp dir); iptables' owner match still sees the UID.
      p.push('setpriv', `--reuid=${options.uid}`, `--regid=${gid}`, '--clear-groups', '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search', '--');
    }
    return p;
  }

  /** Runs a command to completion inside the pod. */
  run(argv: readonly string[], options: { input?: string; timeoutMs?: number; uid?: number } = {}): Promise<CommandResult> {
    return runCommand([...this.prefix({ uid: options.uid }), ...argv], options);
  }

  mustRun(argv: readonly string[], options: { input?: string; timeoutMs?: number; uid?: number } = {}): Promise<string> {
    return mustRun([...this.prefix({ uid: options.uid }), ...argv], options);
  }

  /** Starts a long-running process inside the pod; teardown stops it. */
  spawn(name: string, argv: readonly string[], options: PodProcessOptions = {}): PodProcess {
    return this.network.track(name, [...this.prefix(options), ...argv], options);
  }
}

export interface PodNetworkOptions {
  /** Third octet of 10.231.X.0/24; default: a free one. */
  readonly subnet?: number;
  /** Service names resolvable in every pod (name → IP), written to /etc/netns/<ns>/hosts. */
  readonly hosts?: Readonly<Record<string, string>>;
  /** Also give every pod an IPv6 address on fd00:231:X::/64 (unique local, never routed off the bridge). */
  readonly ipv6?: boolean;
}

/**
 * A bridge with pods attached. Create with `PodNetwork.create()`, add pods,
 * always `teardown()` (in a test's `after()` hook).
 */
export class PodNetwork {
  readonly id: string;
  readonly bridge: string;
  readonly subnet: string;
  /** The host's address on the bridge: where pods reach services the host runs (control plane). */
  readonly gateway: string;
  readonly pods: Pod[] = [];
  /** `fd00:231:X::` when created with `ipv6: true`. */
  readonly ipv6Prefix: string | undefined;
  private readonly hosts = new Map<string, string>();
  private readonly podHosts = new Map<Pod, Readonly<Record<string, string>>>();
  private readonly namespaces: string[] = [];
  private readonly links: string[] = [];
  private readonly processes: PodProcess[] = [];
  private readonly cleanups: (() => Promise<void>)[] = [];
  private torndown = false;

  private constructor(id: string, subnet: number, ipv6: boolean) {
    this.id = id;
    this.ipv6Prefix = ipv6 ? `fd00:231:${subnet.toString(16)}::` : undefined;
    this.bridge = `${NETNS_PREFIX}${id}b`;
    this.subnet = `${SUBNET_BASE}.${subnet}`;
    this.gateway = `${this.subnet}.1`;
  }

  static async create(options: PodNetworkOptions = {}): Promise<PodNetwork> {
    const subnet = options.subnet ?? (await freeSubnet());
    const net = new PodNetwork(labId(), subnet, options.ipv6 === true);
    for (const [name, ip] of Object.entries(options.hosts ?? {})) net.hosts.set(name, ip);
    try {
      await mustRun(['ip', 'link', 'add', net.bridge, 'type', 'bridge']);
      net.links.push(net.bridge);
      await mustRun(['ip', 'addr', 'add', `${net.gateway}/24`, 'dev', net.bridge]);
      await mustRun(['ip', 'link', 'set', net.bridge, 'up']);
      await net.allowBridgedTraffic();
    } catch (err) {
      await net.teardown();
      throw err;
    }
    return net;
  }

  /**
   * With br_netfilter loaded, bridged frames traverse the host's FORWARD chain;
   * a DROP policy there (Docker sets one) would cut pods off from each other.
   */
  private async allowBridgedTraffic(): Promise<void> {
    const sysctl = '/proc/sys/net/bridge/bridge-nf-call-iptables';
    if (!existsSync(sysctl) || readFileSync(sysctl, 'utf8').trim() !== '1') return;
    const policy = await runCommand(['iptables', '-w', '-S', 'FORWARD', '1']).catch(() => undefined);
    if (!policy || /-P FORWARD ACCEPT/.test(policy.stdout)) return;
    const rule = ['FORWARD', '-i', this.bridge, '-o', this.bridge, '-m', 'comment', '--comment', `${NETNS_PREFIX}${this.id}`, '-j', 'ACCEPT'];
    await mustRun(['iptables', '-w', '-I', ...rule]);
    this.cleanups.push(async () => {
      await runCommand(['iptables', '-w', '-D', ...rule]);
    });
  }

  /** Adds a pod: namespace, veth to the bridge, address `10.231.X.<n+2>`, lo up (no default route). */
  async addPod(name: string, options: PodOptions = {}): Promise<Pod> {
    if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(name)) throw new Error(`pod name "${name}" must be lowercase letters, digits and dashes`);
    const index = this.pods.length;
    if (index >= 36) throw new Error('a PodNetwork holds at most 36 pods');
    const n = index.toString(36);
    const netns = `${NETNS_PREFIX}${this.id}-${name}`;
    const hostVeth = `${NETNS_PREFIX}${this.id}v${n}`;
    const podVeth = `${NETNS_PREFIX}${this.id}p${n}`;
    const ip = `${this.subnet}.${index + 2}`;
    await mustRun(['ip', 'netns', 'add', netns]);
    this.namespaces.push(netns);
    await mustRun(['ip', 'link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', podVeth]);
    this.links.push(hostVeth);
    await mustRun(['ip', 'link', 'set', podVeth, 'netns', netns]);
    await mustRun(['ip', 'link', 'set', hostVeth, 'master', this.bridge]);
    await mustRun(['ip', 'link', 'set', hostVeth, 'up']);
    const inPod = ['ip', 'netns', 'exec', netns];
    await mustRun([...inPod, 'ip', 'link', 'set', 'lo', 'up']);
    await mustRun([...inPod, 'ip', 'link', 'set', podVeth, 'name', 'eth0']);
    await mustRun([...inPod, 'ip', 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await mustRun([...inPod, 'ip', 'link', 'set', 'eth0', 'up']);
    // No default route on purpose: a pod reaches its subnet and the host's gateway
    // address only, so nothing a test does can leave the machine.
    const ip6 = this.ipv6Prefix ? `${this.ipv6Prefix}${(index + 2).toString(16)}` : undefined;
    // nodad: the address is usable at once instead of after duplicate address detection.
    if (ip6) await mustRun([...inPod, 'ip', '-6', 'addr', 'add', `${ip6}/64`, 'dev', 'eth0', 'nodad']);
    const pod = new Pod(this, name, netns, ip, hostVeth, ip6);
    this.pods.push(pod);
    this.podHosts.set(pod, options.hosts ?? {});
    this.hosts.set(name, ip);
    this.writeHosts();
    return pod;
  }

  /** Makes `name` resolve to `ip` in every pod (service names, the control plane). */
  addHost(name: string, ip: string): void {
    this.hosts.set(name, ip);
    this.writeHosts();
  }

  /** `ip netns exec` bind-mounts /etc/netns/<ns>/hosts over /etc/hosts for processes it starts. */
  private writeHosts(): void {
    for (const pod of this.pods) {
      const dir = `/etc/netns/${pod.netns}`;
      mkdirSync(dir, { recursive: true });
      const lines = ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback', `${pod.ip} ${pod.name}`];
      for (const [name, ip] of this.hosts) if (name !== pod.name) lines.push(`${ip} ${name}`);
      for (const [name, ip] of Object.entries(this.podHosts.get(pod) ?? {})) lines.push(`${ip} ${name}`);
      writeFileSync(`${dir}/hosts`, `${lines.join('\n')}\n`);
    }
  }

  /** Registers an extra cleanup step, run first during teardown. */
  onTeardown(step: () => Promise<void>): void {
    this.cleanups.push(step);
  }

  /** @internal Starts and records a process (see Pod.spawn). */
  track(name: string, argv: readonly string[], options: PodProcessOptions): PodProcess {
    if (this.torndown) throw new Error('PodNetwork already torn down');
    let output = '';
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    const keep = (d: Buffer): void => {
      output += d.toString();
      if (output.length > 64_000) output = output.slice(-32_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', (err) => keep(Buffer.from(`spawn error: ${err.message}\n`)));
    const exit = new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      child.once('close', (code) => resolve(code));
    });
    const proc: PodProcess = {
      child,
      name,
      output: () => output,
      exited: () => exit,
      async stop(graceMs = 5000) {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exit;
          clearTimeout(timer);
        }
      },
    };
    this.processes.push(proc);
    return proc;
  }

  /**
   * Removes everything this network created, in reverse: processes (and any
   * stragglers still inside a namespace), hosts files, namespaces, links.
   * Safe to call twice and after a partial create; collects errors and
   * throws them together at the end.
   */
  async teardown(): Promise<void> {
    this.torndown = true;
    const errors: string[] = [];
    const attempt = async (what: string, step: () => Promise<unknown>): Promise<void> => {
      try {
        await step();
      } catch (err) {
        errors.push(`${what}: ${(err as Error).message}`);
      }
    };
    for (const step of this.cleanups.splice(0).reverse()) await attempt('cleanup', step);
    await Promise.all(this.processes.splice(0).map((p) => attempt(`stop ${p.name}`, () => p.stop(3000))));
    for (const netns of this.namespaces.splice(0).reverse()) await attempt(`netns ${netns}`, () => removeNamespace(netns));
    for (const link of this.links.splice(0).reverse()) await attempt(`link ${link}`, () => removeLink(link));
    if (errors.length) throw new Error(`PodNetwork teardown incomplete:\n  ${errors.join('\n  ')}`);
  }
}

/** The third octets of 10.231.X.0/24 already configured on this host. */
async function usedSubnets(): Promise<Set<number>> {
  const r = await runCommand(['ip', '-o', '-4', 'addr', 'show']);
  const used = new Set<number>();
  for (const m of r.stdout.matchAll(/inet 10\.231\.(\d+)\./g)) used.add(Number(m[1]));
  return used;
}

async function freeSubnet(): Promise<number> {
  const used = await usedSubnets();
  // Start from a pid-derived octet so concurrent harnesses rarely race for the same one.
  const start = process.pid % 250;
  for (let i = 0; i < 250; i++) {
    const candidate = ((start + i) % 250) + 1;
    if (!used.has(candidate)) return candidate;
  }
  throw new Error('no free 10.231.X.0/24 subnet for a PodNetwork');
}
