/**
 * Issuer and trust anchors from files (a mounted Secret outside Kubernetes'
 * API, a VM install, the demo). Files are re-read on an interval rather than
 * with fs.watch: Kubernetes-mounted Secrets change by swapping a symlinked
 * directory, which inotify-style watches miss.
 */
import { readFile } from 'node:fs/promises';
import { IssuerError, type IssuerMaterial } from './issuer.js';
import type { IssuerSource, Source, SourceListener, TrustAnchorSource } from './sources.js';

export const DEFAULT_FILE_POLL_MS = 5_000;

class PolledFilesSource<T> implements Source<T> {
  private timer: NodeJS.Timeout | undefined;
  private last = '';

  constructor(
    private readonly paths: readonly string[],
    private readonly build: (contents: string[]) => T,
    private readonly pollMs: number,
  ) {}

  async start(listener: SourceListener<T>): Promise<T> {
    let contents: string[];
    try {
      contents = await this.read();
    } catch (err) {
      throw new IssuerError((err as Error).message, { cause: err });
    }
    this.last = contents.join('\0');
    this.timer = setInterval(() => void this.poll(listener), this.pollMs);
    this.timer.unref();
    return this.build(contents);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
  }

  private async poll(listener: SourceListener<T>): Promise<void> {
    let contents: string[];
    try {
      contents = await this.read();
    } catch (err) {
      listener.problem(err as Error);
      return;
    }
    const joined = contents.join('\0');
    if (joined === this.last) return;
    this.last = joined;
    listener.change(this.build(contents));
  }

  private async read(): Promise<string[]> {
    // Settled, not Promise.all: with several unreadable files the error names the first in order, not whichever read failed first.
    const reads = await Promise.allSettled(this.paths.map((p) => readFile(p, 'utf8')));
    return reads.map((r, i) => {
      if (r.status === 'fulfilled') return r.value;
      const err = r.reason as NodeJS.ErrnoException;
      throw new Error(`cannot read ${this.paths[i]}: ${err.code ?? err.message}`);
    });
  }
}

export function fileIssuerSource(opts: { certFile: string; keyFile: string; pollMs?: number }): IssuerSource {
  return new PolledFilesSource([opts.certFile, opts.keyFile], ([certPem, keyPem]): IssuerMaterial => ({ certPem: certPem!, keyPem: keyPem! }), opts.pollMs ?? DEFAULT_FILE_POLL_MS);
}

export function fileTrustSource(opts: { file: string; pollMs?: number }): TrustAnchorSource {
  return new PolledFilesSource([opts.file], ([pem]) => pem!, opts.pollMs ?? DEFAULT_FILE_POLL_MS);
}
