import { test } from 'node:test';
import assert from 'node:assert/strict';
import { colorEnabled, paintFor, progress, successColor } from './terminal.js';

test('colours need a TTY, a terminal that is not dumb, and NO_COLOR unset or empty', () => {
  assert.equal(colorEnabled({ isTTY: true }, {}), true);
  assert.equal(colorEnabled({ isTTY: false }, {}), false);
  assert.equal(colorEnabled({}, {}), false);
  assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '1' }), false);
  assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '' }), true, 'an empty NO_COLOR does not count (no-color.org)');
  assert.equal(colorEnabled({ isTTY: true }, { TERM: 'dumb' }), false);
  assert.equal(paintFor({ isTTY: true }, {})('red', '89.00%'), '\x1b[31m89.00%\x1b[39m');
  assert.equal(paintFor({ isTTY: false }, {})('red', '89.00%'), '89.00%');
});

test('success rates are coloured like the dashboard', () => {
  assert.equal(successColor(1), 'green');
  assert.equal(successColor(0.99), 'green');
  assert.equal(successColor(0.95), 'yellow');
  assert.equal(successColor(0.5), 'red');
  assert.equal(successColor(null), undefined);
});

test('progress draws on a TTY only and clears its line when done', () => {
  const writes: string[] = [];
  const stream = (isTTY: boolean) => ({ isTTY, write: (t: string) => (writes.push(t), true) });
  const quiet = progress('checking', stream(false), {});
  quiet.stop();
  assert.equal(writes.length, 0);
  const p = progress('checking the cluster', stream(true), {});
  p.stop();
  p.stop();
  assert.equal(writes.length, 2);
  assert.ok(writes[0]!.startsWith('\r\x1b[2K') && writes[0]!.endsWith(' checking the cluster'), JSON.stringify(writes[0]));
  assert.equal(writes[1], '\r\x1b[2K');
});
