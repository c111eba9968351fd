import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { startMesh, metricValue, CLIENT_ID, SERVER_ID, type Mesh } from './testing/mesh.js';
import { endpoint } from './discovery/discovery.js';

// A made-up cluster IP the test's SO_ORIGINAL_DST stand-in reports for every outbound connection.
const SERVICE_IP = '10.96.0.10';
let mesh: Mesh;
let app: net.Server;
let appPort = 0;
let nextDst = 5000;

before(async () => {
  // Reads until the client half-closes, then answers and closes: only works if the FIN is forwarded while the reply direction stays open.
  app = net.createServer({ allowHalfOpen: true }, (socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => socket.end(`got:${Buffer.concat(chunks).length}:${Buffer.concat(chunks).subarray(0, 5).toString()}`));
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  appPort = (app.address() as AddressInfo).port;
  // The server pod declares its application port opaque too (the injector passes config.weft.io/opaque-ports to
  // both sides): its inbound proxy then forwards the weft.tcp stream without looking for HTTP in it.
  mesh = await startMesh({ clientOriginalDst: () => ({ ip: SERVICE_IP, port: nextDst }), clientConfig: { opaquePorts: [5001] }, serverConfig: { opaquePorts: [appPort] } });
  mesh.discovery.set(`${SERVICE_IP}:5000`, [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);
  mesh.discovery.set(`${SERVICE_IP}:5001`, [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);
});

after(async () => {
  await mesh?.close();
  app?.close();
});

function exchange(port: number, payload: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let reply = '';
    socket.on('data', (d: Buffer) => (reply += d.toString()));
    socket.on('end', () => {
      socket.end();
      resolve(reply);
    });
    socket.on('error', reject);
    socket.write(payload);
    socket.end();
  });
}

test('opaque TCP crosses the mesh over mTLS with half-close: the reply arrives after the client FIN', { timeout: 60_000 }, async () => {
  nextDst = 5000;
  const reply = await exchange(mesh.client.ports.outbound, Buffer.from('hello opaque world'));
  assert.equal(reply, 'got:18:hello');
});

test('large opaque transfers keep every byte (backpressure)', { timeout: 60_000 }, async () => {
  nextDst = 5000;
  const big = Buffer.alloc(8 * 1024 * 1024, 7);
  big.write('bytes', 0);
  const reply = await exchange(mesh.client.ports.outbound, big);
  assert.equal(reply, `got:${big.length}:bytes`);
});

test('ports configured as opaque skip detection (a client that waits for the server still works)', { timeout: 60_000 }, async () => {
  nextDst = 5001;
  // An HTTP-looking payload on an opaque port is not parsed as HTTP.
  const reply = await exchange(mesh.client.ports.outbound, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  assert.equal(reply, 'got:18:GET /');
});

test('opaque TCP metrics count the connections with the peer identity', { timeout: 60_000 }, async () => {
  nextDst = 5000;
  await exchange(mesh.client.ports.outbound, Buffer.from('count me'));
  const out = await (await fetch(`http://127.0.0.1:${mesh.client.ports.admin}/metrics`)).text();
  assert.ok(metricValue(out, 'tcp_open_total', { direction: 'outbound', peer: 'dst', tls: 'true', server_id: SERVER_ID }) >= 1);
  assert.ok(metricValue(out, 'tcp_write_bytes_total', { direction: 'outbound', peer: 'dst', server_id: SERVER_ID }) > 0);
  const inbound = await (await fetch(`http://127.0.0.1:${mesh.server.ports.admin}/metrics`)).text();
  assert.ok(metricValue(inbound, 'tcp_close_total', { direction: 'inbound', tls: 'true', client_id: CLIENT_ID }) >= 1);
});

test('outbound opaque TCP without an original destination is refused, and the proxy keeps serving', { timeout: 60_000 }, async () => {
  const m = await startMesh({ clientOriginalDst: () => undefined });
  try {
    const socket = net.connect(m.client.ports.outbound, '127.0.0.1');
    // Bytes no request line begins with (control bytes and a word alone might, and would be waited on).
    socket.write(Buffer.from([0x00, 0x01, 0xff, 0x62, 0x69, 0x6e]));
    socket.on('error', () => undefined);
    await once(socket, 'close');
    const live = await fetch(`http://127.0.0.1:${m.client.ports.admin}/live`);
    assert.equal(live.status, 200);
  } finally {
    await m.close();
  }
});

test('a destination discovery did not know is asked again: once it is known, new connections get mTLS', { timeout: 60_000 }, async () => {
  // Unknown to discovery: the first connection goes straight to the original destination, in plaintext.
  nextDst = 5002;
  const direct = { ip: '127.0.0.1', port: appPort };
  const local = await startMesh({ clientOriginalDst: () => direct });
  try {
    const inboundMtls = async (): Promise<number> =>
      metricValue(await (await fetch(`http://127.0.0.1:${local.server.ports.admin}/metrics`)).text(), 'tcp_open_total', { direction: 'inbound', tls: 'true', client_id: CLIENT_ID });
    assert.equal(await exchange(local.client.ports.outbound, Buffer.from('first')), 'got:5:first');
    assert.equal(await inboundMtls(), 0);
    // The pod becomes known (a late EndpointSlice): the client proxy must find out without a restart.
    local.discovery.set(`127.0.0.1:${appPort}`, [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: local.server.ports.inbound })]);
    let meshed = 0;
    for (let i = 0; i < 300 && meshed === 0; i++) {
      assert.equal(await exchange(local.client.ports.outbound, Buffer.from('again')), 'got:5:again');
      meshed = await inboundMtls();
      if (meshed === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(meshed >= 1, 'connections stayed plaintext after discovery learnt the destination');
  } finally {
    await local.close();
  }
});
