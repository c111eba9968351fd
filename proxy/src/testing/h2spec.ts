/**
 * h2spec (github.com/summerwind/h2spec), the standard HTTP/2 conformance
 * tool, for the proxy's conformance test: built once from its Go module and
 * cached by version, run against a host:port, its JUnit report read back as
 * the set of failed cases.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const H2SPEC_VERSION = 'v2.2.1+incompatible';
const CACHE = join(process.env.WEFT_TOOLS_CACHE ?? '/var/cache/weft-tools', `h2spec-${H2SPEC_VERSION}`);

function goBinary(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/local/go/bin']) {
    if (existsSync(join(dir, 'go'))) return join(dir, 'go');
  }
  throw new Error('h2spec: no Go toolchain on PATH or in /usr/local/go/bin to build the HTTP/2 conformance tool');
}

/** The h2spec binary, built from its module on first use. */
export function h2spec(): string {
  const bin = join(CACHE, 'h2spec');
  if (existsSync(bin)) return bin;
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'weft-h2spec-'));
  try {
    writeFileSync(join(work, 'go.mod'), 'module weft.local/h2spec\n\ngo 1.22\n');
    execFileSync(goBinary(), ['install', `github.com/summerwind/h2spec/cmd/h2spec@${H2SPEC_VERSION}`], {
      cwd: work,
      env: { ...process.env, GOBIN: CACHE, GOFLAGS: '-mod=mod' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return bin;
}

export interface H2specResult {
  readonly total: number;
  /** `<section>/<case>` of every failed case. */
  readonly failed: ReadonlySet<string>;
}

/**
 * Runs every h2spec case against `host:port` (h2c, prior knowledge; with `tls`, TLS + ALPN h2 without verifying the
 * server's certificate); asynchronously, as the target may be in this process.
 */
export async function runH2spec(host: string, port: number, timeoutSeconds = 3, tls = false, specs: readonly string[] = []): Promise<H2specResult> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-h2spec-run-'));
  const report = join(dir, 'report.xml');
  try {
    try {
      await promisify(execFile)(h2spec(), [...specs, '-h', host, '-p', String(port), '-o', String(timeoutSeconds), '-j', report, ...(tls ? ['-t', '-k'] : [])]);
    } catch {
      // h2spec exits non-zero when any case fails; the report says which.
    }
    const xml = readFileSync(report, 'latin1');
    const failed = new Set<string>();
    let total = 0;
    for (const m of xml.matchAll(/<testcase package="([^"]*)" classname="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
      total++;
      if (/<(error|failure)\b/.test(m[4] ?? '')) failed.add(`${m[1]}/${m[2]}`);
    }
    return { total, failed };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The cases of `extra` (failed by a target, passed by the reference) that fail in every one of `reruns` re-runs of
 * their section. Node's HTTP/2 answers some stream-state cases by timing (whether a closed stream is still known),
 * so one run can fail a case the next passes, through weft or not; a case weft really breaks fails every time.
 */
export async function confirmedFailures(extra: readonly string[], host: string, port: number, tls = false, reruns = 3): Promise<string[]> {
  const confirmed: string[] = [];
  const sections = new Map<string, string[]>();
  for (const id of extra) {
    const section = id.split('/').slice(0, 2).join('/');
    sections.set(section, [...(sections.get(section) ?? []), id]);
  }
  for (const [section, ids] of sections) {
    let still = ids;
    for (let i = 0; i < reruns && still.length > 0; i++) {
      const r = await runH2spec(host, port, 3, tls, [section]);
      still = still.filter((id) => r.failed.has(id));
    }
    confirmed.push(...still);
  }
  return confirmed;
}
