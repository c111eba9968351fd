/**
 * `npm run synth`: writes charts/<chart>/ and docs/values.md. With `--check`
 * it writes nothing and fails when the committed files differ from a fresh
 * synthesis (CI's drift check).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { CHARTS, chartFiles, valuesReference } from './synth.js';

export function expectedFiles(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const def of CHARTS) for (const [rel, text] of chartFiles(def)) out.set(join(root, 'charts', def.name, rel), text);
  out.set(join(root, 'docs', 'values.md'), valuesReference());
  return out;
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? listFiles(p) : [p];
  });
}

/** Differences between disk and a fresh synthesis: changed, missing and stale files. */
export function drift(root: string): string[] {
  const expected = expectedFiles(root);
  const problems: string[] = [];
  for (const [path, text] of expected) {
    if (!existsSync(path)) problems.push(`missing: ${relative(root, path)}`);
    else if (readFileSync(path, 'utf8') !== text) problems.push(`differs: ${relative(root, path)}`);
  }
  for (const path of listFiles(join(root, 'charts'))) if (!expected.has(path)) problems.push(`not generated: ${relative(root, path)}`);
  return problems;
}

function main(): void {
  const root = join(dirname(new URL(import.meta.url).pathname), '..', '..');
  if (process.argv.includes('--check')) {
    const problems = drift(root);
    if (problems.length) {
      console.error(`charts are not current (run \`npm run synth\`):\n  ${problems.join('\n  ')}`);
      process.exit(1);
    }
    console.log('charts are current');
    return;
  }
  for (const def of CHARTS) rmSync(join(root, 'charts', def.name), { recursive: true, force: true });
  for (const [path, text] of expectedFiles(root)) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  console.log(`synthesized ${CHARTS.map((c) => c.name).join(', ')} into charts/ and docs/values.md`);
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) main();
