/** The CLI's client for viz's metrics-api and tap stream; HTTP errors come back as WeftErrors with viz's code. */
import { UnavailableError, WeftError, type WeftErrorCode } from '@weft/common/errors';

const HINT = 'is viz running? Locally: npm start (the demo serves it on 127.0.0.1:8085); in a cluster: kubectl -n weft-viz port-forward svc/weft-viz 8085 8088 8084; or pass --api-addr/--tap-addr';

async function failure(res: Response, url: string): Promise<WeftError> {
  let code: WeftErrorCode = res.status === 404 ? 'NOT_FOUND' : res.status === 400 ? 'INVALID_ARGUMENT' : 'UNAVAILABLE';
  let message = `${url}: HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { code?: WeftErrorCode; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    /* not JSON: keep the status line */
  }
  return new WeftError(code, message);
}

export class VizClient {
  constructor(
    private readonly apiAddr: string,
    private readonly tapAddr: string,
    private readonly token?: string,
  ) {}

  private async fetch(base: string, path: string, params: Record<string, string | undefined>, signal?: AbortSignal): Promise<Response> {
    const qs = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
    const url = `${base}${path}?${qs}`;
    let res: Response;
    try {
      res = await fetch(url, { headers: this.token ? { authorization: `Bearer ${this.token}` } : {}, signal: signal ?? AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new UnavailableError(`cannot reach viz at ${base}: ${((err as Error).cause as Error)?.message ?? (err as Error).message}\n  ${HINT}`, { cause: err });
    }
    if (!res.ok) throw await failure(res, url);
    return res;
  }

  async json<T>(path: string, params: Record<string, string | undefined>): Promise<T> {
    return (await (await this.fetch(this.apiAddr, path, params)).json()) as T;
  }

  async text(path: string, params: Record<string, string | undefined>): Promise<string> {
    return (await this.fetch(this.apiAddr, path, params)).text();
  }

  /** Yields parsed NDJSON lines of the tap stream until it ends or `signal` aborts. */
  async *tap(params: Record<string, string | undefined>, signal: AbortSignal): AsyncGenerator<Record<string, unknown>> {
    const res = await this.fetch(this.tapAddr, '/api/v1/tap', params, signal);
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line) yield JSON.parse(line) as Record<string, unknown>;
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      throw new UnavailableError(`the tap stream broke: ${(err as Error).message}`, { cause: err });
    }
  }
}
