#!/usr/bin/env node
// The least an HTTP/2 proxy does, for bench/proxy/ceiling.mjs: one upstream h2c session at a time; each stream's headers
// copied into a request on it (authority rewritten), the request body piped up, the response's headers, body and
// trailers (gRPC status) sent back. No error answers beyond closing the stream; a stream the client closed closes
// its upstream one. Prints `READY <port>`.
//   node h2-forward.mjs <upstream port>
import http2 from 'node:http2';

// The upstream session, opened again after it closed (a backend closes an idle one: HAProxy after its client timeout).
let session;
function upstream() {
  if (session === undefined || session.closed || session.destroyed) {
    session = http2.connect(`http://127.0.0.1:${process.argv[2]}`, { peerMaxConcurrentStreams: 1000 });
    session.on('error', () => undefined);
  }
  return session;
}
const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on('stream', (stream, headers) => {
  const out = {};
  for (const name in headers) if (name !== ':authority') out[name] = headers[name];
  out[':authority'] = 'backend';
  const up = upstream().request(out, { endStream: stream.endAfterHeaders });
  if (!stream.endAfterHeaders) stream.pipe(up);
  let trailers;
  up.on('trailers', (t) => (trailers = t));
  up.on('response', (rsp) => {
    if (stream.destroyed) return;
    const back = {};
    for (const name in rsp) back[name] = rsp[name];
    const grpc = String(rsp['content-type'] ?? '').startsWith('application/grpc');
    stream.respond(back, { waitForTrailers: grpc });
    if (grpc) stream.once('wantTrailers', () => stream.sendTrailers(trailers ?? {}));
    up.pipe(stream);
  });
  up.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
  stream.on('error', () => undefined);
  // The client went away (h2load ends its run with streams in flight): the upstream stream goes too.
  stream.on('close', () => {
    if (!up.closed) up.close(http2.constants.NGHTTP2_CANCEL);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
