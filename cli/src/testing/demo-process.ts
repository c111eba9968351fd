/**
 * Test support for `weft demo`: runs the real CLI binary as a child process
 * and waits until it says it is running. Used by cli/src/demo/*.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const WEFT_BIN = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

export interface DemoProcess {
  readonly child: ChildProcess;
  /** What the demo printed so far on stdout and stderr. */
  out(): string;
  err(): string;
  /** The exit code once the demo closed. */
  readonly exited: Promise<number | null>;
}

/**
 * Starts `weft demo <args>` and resolves once it printed `weft demo is running`; a demo that exits or does not start
 * within `startMs` fails the test with its stderr (and is stopped).
 */
export async function startDemo(args: readonly string[], startMs = 240_000): Promise<DemoProcess> {
  const child = spawn(process.execPath, [WEFT_BIN, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const demo: DemoProcess = { child, out: () => out, err: () => err, exited };
  try {
    const deadline = Date.now() + startMs;
    while (!out.includes('weft demo is running')) {
      assert.ok(child.exitCode === null, `weft demo exited early:\n${err}`);
      assert.ok(Date.now() < deadline, `weft demo did not start:\n${err}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (e) {
    if (child.exitCode === null) child.kill('SIGINT');
    await exited;
    throw e;
  }
  return demo;
}
