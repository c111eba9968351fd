#!/usr/bin/env node
// One side of the least a multiplexed mesh hop does, for bench/proxy/ceiling.mjs: what tls-pipe.mjs does, except that
// every plaintext connection shares one mTLS connection between the two sides. Bytes travel in frames
// [u32 stream id][u32 length][bytes] (a frame of length 0 ends a stream), and the frames of one event-loop turn go out
// together: one TLS record and one write for everything that arrived in that turn. `client` accepts plaintext and
// gives each connection a stream on its TLS connection to the next port; `server` accepts mTLS (the client's
// certificate required and verified) and opens a plaintext connection to the next port for each stream. No HTTP, no
// flow control, no errors reported across: only for the bench's load. Nagle off everywhere. Prints `READY <port>`.
//   node tls-mux.mjs client|server <next port> <cert> <key> <trust anchors>
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { setImmediate } from 'node:timers';

const [side, next, cert, key, ca] = process.argv.slice(2);
const credentials = { cert: readFileSync(cert), key: readFileSync(key), ca: readFileSync(ca), minVersion: 'TLSv1.3' };
const END = Buffer.alloc(0);

/**
 * Frames on `secure`: calls `onFrame(id, bytes)` for each frame received (`bytes` valid during the call only) and
 * returns `send(id, bytes)`, which queues a frame for the end of this event-loop turn.
 */
function frames(secure, onFrame) {
  let queued = [];
  let queuedBytes = 0;
  const flush = () => {
    const out = queued.length === 1 ? queued[0] : Buffer.concat(queued, queuedBytes);
    queued = [];
    queuedBytes = 0;
    secure.write(out);
  };
  let pending = null;
  secure.on('data', (chunk) => {
    const buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
    let at = 0;
    while (buf.length - at >= 8) {
      const id = buf.readUInt32BE(at);
      const length = buf.readUInt32BE(at + 4);
      if (buf.length - at - 8 < length) break;
      onFrame(id, buf.subarray(at + 8, at + 8 + length));
      at += 8 + length;
    }
    pending = at < buf.length ? Buffer.from(buf.subarray(at)) : null;
  });
  return (id, bytes) => {
    const header = Buffer.allocUnsafe(8);
    header.writeUInt32BE(id, 0);
    header.writeUInt32BE(bytes.length, 4);
    if (queued.length === 0) setImmediate(flush);
    queued.push(header, bytes);
    queuedBytes += 8 + bytes.length;
  };
}

/** Joins the plaintext `socket` to stream `id`: its bytes become frames, its end an empty frame. */
function attach(socket, id, send, streams) {
  streams.set(id, socket);
  socket.on('data', (chunk) => send(id, chunk));
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    if (streams.delete(id)) send(id, END);
  });
}

/** Writes a received frame to its stream's socket; an empty frame ends the stream. */
function deliver(streams, id, bytes) {
  const socket = streams.get(id);
  if (socket === undefined) return false;
  if (bytes.length > 0) {
    socket.write(Buffer.from(bytes));
    return true;
  }
  streams.delete(id);
  socket.destroy();
  return true;
}

let server;
if (side === 'client') {
  const secure = tls.connect({ host: '127.0.0.1', port: Number(next), ...credentials, checkServerIdentity: () => undefined });
  secure.setNoDelay(true);
  secure.on('error', (err) => {
    process.stderr.write(`mTLS connection failed: ${err.message}\n`);
    process.exit(1);
  });
  const streams = new Map();
  const send = frames(secure, (id, bytes) => deliver(streams, id, bytes));
  let nextId = 1;
  server = net.createServer({ noDelay: true }, (plain) => attach(plain, nextId++, send, streams));
} else {
  server = tls.createServer({ ...credentials, requestCert: true, rejectUnauthorized: true }, (secure) => {
    secure.setNoDelay(true);
    secure.on('error', () => secure.destroy());
    const streams = new Map();
    const send = frames(secure, (id, bytes) => {
      if (deliver(streams, id, bytes) || bytes.length === 0) return;
      const upstream = net.connect({ host: '127.0.0.1', port: Number(next), noDelay: true });
      attach(upstream, id, send, streams);
      upstream.write(Buffer.from(bytes));
    });
  });
}
server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
