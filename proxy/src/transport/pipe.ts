/**
 * Bidirectional byte copying for opaque TCP with backpressure (stream.pipe
 * pauses the reader when the writer is full) and half-close (one side's FIN
 * is forwarded as `end()` while the other direction keeps flowing).
 */
import type { Duplex } from 'node:stream';

export interface ByteCounts {
  /** Bytes read from `client` (written to `server`). */
  fromClient: number;
  /** Bytes read from `server` (written to `client`). */
  fromServer: number;
}

/** Copies both ways; resolves with byte counts once both sockets are closed. */
export function pipeBoth(client: Duplex, server: Duplex): Promise<ByteCounts> {
  const counts: ByteCounts = { fromClient: 0, fromServer: 0 };
  return new Promise((resolve) => {
    let open = 2;
    const closed = (): void => {
      if (--open === 0) resolve(counts);
    };
    client.on('data', (c: Buffer) => {
      counts.fromClient += c.length;
    });
    server.on('data', (c: Buffer) => {
      counts.fromServer += c.length;
    });
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
