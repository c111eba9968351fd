#!/usr/bin/env node
// One side of the least a mesh hop does, for bench/proxy/ceiling.mjs: bytes piped between a plaintext and an mTLS
// connection, no HTTP. `client` accepts plaintext and pipes each connection into a TLS 1.3 connection to the next
// port with its certificate; `server` accepts mTLS (the client's certificate required and verified) and pipes each
// connection to the next port in plaintext. Nagle off everywhere, as weft's proxies. Prints `READY <port>`.
//   node tls-pipe.mjs client|server <next port> <cert> <key> <trust anchors>
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

const [side, next, cert, key, ca] = process.argv.slice(2);
const credentials = { cert: readFileSync(cert), key: readFileSync(key), ca: readFileSync(ca), minVersion: 'TLSv1.3' };

function join(a, b) {
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
}

let server;
if (side === 'client') {
  const secureContext = tls.createSecureContext(credentials);
  server = net.createServer({ noDelay: true }, (plain) => {
    const secure = tls.connect({ host: '127.0.0.1', port: Number(next), secureContext, checkServerIdentity: () => undefined });
    secure.setNoDelay(true);
    join(plain, secure);
  });
} else {
  server = tls.createServer({ ...credentials, requestCert: true, rejectUnauthorized: true }, (secure) => {
    secure.setNoDelay(true);
    join(secure, net.connect({ host: '127.0.0.1', port: Number(next), noDelay: true }));
  });
}
server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
