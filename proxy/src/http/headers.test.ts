import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endToEnd, isWeftName, toEndToEnd } from './headers.js';

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
  assert.deepEqual(toEndToEnd({ ...sent }), expected);
  assert.equal(isWeftName('weft_'), true);
  assert.equal(isWeftName('wefts'), false);
});
