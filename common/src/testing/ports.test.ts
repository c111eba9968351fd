// Ports from below the ephemeral range: refused while unused, and never handed out twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { canListen, ephemeralLow, unusedPort } from './ports.js';

test('an unused port lies below the ephemeral range, refuses connects, can be listened on, and is given once', async (t) => {
  if (process.platform !== 'linux') return t.skip('Linux only');
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  assert.equal(ephemeralLow(), low);
  const ports = await Promise.all(Array.from({ length: 20 }, () => unusedPort()));
  assert.equal(new Set(ports).size, ports.length, `${ports.join(' ')} has a port twice`);
  for (const port of ports) assert.ok(port >= 20_000 && port < low, `${port} is in [20000, ${low})`);
  const socket = net.connect(ports[0]!, '127.0.0.1');
  const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNREFUSED');
  assert.ok(await canListen(ports[1]!));
});

test('a port something listens on is not free to listen on', async () => {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  try {
    assert.equal(await canListen((s.address() as net.AddressInfo).port), false);
  } finally {
    s.close();
  }
});
