// HTTP/2 abuse against the inbound port with raw frames (what client
// libraries refuse to send): rapid reset (CVE-2023-44487), stream floods
// beyond the concurrency limit, CONTINUATION floods. Each attack must end
// with the abusive connection closed (GOAWAY for rapid reset), the proxy
// alive, and a legitimate request served right after. Rapid reset crashed
// the proxy through a race, so it is repeated many times.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { startMesh, type Mesh } from '../testing/mesh.js';
import { PREFACE, settings, rapidReset, headers, getHeaderBlock, continuationFlood } from '../testing/h2-frames.js';

let mesh: Mesh;
let app: http.Server;

before(async () => {
  app = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  mesh = await startMesh({ appPort: (app.address() as AddressInfo).port });
});

after(async () => {
  await mesh?.close();
  app?.close();
  app?.closeAllConnections();
});

/** Writes `bytes` on a fresh h2c connection; resolves with the frame types received before the proxy closed it. */
function attack(bytes: Buffer[]): Promise<{ goaway: boolean; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: mesh.server.ports.inbound });
    let buf = Buffer.alloc(0);
    let goaway = false;
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        if (buf[3] === 0x7) goaway = true;
        buf = buf.subarray(9 + len);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ goaway, closed: true }));
    socket.write(Buffer.concat([PREFACE, settings()]));
    for (const b of bytes) socket.write(b);
    // A connection the proxy keeps open after the attack is ended by us, and reported as not closed by the proxy.
    setTimeout(() => {
      if (!socket.destroyed) {
        socket.destroy();
        resolve({ goaway, closed: false });
      }
    }, 15_000).unref();
  });
}

function legit(): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: mesh.server.ports.inbound, path: '/legit', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      })
      .on('error', reject);
  });
}

test('rapid reset ends the abusive connection with GOAWAY, repeatedly, while legitimate requests keep being served', { timeout: 300_000 }, async () => {
  const rssBefore = process.memoryUsage().rss;
  for (let round = 0; round < 25; round++) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < 20; i++) chunks.push(rapidReset(1000, 'web.test.svc', 1 + i * 2000));
    const r = await attack(chunks);
    assert.ok(r.closed, `round ${round}: the proxy left the abusive connection open`);
    assert.ok(r.goaway, `round ${round}: no GOAWAY`);
    assert.equal(await legit(), 200, `round ${round}`);
  }
  const grownMiB = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
  assert.ok(grownMiB < 512, `memory grew by ${grownMiB.toFixed(0)} MiB over 25 rounds`);
});

test('more concurrent streams than allowed are refused, and one connection never becomes thousands of app connections', { timeout: 120_000 }, async () => {
  const appSockets = new Set<net.Socket>();
  let peak = 0;
  const onConn = (s: net.Socket): void => {
    appSockets.add(s);
    peak = Math.max(peak, appSockets.size);
    s.once('close', () => appSockets.delete(s));
  };
  app.on('connection', onConn);
  try {
    // 2,000 request streams without END_STREAM (bodies never sent): each would hold an app request open.
    const block = getHeaderBlock('web.test.svc');
    const streams: Buffer[] = [];
    for (let i = 0, id = 1; i < 2000; i++, id += 2) streams.push(headers(id, block, false));
    await attack([Buffer.concat(streams)]);
    assert.ok(peak <= 256, `one h2 connection opened ${peak} connections to the app`);
    assert.equal(await legit(), 200);
  } finally {
    app.off('connection', onConn);
  }
});

test('a CONTINUATION flood (an endless header block) closes the connection and the proxy keeps serving', { timeout: 120_000 }, async () => {
  const r = await attack([continuationFlood(1, 20_000, 'web.test.svc')]);
  assert.ok(r.closed, 'the proxy left a connection with an endless header block open');
  assert.equal(await legit(), 200);
});
