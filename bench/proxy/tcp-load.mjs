#!/usr/bin/env node
// Opaque TCP throughput for `npm run bench:proxy`:
//   node tcp-load.mjs sink            listens; counts what each connection sends, answers the count when it ends
//   node tcp-load.mjs send <port> <s> one connection writes 64 KiB buffers for <s> seconds (backpressure kept), ends,
//                                     and prints the sink's count as JSON { bytes, seconds, mib_per_s }
// The count comes back from the sink, so bytes lost on the way would show.
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const [mode, portArg, secondsArg] = process.argv.slice(2);
if (mode === 'sink') {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    let bytes = 0;
    socket.on('data', (c) => (bytes += c.length));
    socket.on('end', () => socket.end(`${bytes}\n`));
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
} else if (mode === 'send') {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const seconds = Number(secondsArg);
  const socket = net.connect({ host: '127.0.0.1', port: Number(portArg), allowHalfOpen: true, noDelay: true });
  const started = performance.now();
  let answer = '';
  socket.setEncoding('utf8');
  socket.on('data', (d) => (answer += d));
  socket.on('end', () => {
    const elapsed = (performance.now() - started) / 1000;
    const bytes = Number(answer.trim());
    process.stdout.write(`${JSON.stringify({ bytes, seconds: elapsed, mib_per_s: bytes / 1048576 / elapsed })}\n`);
    process.exit(0);
  });
  socket.on('error', (err) => {
    process.stderr.write(`tcp-load: ${err.message}\n`);
    process.exit(1);
  });
  const write = () => {
    while (performance.now() - started < seconds * 1000) if (!socket.write(chunk)) return void socket.once('drain', write);
    socket.end();
  };
  socket.once('connect', write);
} else {
  process.stderr.write('usage: tcp-load.mjs sink | send <port> <seconds>\n');
  process.exit(2);
}
