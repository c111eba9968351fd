/**
 * The header an outbound proxy writes first on a `weft.tcp` mTLS connection:
 * one version byte (1) and the application port on the peer pod (uint16,
 * big-endian). The peer's inbound reads it, then forwards the rest of the
 * stream to that port. (Between proxies the TCP port is always 4143, so the
 * original port has to travel in-band.)
 */
import type { Duplex } from 'node:stream';

const VERSION = 1;

export function encodeOpaqueHeader(port: number): Buffer {
  const b = Buffer.alloc(3);
  b[0] = VERSION;
  b.writeUInt16BE(port, 1);
  return b;
}

/** Reads the header; resolves the port, or rejects on a bad header or early close. */
export function readOpaqueHeader(socket: Duplex, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (err: Error | undefined, port?: number): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      if (err) reject(err);
      else {
        if (buf.length > 3) socket.unshift(buf.subarray(3));
        resolve(port!);
      }
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length < 3) return;
      const port = buf.readUInt16BE(1);
      if (buf[0] !== VERSION || port === 0) done(new Error(`bad weft.tcp header ${buf.subarray(0, 3).toString('hex')}`));
      else done(undefined, port);
    };
    const onEnd = (): void => done(new Error('connection closed before the weft.tcp header'));
    const timer = setTimeout(() => done(new Error('timed out waiting for the weft.tcp header')), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
  });
}
