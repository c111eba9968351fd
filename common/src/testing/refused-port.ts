/**
 * A loopback port whose TCP connects are refused, and stay refused while the
 * test runs: a port nothing listens on, taken from below the kernel's
 * ephemeral range. A port freed by closing a listener on port 0 is back in
 * that range, and the next `listen(0)` anywhere — the test's own proxies
 * included — may be handed it; a port below the range is only ever taken by
 * a listener that names it.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** The lowest port the kernel hands to `listen(0)` and `connect()`. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 1024) return low;
  } catch {
    // Not Linux: the IANA dynamic range, which other kernels use.
  }
  return 49152;
}

function refuses(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

export async function refusedPort(host = '127.0.0.1'): Promise<number> {
  const high = ephemeralLow() - 1;
  const low = Math.max(1025, high - 20_000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await refuses(host, port)) return port;
  }
  throw new Error(`no refused port found on ${host} below the ephemeral range (${high + 1})`);
}
