/**
 * A port whose TCP connects get no answer, as the address of a pod that just
 * went away: a listener with a backlog of 1 in a child process stopped before
 * it accepts anything, its accept queue (backlog + 1 connections on Linux)
 * filled here; the kernel drops every later SYN, so a connect stays pending.
 * Loopback only.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';

export interface SilentPort {
  readonly host: string;
  readonly port: number;
  close(): void;
}

export async function silentPort(host = '127.0.0.3'): Promise<SilentPort> {
  const code = `require('node:net').createServer().listen({ host: '${host}', port: 0, backlog: 1 }, function () { process.stdout.write(this.address().port + '\\n'); });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const fillers: net.Socket[] = [];
  const close = (): void => {
    for (const s of fillers) s.destroy();
    child.kill('SIGKILL');
  };
  try {
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    child.kill('SIGSTOP');
    const port = Number(line.toString().trim());
    for (let i = 0; i < 2; i++) {
      const filler = net.connect(port, host);
      // Nothing is ever read from a filler; a reset of one (its stopped listener's connection dropped) must not
      // surface as an uncaught error in the test that holds the port.
      filler.on('error', () => undefined);
      fillers.push(filler);
      await once(filler, 'connect');
    }
    return { host, port, close };
  } catch (err) {
    close();
    throw err;
  }
}
