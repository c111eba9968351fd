import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endToEnd, isWeftName } from './headers.js';
import { parseResponseHead } from './h1/wire.js';

test("weft's own fields are dropped in every spelling an application reads as one (weft-…, weft_…), and only those", () => {
  const sent = {
    'weft-client-id': 'forged',
    weft_client_id: 'forged',
    'weft_client-id': 'forged',
    'weft-dst-port': '22',
    weftx: 'kept',
    weft: 'kept',
    'x-weft-client-id': 'kept',
    'content-type': 'text/plain',
  };
  const expected = { weftx: 'kept', weft: 'kept', 'x-weft-client-id': 'kept', 'content-type': 'text/plain' };
  assert.deepEqual(endToEnd(sent), expected);
  // The HTTP/1 response parser leaves the same ones out of the fields it forwards.
  const head = parseResponseHead(Buffer.from(`HTTP/1.1 200 OK\r\n${Object.entries(sent).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`, 'latin1'))!;
  assert.deepEqual({ ...head.headers }, expected);
  assert.equal(isWeftName('weft_'), true);
  assert.equal(isWeftName('wefts'), false);
});
