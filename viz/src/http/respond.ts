/** JSON responses and errors for viz's HTTP APIs: `{error: {code, message}}` with the WeftError's HTTP status. */
import type { ServerResponse } from 'node:http';
import { WeftError } from '../errors.js';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(text);
}

export function sendError(res: ServerResponse, err: unknown): void {
  const weft = err instanceof WeftError ? err : undefined;
  const status = weft?.httpStatus ?? 500;
  const body = { error: { code: weft?.code ?? 'INTERNAL', message: (err as Error)?.message ?? String(err) } };
  if (res.headersSent) {
    // Mid-stream (tap): the error becomes the last line.
    res.end(JSON.stringify(body) + '\n');
    return;
  }
  sendJson(res, status, body);
}
