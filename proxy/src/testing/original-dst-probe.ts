/**
 * A process for netns tests of originalDst(): listens on <listenHost>:<listenPort>,
 * prints `listening`, and for the first accepted connection prints one JSON line
 * `{"originalDst": …, "local": …}` and exits. With <connectHost> <connectPort> it
 * also makes that connection itself (the outbound case: the REDIRECT applies to
 * its own connect()).
 *
 *   node original-dst-probe.js <listenHost> <listenPort> [<connectHost> <connectPort>]
 */
import { createServer, connect } from 'node:net';
import { originalDst } from '../native/original-dst.js';

const [listenHost, listenPort, connectHost, connectPort] = process.argv.slice(2);
const server = createServer((socket) => {
  let result: unknown;
  try {
    result = { originalDst: originalDst(socket) ?? null, local: { address: socket.localAddress, port: socket.localPort } };
  } catch (err) {
    result = { error: (err as Error).message, code: (err as NodeJS.ErrnoException).code };
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  socket.end();
  server.close();
});
server.listen(Number(listenPort), listenHost, () => {
  process.stdout.write('listening\n');
  if (connectHost && connectPort) {
    const client = connect(Number(connectPort), connectHost);
    client.on('error', (err) => {
      process.stderr.write(`connect ${connectHost}:${connectPort}: ${err.message}\n`);
      process.exit(3);
    });
    client.resume();
  }
});
setTimeout(() => {
  process.stderr.write('no connection within 60s\n');
  process.exit(4);
}, 60_000).unref();
