#!/usr/bin/env node
// The least an HTTP/1 proxy does, for bench/proxy/ceiling.mjs: one upstream keep-alive connection per client
// connection; each request head is split into lines and written again with Host rewritten and one header added;
// responses are copied back as they come. Only for the bench's load (bodyless GETs on keep-alive connections): no
// bodies, no framing, no errors answered. Prints `READY <port>`.
//   node http1-forward.mjs <upstream port>
import net from 'node:net';

const upstreamPort = Number(process.argv[2]);
const HEAD_END = Buffer.from('\r\n\r\n');

const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
  let pending = null;
  client.on('data', (chunk) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    for (;;) {
      const end = buf.indexOf(HEAD_END);
      if (end < 0) break;
      const lines = buf.toString('latin1', 0, end).split('\r\n');
      let head = `${lines[0]}\r\n`;
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i];
        head += line.slice(0, line.indexOf(':')).toLowerCase() === 'host' ? 'host: backend\r\n' : `${line}\r\n`;
      }
      upstream.write(`${head}x-forwarded: 1\r\n\r\n`, 'latin1');
      buf = buf.subarray(end + 4);
    }
    pending = buf.length > 0 ? buf : null;
  });
  upstream.on('data', (chunk) => client.write(chunk));
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
