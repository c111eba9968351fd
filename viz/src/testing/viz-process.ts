/**
 * Test support: runs viz's real entry point (dist/main.js) as a child process
 * with every listener on a free loopback port and Prometheus unreachable
 * unless the settings say otherwise, and waits for its `viz started` line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

const MAIN = fileURLToPath(new URL('../main.js', import.meta.url));

export interface StartedViz {
  readonly child: ChildProcess;
  /** Base URLs from the `viz started` line. */
  readonly api: string;
  readonly tap: string;
  readonly web: string;
}

/** Starts viz with `settings` (WEFT_VIZ_* variables) over the loopback defaults; killed after the test. */
export async function startViz(t: TestContext, settings: Readonly<Record<string, string>>): Promise<StartedViz> {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      WEFT_VIZ_PROMETHEUS_URL: 'http://127.0.0.1:9',
      WEFT_VIZ_API_LISTEN_ADDR: '127.0.0.1:0',
      WEFT_VIZ_TAP_LISTEN_ADDR: '127.0.0.1:0',
      WEFT_VIZ_WEB_LISTEN_ADDR: '127.0.0.1:0',
      ...settings,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  const addrs = await new Promise<{ api: string; tap: string; web: string }>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('viz started'));
      if (line) resolve(JSON.parse(line) as { api: string; tap: string; web: string });
    });
    child.once('exit', (code) => reject(new Error(`viz exited with ${code}: ${out}`)));
  });
  return { child, ...addrs };
}
