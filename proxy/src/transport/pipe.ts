/**
 * Bidirectional byte copying for opaque TCP with backpressure (stream.pipe
 * pauses the reader when the writer is full) and half-close (one side's FIN
 * is forwarded as `end()` while the other direction keeps flowing). Bytes are
 * counted by the sockets themselves (`bytesRead`/`bytesWritten`, read once at
 * close by the TCP metrics), so the byte path has no listener of its own.
 */
import type { Duplex } from 'node:stream';

/**
 * Copies both ways; resolves once both sockets are closed. `head`: bytes read from the client already (its stream
 * ended before they could be put back), written to the server first; a client that has ended is piped as ended.
 */
export function pipeBoth(client: Duplex, server: Duplex, head?: Buffer): Promise<void> {
  return new Promise((resolve) => {
    let open = 2;
    const closed = (): void => {
      if (--open === 0) resolve();
    };
    if (head !== undefined) server.write(head);
    client.pipe(server);
    server.pipe(client);
    // An error (reset) on one side tears down the other: there is no way to forward an RST half.
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
    client.once('close', () => {
      if (!server.writableEnded) server.end();
      closed();
    });
    server.once('close', () => {
      if (!client.writableEnded) client.end();
      closed();
    });
  });
}
