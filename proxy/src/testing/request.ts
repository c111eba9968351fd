/** An HttpRequest as a server hands it to the stacks, for tests of the layers and clients below: bodyless GET unless overridden. */
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { HttpRequest } from '../svc.js';

export function testRequest(path: string, over: Partial<HttpRequest> = {}): HttpRequest {
  const local = { ip: '127.0.0.1', port: 0 };
  return {
    method: 'GET',
    scheme: 'http',
    authority: 'app.test',
    path,
    headers: {},
    body: Readable.from([]),
    bodyless: true,
    version: 'HTTP/1.1',
    signal: new AbortController().signal,
    conn: { direction: 'inbound', client: local, local, origDst: undefined, tls: { identity: undefined } },
    startedAt: performance.now(),
    ...over,
  };
}
