/**
 * Follows mounted files. The kubelet updates a Secret or ConfigMap volume
 * with its AtomicWriter: it writes the new files into a fresh timestamped
 * directory `..<timestamp>`, points a `..data_tmp` symlink at it and renames
 * that over `..data`; the visible names (`tls.crt -> ..data/tls.crt`) never
 * change. A watch on a *file* follows the old inode and goes deaf after the
 * first swap, so this watches the *directory* (the rename of `..data` is an
 * event there) and re-reads the paths; a slow poll of the contents catches
 * what inotify misses (some overlay filesystems, a parent directory swapped).
 * Used by every weft component that reads a mounted certificate or bundle.
 */
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

export interface FileWatch {
  close(): void;
}

/**
 * Calls `onChange(contents)` whenever the combined contents of `paths` change
 * (not for the contents read at start). A path that cannot be read (mid-swap,
 * briefly missing) is retried at the next event or poll; the callback only
 * ever sees a complete set.
 */
export function watchFiles(paths: readonly string[], pollMs: number, onChange: (contents: string[]) => void): FileWatch {
  const read = (): string[] | undefined => {
    try {
      return paths.map((p) => readFileSync(p, 'utf8'));
    } catch {
      return undefined;
    }
  };
  let last = JSON.stringify(read() ?? null);
  let pending: NodeJS.Timeout | undefined;
  let closed = false;
  const check = (): void => {
    if (closed) return;
    const now = read();
    if (!now) return;
    const key = JSON.stringify(now);
    if (key === last) return;
    last = key;
    onChange(now);
  };
  // Debounce: a swap (or a cert and key written one after the other) fires several events.
  const soon = (): void => {
    clearTimeout(pending);
    pending = setTimeout(check, 50);
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(paths.map((p) => dirname(p)))) {
    try {
      const w = watch(dir, soon);
      w.on('error', () => undefined);
      watchers.push(w);
    } catch {
      // no inotify here: polling still works
    }
  }
  const poll = setInterval(check, pollMs);
  poll.unref();
  return {
    close() {
      closed = true;
      clearInterval(poll);
      clearTimeout(pending);
      for (const w of watchers) w.close();
    },
  };
}
