#!/usr/bin/env node
// The gRPC backend of `npm run bench:proxy`: an h2c server that answers every unary call with one length-prefixed
// message and `grpc-status: 0` in trailers (the shape of any gRPC response), without a gRPC library in the way.
// Prints `READY <port>`.
import http2 from 'node:http2';

// gRPC message framing: compressed flag (0), 4-byte big-endian length, the message (a protobuf `string` field 1 = "ok").
const REPLY = Buffer.from([0, 0, 0, 0, 4, 0x0a, 0x02, 0x6f, 0x6b]);

const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on('stream', (stream) => {
  stream.on('error', () => undefined);
  stream.resume();
  stream.once('end', () => {
    if (stream.closed) return;
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(REPLY);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
