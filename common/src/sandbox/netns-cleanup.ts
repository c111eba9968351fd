/**
 * Names and removal of what a PodNetwork creates. Names encode the creating
 * process (`weft<pid base36, 5><n>`) so `sweep()` can tell a live harness's
 * namespaces from a dead one's; removal kills every process still inside a
 * namespace first, so nothing outlives its pod.
 */
import { rmSync } from 'node:fs';
import { runCommand } from './commands.js';

export const NETNS_PREFIX = 'weft';

let labCounter = 0;

/** A fresh harness id: this process's pid (base36, 5 chars) and a counter. */
export function labId(): string {
  const pid = process.pid.toString(36).padStart(5, '0');
  const n = (labCounter++ % 36).toString(36);
  return `${pid}${n}`;
}

async function killNamespaceProcesses(netns: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const r = await runCommand(['ip', 'netns', 'pids', netns]);
    const pids = r.stdout.split(/\s+/).filter(Boolean).map(Number);
    if (r.code !== 0 || pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, round === 0 ? 'SIGTERM' : 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function removeNamespace(netns: string): Promise<void> {
  await killNamespaceProcesses(netns);
  const r = await runCommand(['ip', 'netns', 'del', netns]);
  if (r.code !== 0 && !/No such file|not found/i.test(r.stderr)) throw new Error(r.stderr.trim());
  rmSync(`/etc/netns/${netns}`, { recursive: true, force: true });
}

export async function removeLink(link: string): Promise<void> {
  const r = await runCommand(['ip', 'link', 'del', link]);
  if (r.code !== 0 && !/Cannot find device|does not exist/i.test(r.stderr)) throw new Error(r.stderr.trim());
}

const OWNED = new RegExp(`^${NETNS_PREFIX}([0-9a-z]{5})[0-9a-z]`);

function ownerAlive(name: string): boolean {
  const m = OWNED.exec(name);
  if (!m) return true;
  const pid = parseInt(m[1]!, 36);
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface SweepResult {
  readonly namespaces: string[];
  readonly links: string[];
}

/**
 * Removes leftovers of harnesses whose process is gone (a crashed test, a
 * killed demo): namespaces (with their processes), bridges and veths named
 * `weft<id>…`. With `all: true` it removes live harnesses' too.
 */
export async function sweep(options: { all?: boolean } = {}): Promise<SweepResult> {
  const stale = (name: string): boolean => OWNED.test(name) && (options.all === true || !ownerAlive(name));
  const removed: SweepResult = { namespaces: [], links: [] };
  const ns = await runCommand(['ip', 'netns', 'list']);
  for (const line of ns.stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (stale(name)) {
      await removeNamespace(name);
      removed.namespaces.push(name);
    }
  }
  const links = await runCommand(['ip', '-o', 'link', 'show']);
  for (const m of links.stdout.matchAll(/^\d+: ([^:@\s]+)/gm)) {
    const name = m[1]!;
    if (stale(name)) {
      await removeLink(name);
      removed.links.push(name);
    }
  }
  return removed;
}
