/**
 * setUserTimeout and the addon's setTcpUserTimeout: what they accept and how they refuse. What the timeout does to a
 * connection whose peer vanished is tested in ../peer-liveness.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, closeSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { loadNativeAddon, nativeAddonProblem } from './addon.js';
import { setUserTimeout, tcpTimers } from './tcp-user-timeout.js';

const skip = process.platform !== 'linux' ? 'TCP_USER_TIMEOUT is Linux only' : nativeAddonProblem()?.message;

test('setUserTimeout sets it on a connected socket (read back from the kernel) and reports a closed one', async (t) => {
  if (skip) return t.skip(skip);
  const server = net.createServer((s) => s.resume()).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  try {
    assert.equal(tcpTimers(socket)?.userTimeoutMs, 0, 'none until set: the kernel\'s retransmissions decide');
    assert.equal(setUserTimeout(socket, 5_000), true);
    assert.equal(tcpTimers(socket)?.userTimeoutMs, 5_000);
    socket.setKeepAlive(true, 7_000);
    assert.deepEqual({ ...tcpTimers(socket) }, { userTimeoutMs: 5_000, keepAlive: 1, keepIdleS: 7, keepIntvlS: 1, keepCnt: 10 }, 'Node sets the probes a second apart, ten of them');
    socket.destroy();
    assert.equal(setUserTimeout(socket, 5_000), false, 'a destroyed socket has no fd to set it on');
    assert.equal(setUserTimeout(new net.Socket()), false, 'nor has one never connected');
  } finally {
    socket.destroy();
    server.close();
  }
});

test('the addon names what was wrong: errno codes for the kernel, EINVAL for the arguments', (t) => {
  if (skip) return t.skip(skip);
  const { setTcpUserTimeout } = loadNativeAddon();
  const call = (...args: unknown[]) => () => (setTcpUserTimeout as (...a: unknown[]) => void)(...args);
  assert.throws(call('3', 1_000), { name: 'TypeError', code: 'EINVAL', message: 'setTcpUserTimeout(fd, ms) takes two integers' });
  assert.throws(call(3), { name: 'TypeError', code: 'EINVAL' });
  assert.throws(call(-1, 1_000), { code: 'EBADF', errno: 9 });
  const file = openSync(new URL(import.meta.url), 'r');
  try {
    assert.throws(call(file, 1_000), { code: 'ENOTSOCK', message: /^setsockopt\(TCP_USER_TIMEOUT\): / });
    assert.throws(call(file, -1), { code: 'EINVAL', message: /must not be negative/ });
    assert.throws(() => loadNativeAddon().tcpTimers(file), { code: 'ENOTSOCK', message: /^getsockopt\(TCP_USER_TIMEOUT\): / });
  } finally {
    closeSync(file);
  }
});
