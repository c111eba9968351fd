/**
 * Writes held to the end of the event-loop turn, while the proxy is saturated.
 *
 * Under load one turn serves many connections' events. Written as each is handled, the writes are spread over the
 * whole turn, and each one finds its reader (the application, the load's client) asleep again and pays the
 * kernel's cross-CPU wake-up. Held (the socket corked) until the turn's I/O has been handled, they leave back to
 * back in the check phase, where the first wakes the reader and the rest find it awake.
 *
 * Holding delays the first writes of a turn by the time the rest of its events take, and keeps the reader from
 * working on them while the proxy handles the rest: a burst that the two sides would have overlapped takes longer.
 * So turns hold only while the proxy is saturated, i.e. its loop spent less than `BUSY_IDLE_SHARE` of the last
 * window of at least `WINDOW_MS` waiting in the poll. A proxy that waits between bursts writes as it goes.
 *
 * A held socket keeps its order (everything written to it is corked behind the first write), and `end()` flushes
 * it. `destroy()` drops what is corked: a caller that may destroy a socket it holds calls `release` first.
 *
 * The held sockets are listed here, and nothing is added to a socket: a property on Node's socket objects (a mark
 * that a socket is held) gives the held ones a hidden class of their own. Code optimized while the proxy was
 * saturated is then specialized on a class no socket has once the load's connections closed, and V8 throws it away
 * at the quiet proxy's first full collection (keep-shapes.ts). A `Set` instead of the list cost 8–19 MiB more at
 * full speed (docs/proxy.md, thirty-fifth pass); a turn holds a few dozen sockets at most, and the list's linear
 * search finds one among them.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { newest } from '../keep-shapes.js';

/** The loop counts as saturated when it waited in the poll for less than this share of the last window. */
export const BUSY_IDLE_SHARE = 0.1;
/** The shortest window the loop's idle share is measured over (ms). */
export const WINDOW_MS = 1;

const timing = performance.nodeTiming;
/** The sockets this turn holds. */
let held: Socket[] = [];
/** This turn holds (an end-of-turn callback is queued). */
let holding = false;
/** The current window's start: the time and the loop's idle time then (ms); `saturated`: the last window's verdict. */
let windowStart = 0;
let idleAtStart = 0;
let saturated = false;

/** Whether the loop is saturated, from the last complete window (a new one starts when this one is long enough). */
function isSaturated(): boolean {
  const now = performance.now();
  const span = now - windowStart;
  if (span >= WINDOW_MS) {
    const idle = timing.idleTime;
    saturated = idle - idleAtStart < span * BUSY_IDLE_SHARE;
    windowStart = now;
    idleAtStart = idle;
  }
  return saturated;
}

/** Holds `socket`'s writes from now to the end of this event-loop turn, if the loop is saturated. */
export function holdForTurn(socket: Socket): void {
  if (!holding) {
    if (!isSaturated()) return;
    holding = true;
    newest.immediate = setImmediate(endTurn);
  }
  if (held.includes(socket)) return;
  socket.cork();
  held.push(socket);
}

/** Writes what `socket` holds now (before destroying it, or handing it to code that may). */
export function release(socket: Socket): void {
  const i = held.indexOf(socket);
  if (i < 0) return;
  held[i] = held[held.length - 1]!;
  held.pop();
  socket.uncork();
}

function endTurn(): void {
  holding = false;
  const sockets = held;
  if (sockets.length === 0) return;
  held = [];
  for (const s of sockets) s.uncork();
}
