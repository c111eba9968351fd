/**
 * What `weft` does differently on a terminal: colours (only on a TTY, never
 * with NO_COLOR set, https://no-color.org) and progress for long operations
 * (a spinner on stderr, only when stderr is a TTY, so logs and pipes stay
 * clean). Decided from the stream and the environment, never guessed.
 */

export interface Stream {
  readonly isTTY?: boolean;
  write(text: string): boolean;
}

/** Colours for `stream`: a TTY, `NO_COLOR` unset or empty, and a terminal that is not `dumb`. */
export function colorEnabled(stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export type Color = 'green' | 'yellow' | 'red' | 'dim' | 'bold';

const SGR: Record<Color, readonly [number, number]> = { green: [32, 39], yellow: [33, 39], red: [31, 39], dim: [2, 22], bold: [1, 22] };

/** Paints text in a colour, or returns it unchanged when colours are off. */
export type Paint = (color: Color | undefined, text: string) => string;

export const noPaint: Paint = (_c, text) => text;

export function paintFor(stream: { readonly isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): Paint {
  if (!colorEnabled(stream, env)) return noPaint;
  return (color, text) => (color === undefined || text === '' ? text : `\x1b[${SGR[color][0]}m${text}\x1b[${SGR[color][1]}m`);
}

/** The colour of a success rate, as in the dashboard: ≥ 99 % green, ≥ 90 % yellow, below red. */
export function successColor(rate: number | null): Color | undefined {
  if (rate === null) return undefined;
  return rate >= 0.99 ? 'green' : rate >= 0.9 ? 'yellow' : 'red';
}

export interface Progress {
  /** Changes the text next to the spinner. */
  update(text: string): void;
  /** Removes the spinner line. */
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * A spinner with `text` on `stream` (stderr) while a long operation runs;
 * nothing at all when the stream is not a TTY. The timer is unref'd: it never
 * keeps the process alive.
 */
export function progress(text: string, stream: Stream = process.stderr, env: NodeJS.ProcessEnv = process.env): Progress {
  if (stream.isTTY !== true || env.TERM === 'dumb') return { update() {}, stop() {} };
  let current = text;
  let frame = 0;
  const draw = () => void stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${current}`);
  draw();
  const timer = setInterval(draw, 100);
  timer.unref();
  let stopped = false;
  return {
    update(t) {
      current = t;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      stream.write('\r\x1b[2K');
    },
  };
}

/** Runs `work` with a spinner saying `text` on a TTY. */
export async function withProgress<T>(text: string, work: (p: Progress) => Promise<T>): Promise<T> {
  const p = progress(text);
  try {
    return await work(p);
  } finally {
    p.stop();
  }
}
