/**
 * Notices when mounted files change. Kubernetes updates Secret and ConfigMap
 * volumes by swapping a `..data` symlink in the directory (cert-manager
 * rotating the webhook certificate, trust-manager rotating anchors), which
 * `fs.watch` on the directory reports; a slow poll of the contents catches
 * what inotify misses (e.g. some overlay filesystems).
 */
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

export interface FileWatch {
  close(): void;
}

/** Calls `onChange(contents)` whenever the combined contents of `paths` change. */
export function watchFiles(paths: readonly string[], pollMs: number, onChange: (contents: string[]) => void): FileWatch {
  const read = (): string[] | undefined => {
    try {
      return paths.map((p) => readFileSync(p, 'utf8'));
    } catch {
      return undefined; // mid-swap or briefly missing: the next event or poll retries
    }
  };
  let last = JSON.stringify(read() ?? null);
  let pending: NodeJS.Timeout | undefined;
  const check = (): void => {
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
      clearInterval(poll);
      clearTimeout(pending);
      for (const w of watchers) w.close();
    },
  };
}
