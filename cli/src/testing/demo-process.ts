/**
 * Test support for `weft demo`: runs the real CLI binary as a child process
 * and waits until it says it is running. Used by cli/src/demo/*.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const WEFT_BIN = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

/**
 * A port for the demo to listen on, free now and outside the kernel's ephemeral range: the demo takes it only after
 * starting its control plane, proxies and apps, and a port the kernel hands out to outgoing connections meanwhile
 * (from that range, as `listen(0)` does) would then be in use.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * (low - 20_000));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port between 20000 and ${low}`);
}

function ephemeralLow(): number {
  let low = 49_152; // IANA's ephemeral range, where Linux's setting cannot be read
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // Not Linux.
  }
  if (!(low > 21_000)) throw new Error(`the ephemeral port range starts at ${low}: the demo tests need ports below it, from 20000`);
  return low;
}

/** Whether a listener can have `port` on loopback now (tried, then let go). */
export function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

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
