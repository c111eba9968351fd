/**
 * A seeded mutation fuzzer for parser tests: deterministic (mulberry32), so
 * a failing input is reproduced from the seed and its index. Mutations are
 * the classic ones: bit flips, random and "interesting" bytes, inserted
 * dictionary tokens, deleted and duplicated runs, truncation, and splicing
 * two corpus entries.
 */

/** A deterministic PRNG in [0, 1). */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x0d, 0x20, 0x3a, 0x30, 0x16, 0x02, 0x04, 0x05, 0x06, 0x30, 0x31, 0xa0, 0x81, 0x82];

export class Mutator {
  private readonly rand: () => number;

  constructor(
    seed: number,
    private readonly corpus: readonly Uint8Array[],
    private readonly dictionary: readonly Uint8Array[] = [],
  ) {
    this.rand = prng(seed);
  }

  private int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  /** One input: a corpus entry with 1–5 mutations. */
  next(): Buffer {
    let b: Buffer = Buffer.from(this.corpus[this.int(this.corpus.length)]!);
    const edits = 1 + this.int(5);
    for (let e = 0; e < edits; e++) b = this.mutateOnce(b);
    return b;
  }

  private mutateOnce(b: Buffer): Buffer {
    const at = this.int(b.length + 1);
    switch (this.int(8)) {
      case 0: // flip a bit
        if (b.length === 0) return b;
        b[Math.min(at, b.length - 1)]! ^= 1 << this.int(8);
        return b;
      case 1: // random byte
        if (b.length === 0) return b;
        b[Math.min(at, b.length - 1)] = this.int(256);
        return b;
      case 2: // interesting byte
        if (b.length === 0) return b;
        b[Math.min(at, b.length - 1)] = INTERESTING[this.int(INTERESTING.length)]!;
        return b;
      case 3: // insert a dictionary token (or random bytes)
        return Buffer.concat([b.subarray(0, at), this.dictionary.length ? Buffer.from(this.dictionary[this.int(this.dictionary.length)]!) : Buffer.from([this.int(256)]), b.subarray(at)]);
      case 4: // delete a run
        return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + this.int(16))]);
      case 5: // duplicate a run
        return Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + this.int(64)), b.subarray(at)]);
      case 6: // truncate
        return b.subarray(0, at);
      default: {
        // splice with another corpus entry
        const other = this.corpus[this.int(this.corpus.length)]!;
        return Buffer.concat([b.subarray(0, at), Buffer.from(other).subarray(this.int(other.length + 1))]);
      }
    }
  }
}
