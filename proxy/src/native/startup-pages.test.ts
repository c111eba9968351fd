// releaseStartupPages() in a process of its own (never in the test runner): it unmaps the executable's read-only
// file pages, leaves its relocated and writable pages alone, and the process runs on — the pages it needs again
// fault back in from the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { type ExecutableMapping, isReleasable } from '../testing/smaps.js';

const MODULE = pathToFileURL(new URL('./startup-pages.js', import.meta.url).pathname).href;
const SMAPS = pathToFileURL(new URL('../testing/smaps.js', import.meta.url).pathname).href;

// Runs in the child: the executable's mappings before and after the release, then real work (an ECDSA key from
// OpenSSL, a hash of a string on V8's heap) on code and data that were just unmapped.
const CHILD = `
import { createHash, generateKeyPairSync } from 'node:crypto';
import { releaseStartupPages } from ${JSON.stringify(MODULE)};
import { executableMappings as mappings } from ${JSON.stringify(SMAPS)};
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
    before: ExecutableMapping[];
    after: ExecutableMapping[];
    digest: string;
    keyType: string;
  };
  const sum = (ms: ExecutableMapping[], f: (m: ExecutableMapping) => boolean): number => ms.filter(f).reduce((s, m) => s + m.rssKb, 0);
  // Every read-only, unmodified mapping of the executable was advised, and only those.
  assert.equal(released.mappings, before.filter(isReleasable).length);
  assert.ok(released.mappings >= 2, `the executable's code and read-only data at least: ${JSON.stringify(before)}`);
  // (what it found resident, a moment after `before`: at least as much)
  assert.ok(released.residentBytes >= sum(before, isReleasable) * 1024, `${released.residentBytes} resident when released`);
  // Unmapped: what is resident again right after is what reading /proc since then touched, far below before.
  const residentBefore = sum(before, isReleasable);
  const residentAfter = sum(after, isReleasable);
  assert.ok(residentAfter < residentBefore / 2, `resident read-only pages ${residentBefore} kB → ${residentAfter} kB`);
  // The relocated (RELRO, GOT) and writable mappings keep every page they had, copy-on-write ones included.
  const kept = before.filter((m) => !isReleasable(m));
  assert.ok(kept.some((m) => m.anonymousKb > 0), `the executable has relocated pages: ${JSON.stringify(before)}`);
  for (const m of kept) {
    const now = after.find((a) => a.range === m.range);
    assert.ok(now && now.anonymousKb >= m.anonymousKb, `${m.range} ${m.perms} kept its ${m.anonymousKb} kB: ${JSON.stringify(now)}`);
  }
  // The process runs on: code and data it had before still work (V8, OpenSSL, the heap).
  assert.equal(keyType, 'ec');
  assert.equal(digest, createHash('sha256').update('kept '.repeat(1000)).digest('hex'));
});
