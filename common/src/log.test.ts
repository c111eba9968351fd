import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plainLine } from './log.js';

test('plain format: time, level, component and message first, then the other fields as key=value', () => {
  const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 11, 3, 2, 50), pid: 1, hostname: 'h', name: 'proxy', component: 'proxy', authority: 'web.shop.svc.cluster.local:80', retryInMs: 250, err: { message: 'stream broke' }, msg: 'destination stream broke; keeping last endpoints' });
  assert.equal(
    plainLine(line),
    '2026-12-03T02:50:00.000Z WARN proxy: destination stream broke; keeping last endpoints authority=web.shop.svc.cluster.local:80 retryInMs=250 err={"message":"stream broke"}\n',
  );
});

test('plain format: a value with spaces is quoted, a line that is not JSON passes unchanged', () => {
  assert.equal(plainLine(JSON.stringify({ level: 30, time: 0, component: 'c', msg: 'm', why: 'two words' })), '1970-01-01T00:00:00.000Z INFO c: m why="two words"\n');
  assert.equal(plainLine('not json'), 'not json\n');
});
