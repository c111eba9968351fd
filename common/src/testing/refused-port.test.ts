// The refused port stays refused while the test runs: it lies below the range
// the kernel hands to listen(0) and connect(), so the test's own listeners
// cannot be given it (a port freed from listen(0) was: a test's own proxy was
// handed it once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { refusedPort } from './refused-port.js';

test('a refused port refuses connects and lies below the ephemeral range', async (t) => {
  if (process.platform !== 'linux') return t.skip('Linux only');
  const port = await refusedPort();
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  assert.ok(port < low!, `${port} is below ${low}`);
  assert.ok(port > 1024);
  const socket = net.connect(port, '127.0.0.1');
  const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNREFUSED');
});
