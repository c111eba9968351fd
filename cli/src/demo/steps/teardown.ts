/**
 * What the demo started, undone in reverse order: each step registers how to
 * undo itself as soon as it has something to undo, so a failure half-way
 * leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { waitFor } from '@weft/common/poll';

export class Teardown {
  private readonly steps: { what: string; undo: () => Promise<void> | void }[] = [];

  constructor(private readonly log: Logger) {}

  add(what: string, undo: () => Promise<void> | void): void {
    this.steps.push({ what, undo });
  }

  /** Runs every registered undo, newest first; a failing one is logged and the rest still run. */
  async run(): Promise<void> {
    for (const { what, undo } of this.steps.splice(0).reverse()) {
      try {
        await undo();
      } catch (err) {
        this.log.warn({ step: what, err: (err as Error).message }, 'demo teardown step failed');
      }
    }
  }
}

/** A host process whose output goes to the debug log; stopped by the teardown. */
export function spawnLogged(name: string, argv: readonly string[], env: NodeJS.ProcessEnv, log: Logger, teardown: Teardown): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const forward = (d: Buffer): void => {
    for (const line of d.toString().split('\n')) if (line.trim()) log.debug({ process: name }, line);
  };
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  child.on('error', (err) => log.error({ process: name, err: err.message }, 'could not start'));
  teardown.add(name, () => stop(child));
  return child;
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function waitReady(what: string, url: string): Promise<void> {
  await waitFor(
    `${what} to be ready at ${url}`,
    async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (!res.ok) throw new Error(`${res.status} ${(await res.text()).trim()}`);
      return true;
    },
    { timeoutMs: 90_000 },
  );
}
