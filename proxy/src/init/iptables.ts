/**
 * Applies or removes an InterceptionPlan with the real iptables / ip6tables
 * binaries. Idempotent by construction: chains are created when missing and
 * flushed before their rules are appended; jumps are added only when `-C`
 * says they are absent. Teardown deletes the jumps and the chains weft owns,
 * nothing else.
 */
import { spawn } from 'node:child_process';
import { WeftError } from '@weft/common/errors';
import type { InterceptionPlan, IpFamily, NatChain } from './rules.js';

export type InterceptionFailure = 'iptables-missing' | 'permission-denied' | 'command-failed';

export class InterceptionError extends WeftError {
  readonly reason: InterceptionFailure;

  constructor(reason: InterceptionFailure, message: string, options?: { cause?: unknown }) {
    super(reason === 'command-failed' ? 'INTERNAL' : 'FAILED_PRECONDITION', message, options);
    this.reason = reason;
  }
}

export interface IptablesResult {
  readonly code: number;
  readonly stderr: string;
  readonly stdout: string;
}

/** Runs one iptables invocation; tests swap in a fake or a netns prefix. */
export type IptablesRunner = (family: IpFamily, args: readonly string[]) => Promise<IptablesResult>;

export interface IptablesBinaries {
  readonly ipv4: string;
  readonly ipv6: string;
}

export const DEFAULT_BINARIES: IptablesBinaries = { ipv4: 'iptables', ipv6: 'ip6tables' };

const NO_PERMISSION = /Permission denied|Operation not permitted|you must be root/i;

/**
 * The real runner. `-w` waits for the xtables lock instead of failing when
 * another process (kube-proxy, a CNI plugin) holds it. `prefix` runs the
 * binary through another command, e.g. `ip netns exec <ns>`.
 */
export function spawnRunner(binaries: IptablesBinaries = DEFAULT_BINARIES, prefix: readonly string[] = []): IptablesRunner {
  return (family, args) => {
    const binary = family === 'ipv4' ? binaries.ipv4 : binaries.ipv6;
    const argv = [...prefix, binary, '-w', ...args];
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') {
          reject(
            new InterceptionError(
              'iptables-missing',
              `${argv[0]} not found on PATH: weft-init needs ${binary} (Debian/Ubuntu: apt-get install iptables)` +
                (family === 'ipv6' ? '; pass --no-ipv6 to set up IPv4 only' : ''),
              { cause: err },
            ),
          );
        } else reject(err);
      });
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  };
}

function tool(family: IpFamily): string {
  return family === 'ipv4' ? 'iptables' : 'ip6tables';
}

/** Runs a command that must succeed; turns its failure into a clear InterceptionError. */
async function must(run: IptablesRunner, family: IpFamily, args: readonly string[]): Promise<void> {
  const r = await run(family, args);
  if (r.code === 0) return;
  const detail = r.stderr.trim() || `exit code ${r.code}`;
  if (NO_PERMISSION.test(r.stderr) || (r.code === 4 && /can't initialize/i.test(r.stderr))) {
    throw new InterceptionError(
      'permission-denied',
      `${tool(family)} ${args.join(' ')} was refused: weft-init needs the NET_ADMIN and NET_RAW capabilities ` +
        `(run it as root in the pod's network namespace, e.g. an init container with securityContext.capabilities.add [NET_ADMIN, NET_RAW]): ${detail}`,
    );
  }
  throw new InterceptionError('command-failed', `${tool(family)} ${args.join(' ')} failed: ${detail}`);
}

/** A probe command whose non-zero exit means "no" — unless it is a permission problem. */
async function probe(run: IptablesRunner, family: IpFamily, args: readonly string[]): Promise<boolean> {
  const r = await run(family, args);
  if (r.code === 0) return true;
  if (NO_PERMISSION.test(r.stderr)) await must(run, family, args);
  return false;
}

async function chainExists(run: IptablesRunner, family: IpFamily, table: string, chain: string): Promise<boolean> {
  return probe(run, family, ['-t', table, '-S', chain]);
}

async function applyChain(run: IptablesRunner, family: IpFamily, table: string, chain: NatChain): Promise<void> {
  if (await chainExists(run, family, table, chain.name)) await must(run, family, ['-t', table, '-F', chain.name]);
  else await must(run, family, ['-t', table, '-N', chain.name]);
  for (const rule of [...chain.familyRules[family], ...chain.rules]) await must(run, family, ['-t', table, '-A', chain.name, ...rule]);
  if (!(await probe(run, family, ['-t', table, '-C', chain.hook, ...chain.jump]))) {
    await must(run, family, ['-t', table, '-A', chain.hook, ...chain.jump]);
  }
}

async function removeChain(run: IptablesRunner, family: IpFamily, table: string, chain: NatChain): Promise<void> {
  // A jump may have been added more than once by hand or by an older init; remove every copy.
  for (let i = 0; i < 64 && (await probe(run, family, ['-t', table, '-C', chain.hook, ...chain.jump])); i++) {
    await must(run, family, ['-t', table, '-D', chain.hook, ...chain.jump]);
  }
  if (await chainExists(run, family, table, chain.name)) {
    await must(run, family, ['-t', table, '-F', chain.name]);
    await must(run, family, ['-t', table, '-X', chain.name]);
  }
}

/** Sets up interception for every family of the plan; running it again changes nothing. */
export async function applyInterception(plan: InterceptionPlan, run: IptablesRunner = spawnRunner()): Promise<void> {
  for (const family of plan.families) {
    for (const chain of plan.chains) await applyChain(run, family, plan.table, chain);
  }
}

/** Removes exactly what applyInterception adds; a no-op when nothing is there. */
export async function removeInterception(plan: InterceptionPlan, run: IptablesRunner = spawnRunner()): Promise<void> {
  for (const family of plan.families) {
    for (const chain of plan.chains) await removeChain(run, family, plan.table, chain);
  }
}
