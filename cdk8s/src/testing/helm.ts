/**
 * The real helm binary for chart tests: installed into .bin/ by ci/tools.mjs
 * when missing. Runs are synchronous and short (helm template is local).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import { TestPki, type CertAndKey } from '@weft/common/testing/pki';

export const ROOT = new URL('../../../', import.meta.url).pathname;
export const HELM = join(ROOT, '.bin', 'helm');
export const KUBECTL = join(ROOT, '.bin', 'kubectl');

export function ensureTools(): void {
  if (existsSync(HELM) && existsSync(KUBECTL)) return;
  execFileSync(process.execPath, [join(ROOT, 'ci', 'tools.mjs'), '--quiet'], { cwd: ROOT, stdio: 'inherit' });
}

export interface HelmResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function helm(args: readonly string[], env: NodeJS.ProcessEnv = {}): HelmResult {
  const r = spawnSync(HELM, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: join(tmpdir(), 'weft-helm-cache'), HELM_CONFIG_HOME: join(tmpdir(), 'weft-helm-config'), ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** A scratch directory for values files; remove it with `cleanup`. */
export function scratch(): { dir: string; write(name: string, values: unknown): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'weft-charts-'));
  return {
    dir,
    write(name, values) {
      const p = join(dir, name);
      writeFileSync(p, stringify(values));
      return p;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The objects of a YAML stream (empty documents dropped). */
export function parseStream(text: string): Record<string, unknown>[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`YAML error: ${d.errors[0]!.message}`);
      return d.toJS() as unknown;
    })
    .filter((o): o is Record<string, unknown> => o !== null && typeof o === 'object');
}

export function objectKey(o: Record<string, unknown>): string {
  const md = (o.metadata ?? {}) as { name?: string; namespace?: string };
  return `${String(o.kind)}/${md.namespace ?? ''}/${md.name ?? ''}`;
}

/** A trust anchor and the issuer it signed, with the names the charts expect; see `testIssuer`. */
export interface TestIssuer {
  readonly pki: TestPki;
  readonly anchor: CertAndKey;
  readonly issuer: CertAndKey;
}

/**
 * For a test file: before its tests, checks the tools and makes a throwaway trust anchor and issuer (openssl);
 * after them, removes the files. The returned object is filled in once the tests run.
 */
export function testIssuer(): TestIssuer {
  const certs = {} as { pki: TestPki; anchor: CertAndKey; issuer: CertAndKey };
  before(() => {
    ensureTools();
    certs.pki = new TestPki();
    certs.anchor = certs.pki.cert({ subject: '/CN=root.identity.weft.cluster.local', ca: true });
    certs.issuer = certs.pki.cert({ subject: '/CN=identity.weft.cluster.local', ca: true, issuer: certs.anchor });
  });
  after(() => certs.pki.dispose());
  return certs;
}
