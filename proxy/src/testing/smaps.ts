/**
 * A process's mappings of its own executable, from /proc/<pid>/smaps: what
 * releasing the start-up pages (native/startup-pages.ts) changes. For tests,
 * the e2e scenarios (which read a proxy's from the host) and benches.
 */
import { readFileSync, readlinkSync } from 'node:fs';

export interface ExecutableMapping {
  /** `start-end`, hexadecimal. */
  readonly range: string;
  /** e.g. `r-xp`. */
  readonly perms: string;
  readonly rssKb: number;
  /** Copy-on-write pages: relocated or written, no longer the file's. */
  readonly anonymousKb: number;
}

/** The mappings of `pid`'s executable. Throws when there is none (a path that does not match would read as nothing resident). */
export function executableMappings(pid: number | 'self' = 'self'): ExecutableMapping[] {
  // /proc/<pid>/exe and the paths in /proc/<pid>/smaps are both rendered from the reader's root: the same string.
  const exe = readlinkSync(`/proc/${pid}/exe`);
  const out: { range: string; perms: string; rssKb: number; anonymousKb: number }[] = [];
  let current: (typeof out)[number] | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+-[0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      current = head[3] === exe ? { range: head[1]!, perms: head[2]!, rssKb: 0, anonymousKb: 0 } : undefined;
      if (current) out.push(current);
      continue;
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (field && current) current[field[1] === 'Rss' ? 'rssKb' : 'anonymousKb'] = Number(field[2]);
  }
  if (out.length === 0) throw new Error(`no mapping of ${exe} in /proc/${pid}/smaps`);
  return out;
}

/** Read-only and still exactly the file's: the mappings the release unmaps. */
export function isReleasable(m: ExecutableMapping): boolean {
  return !m.perms.includes('w') && m.anonymousKb === 0;
}

/** KiB resident in `pid`'s releasable executable mappings. */
export function releasableResidentKb(pid: number | 'self' = 'self'): number {
  return executableMappings(pid)
    .filter(isReleasable)
    .reduce((sum, m) => sum + m.rssKb, 0);
}
