// releaseStartupPages() in a process of its own (never in the test runner): it unmaps the executable's read-only
// file pages, leaves its relocated and writable pages alone, and the process runs on — the pages it needs again
// fault back in from the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

const MODULE = pathToFileURL(new URL('./startup-pages.js', import.meta.url).pathname).href;

interface ExeMapping {
  readonly range: string;
  readonly perms: string;
  readonly rssKb: number;
  readonly anonymousKb: number;
}

// Runs in the child: the executable's mappings before and after the release, then real work (TLS and HTTP over
// loopback) on code and data that were just unmapped.
const CHILD = `
import { readFileSync, readlinkSync } from 'node:fs';
import https from 'node:https';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { releaseStartupPages } from ${JSON.stringify(MODULE)};
const exe = readlinkSync('/proc/self/exe');
const mappings = () => {
  const out = [];
  let cur;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\\n')) {
    const m = /^([0-9a-f]+-[0-9a-f]+) (\\S+) \\S+ \\S+ \\S+\\s*(.*)$/.exec(line);
    if (m) { cur = m[3] === exe ? { range: m[1], perms: m[2], rssKb: 0, anonymousKb: 0 } : undefined; if (cur) out.push(cur); continue; }
    const k = /^(Rss|Anonymous):\\s+(\\d+) kB/.exec(line);
    if (k && cur) cur[k[1] === 'Rss' ? 'rssKb' : 'anonymousKb'] = Number(k[2]);
  }
  return out;
};
const marker = { text: 'kept '.repeat(1000) };
const before = mappings();
const released = releaseStartupPages();
const after = mappings();
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const digest = createHash('sha256').update(marker.text).digest('hex');
process.stdout.write(JSON.stringify({ released, before, after, digest, keyType: privateKey.asymmetricKeyType }) + '\\n');
`;

test('releasing the start-up pages unmaps the executable\'s read-only file pages and leaves the rest', { timeout: 60_000 }, (t) => {
  if (process.platform !== 'linux') return t.skip('Linux only (madvise over /proc/self/smaps)');
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD], { encoding: 'utf8', timeout: 50_000 });
  assert.equal(child.status, 0, child.stderr);
  const { released, before, after, digest, keyType } = JSON.parse(child.stdout) as {
    released: { mappings: number; bytes: number; residentBytes: number };
    before: ExeMapping[];
    after: ExeMapping[];
    digest: string;
    keyType: string;
  };
  const readOnlyClean = (m: ExeMapping): boolean => !m.perms.includes('w') && m.anonymousKb === 0;
  const sum = (ms: ExeMapping[], f: (m: ExeMapping) => boolean): number => ms.filter(f).reduce((s, m) => s + m.rssKb, 0);
  // Every read-only, unmodified mapping of the executable was advised, and only those.
  assert.equal(released.mappings, before.filter(readOnlyClean).length);
  assert.ok(released.mappings >= 2, `the executable's code and read-only data at least: ${JSON.stringify(before)}`);
  // (what it found resident, a moment after `before`: at least as much)
  assert.ok(released.residentBytes >= sum(before, readOnlyClean) * 1024, `${released.residentBytes} resident when released`);
  // Unmapped: what is resident again right after is what reading /proc since then touched, far below before.
  const residentBefore = sum(before, readOnlyClean);
  const residentAfter = sum(after, readOnlyClean);
  assert.ok(residentAfter < residentBefore / 2, `resident read-only pages ${residentBefore} kB → ${residentAfter} kB`);
  // The relocated (RELRO, GOT) and writable mappings keep every page they had, copy-on-write ones included.
  const kept = before.filter((m) => !readOnlyClean(m));
  assert.ok(kept.some((m) => m.anonymousKb > 0), `the executable has relocated pages: ${JSON.stringify(before)}`);
  for (const m of kept) {
    const now = after.find((a) => a.range === m.range);
    assert.ok(now && now.anonymousKb >= m.anonymousKb, `${m.range} ${m.perms} kept its ${m.anonymousKb} kB: ${JSON.stringify(now)}`);
  }
  // The process runs on: code and data it had before still work (V8, OpenSSL, the heap).
  assert.equal(keyType, 'ec');
  assert.match(digest, /^[0-9a-f]{64}$/);
});
