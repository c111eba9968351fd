/**
 * Responses whose body arrived whole with their head, kept without a stream until someone asks for `body`.
 *
 * Most small HTTP/1 responses arrive in one read: head and body together. A Readable for such a body costs more than
 * the rest of its proxying (its construction, the push of its bytes and end, the ticks that emit `end` and `close`,
 * the listeners of the layers that wait for them). weft's HTTP/1 client hands such a response over with its bytes
 * held here; `wholeBody(rsp)` offers them to the layers and the server, which count and write the response without a
 * stream. The first read of `rsp.body` (a layer that wraps or follows the body, the HTTP/2 server, a layer's copy of
 * the response) makes the stream, already ended and saying so (`arrivedWhole`); from then on `wholeBody` is undefined
 * and everyone follows the stream, as for any response.
 */
import { Readable } from 'node:stream';
import type { ArrivingBody, Headers, HttpResponse } from '../svc.js';
import { newest } from '../keep-shapes.js';

/** A body's bytes as the HTTP/1 client kept them: a latin1 string when small (written as one string), else a buffer. */
export type WholeBytes = string | Buffer;

class Held {
  private stream: ArrivedBody | undefined;

  constructor(private readonly bytes: WholeBytes) {
    newest.heldBody = this;
  }

  /** The bytes, while no stream has been made of them. */
  unstreamed(): WholeBytes | undefined {
    return this.stream === undefined ? this.bytes : undefined;
  }

  body(): Readable {
    if (this.stream === undefined) {
      const s = (this.stream = new ArrivedBody());
      if (this.bytes.length > 0) s.push(typeof this.bytes === 'string' ? Buffer.from(this.bytes, 'latin1') : this.bytes);
      s.push(null);
    }
    return this.stream;
  }
}

/** A stream made of a whole body: its bytes and end are pushed before anyone reads it. */
class ArrivedBody extends Readable implements ArrivingBody {
  readonly arrived = true;

  override _read(): void {}
}

/**
 * A response whose whole body is `bytes`. `body` is a getter (of the class: an object literal with a getter costs ~20x
 * more to make), so a spread copy does not carry it: a layer copying a response names it (`{ ...rsp, body: rsp.body }`),
 * which makes the stream, as svc.ts says.
 */
export function wholeResponse(status: number, headers: Headers, bytes: WholeBytes, proxyError: string | undefined): HttpResponse {
  return new WholeResponse(status, headers, new Held(bytes), proxyError);
}

class WholeResponse implements HttpResponse {
  readonly trailers = noTrailers;
  readonly resetCode = noReset;

  constructor(
    readonly status: number,
    readonly headers: Headers,
    readonly held: Held,
    readonly proxyError: string | undefined,
  ) {
    newest.wholeResponse = this;
  }

  get body(): Readable {
    return this.held.body();
  }
}

/**
 * The response's whole body, when it arrived with its head and no one has made a stream of it: the response is
 * complete, and may be counted and written without following `body`. Undefined: follow `body`.
 */
export function wholeBody(rsp: HttpResponse): WholeBytes | undefined {
  return rsp instanceof WholeResponse ? rsp.held.unstreamed() : undefined;
}

function noTrailers(): undefined {
  return undefined;
}

function noReset(): undefined {
  return undefined;
}
