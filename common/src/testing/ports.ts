/**
 * Ports for tests, taken from below the kernel's ephemeral range. A port found by listening on port 0 and letting go
 * is back in that range, and the next `listen(0)` or outgoing connection anywhere — the test's own proxies included —
 * may be handed it before the test uses it: a dead endpoint then answers (once, a test's own server proxy, which
 * refused the request as its own port), and a child told to listen on it cannot. Below the range a port is only ever
 * taken by a listener that names it.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** The lowest port tests take. */
const LOWEST = 20_000;

/** Ports this process has handed out, never handed out twice. */
const given = new Set<number>();

/** The first port of the kernel's ephemeral range (the IANA range's where Linux's setting cannot be read). */
export function ephemeralLow(): number {
  let low = 49_152;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // Not Linux.
  }
  if (!(low > LOWEST + 1000)) throw new Error(`the ephemeral port range starts at ${low}: tests need ports below it, from ${LOWEST}`);
  return low;
}

/** Whether a listener can have `port` on `host` now (tried, then let go). */
export function canListen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/**
 * A port on `host` that nothing listens on, below the ephemeral range: connects to it are refused (a dead endpoint or
 * collector), and it stays free for a child that is told to listen on it.
 */
export async function unusedPort(host = '127.0.0.1'): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (low - LOWEST));
    if (given.has(port)) continue;
    given.add(port); // before the check, so that concurrent calls cannot both pick it
    if (await canListen(port, host)) return port;
    given.delete(port);
  }
  throw new Error(`no unused port on ${host} between ${LOWEST} and ${low}`);
}
