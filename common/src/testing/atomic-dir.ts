/**
 * A directory laid out and updated exactly as the kubelet's AtomicWriter
 * does for Secret and ConfigMap volumes, for tests of components that read
 * mounted files:
 *
 *   ..2026_12_02_21_30_00.1234567/tls.crt    the payload, one directory per version
 *   ..data -> ..2026_12_02_21_30_00.1234567   swapped by rename(2) of ..data_tmp
 *   tls.crt -> ..data/tls.crt                 the names the container reads
 *
 * For tests only.
 */
import { mkdirSync, mkdtempSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class AtomicDir {
  readonly dir: string;
  private n = 0;

  constructor(dir?: string) {
    this.dir = dir ?? mkdtempSync(join(tmpdir(), 'weft-volume-'));
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** The timestamped directory `..data` points at now. */
  current(): string | undefined {
    try {
      return readlinkSync(join(this.dir, '..data'));
    } catch {
      return undefined;
    }
  }

  /** Publishes a new version of the payload the way the kubelet does. */
  write(files: Readonly<Record<string, string>>): void {
    const old = this.current();
    const now = new Date();
    const p = (v: number, w = 2) => String(v).padStart(w, '0');
    // The kubelet's name: `..` + time formatted 2006_01_02_15_04_05. + a random suffix (unique here by counter).
    const ts = `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.${p(process.pid % 100000, 5)}${p(++this.n, 4)}`;
    mkdirSync(join(this.dir, ts), { mode: 0o755 });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(this.dir, ts, name), text, { mode: 0o644 });
    symlinkSync(ts, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    for (const name of Object.keys(files)) {
      const visible = join(this.dir, name);
      try {
        lstatSync(visible);
      } catch {
        symlinkSync(join('..data', name), visible);
      }
    }
    if (old) rmSync(join(this.dir, old), { recursive: true, force: true });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
