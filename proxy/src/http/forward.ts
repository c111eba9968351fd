/**
 * Copies a body from a Readable into a Writable, with backpressure, as `src.pipe(dst)` does, for the bodies the
 * HTTP/2 side forwards on every request. `pipe` creates eight closures per call and registers six listeners; closures
 * made per request and called once lose their optimised code at every full GC, and V8 compiles them again
 * (docs/proxy.md, "Garbage and recompilation on the HTTP/2 path"). Here the listeners are the prototype's methods,
 * bound once per body.
 */
import type { Readable, Writable } from 'node:stream';

export class BodyForward {
  private readonly onData: (chunk: Buffer) => void;
  private readonly onDrain: () => void;
  private readonly onEnd: () => void;
  private readonly onDstClose: () => void;
  private drainWatched = false;

  /** Starts copying; with `end`, `dst` ends when `src` does. When `dst` closes, `src` is left paused (as `unpipe`). */
  constructor(
    private readonly src: Readable,
    private readonly dst: Writable,
    end: boolean,
  ) {
    this.onData = this.data.bind(this);
    this.onDrain = this.drain.bind(this);
    this.onDstClose = this.dstClose.bind(this);
    this.onEnd = end ? this.end.bind(this) : noop;
    src.on('data', this.onData);
    // `on`, not `once` (each is emitted once): `once` wraps the listener in a closure per body.
    if (end) src.on('end', this.onEnd);
    dst.on('close', this.onDstClose);
    // As `pipe`: a body paused before (nobody reading it) flows now.
    if (src.readableFlowing !== true) src.resume();
  }

  private data(chunk: Buffer): void {
    if (this.dst.write(chunk)) return;
    this.src.pause();
    if (!this.drainWatched) {
      this.drainWatched = true;
      this.dst.on('drain', this.onDrain);
    }
  }

  private drain(): void {
    this.src.resume();
  }

  private end(): void {
    this.dst.end();
  }

  private dstClose(): void {
    const src = this.src;
    src.off('data', this.onData);
    src.off('end', this.onEnd);
    if (this.drainWatched) this.dst.off('drain', this.onDrain);
    src.pause();
  }
}

function noop(): void {}
