/**
 * The proxies viz can reach directly (tap, `/metrics`, the certificate a pod
 * presents). In Kubernetes Prometheus discovers pods on its own; for the local
 * demo viz reads a static list from a file, re-read when the file changes so
 * the demo can add proxies as it starts them.
 */
import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { InvalidArgumentError, NotFoundError } from './errors.js';
import { parseKind, isWorkloadKind, type WorkloadKind } from './resource.js';

export interface ProxyTarget {
  /** The pod name. */
  readonly name: string;
  readonly namespace: string;
  readonly workload: { readonly kind: WorkloadKind; readonly name: string };
  /** `host:port` of the proxy's admin server (4191). */
  readonly adminAddr: string;
  /** `host:port` of the proxy's tap server (4190). */
  readonly tapAddr: string;
  /** The proxy's DNS identity: the name its tap server certificate carries. */
  readonly identity: string;
}

export interface TargetSource {
  list(): Promise<readonly ProxyTarget[]>;
}

const ADDR = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

function field(obj: Record<string, unknown>, key: string, where: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v === '') throw new InvalidArgumentError(`${where}: "${key}" must be a non-empty string`);
  return v;
}

function addr(obj: Record<string, unknown>, key: string, where: string): string {
  const v = field(obj, key, where);
  const m = ADDR.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new InvalidArgumentError(`${where}: "${key}" must be host:port, got "${v}"`);
  return v;
}

/** Parses a proxy list (JSON or YAML: a list, or `{proxies: [...]}`); fails naming the bad entry. */
export function parseTargets(text: string, source = 'proxy list'): ProxyTarget[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new InvalidArgumentError(`${source} is not valid JSON/YAML: ${(err as Error).message}`);
  }
  const list = Array.isArray(doc) ? doc : (doc as { proxies?: unknown } | null)?.proxies;
  if (!Array.isArray(list)) throw new InvalidArgumentError(`${source} must be a list of proxies or {proxies: [...]}`);
  return list.map((entry: unknown, i) => {
    const where = `${source}[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw new InvalidArgumentError(`${where} must be an object`);
    const e = entry as Record<string, unknown>;
    const workload = field(e, 'workload', where);
    const [kindRaw, wname] = workload.split('/');
    let kind;
    try {
      kind = parseKind(kindRaw ?? '');
    } catch {
      kind = undefined;
    }
    if (!kind || !isWorkloadKind(kind) || !wname) throw new InvalidArgumentError(`${where}: "workload" must be <deployment|statefulset|daemonset>/<name>, got "${workload}"`);
    return {
      name: field(e, 'name', where),
      namespace: field(e, 'namespace', where),
      workload: { kind, name: wname },
      adminAddr: addr(e, 'adminAddr', where),
      tapAddr: addr(e, 'tapAddr', where),
      identity: field(e, 'identity', where),
    };
  });
}

/** A proxy list in a file, re-read when its modification time changes. */
export class FileTargetSource implements TargetSource {
  private cached: { mtimeMs: number; targets: ProxyTarget[] } | undefined;

  constructor(private readonly path: string) {}

  async list(): Promise<readonly ProxyTarget[]> {
    const { mtimeMs } = await stat(this.path);
    if (this.cached?.mtimeMs !== mtimeMs) {
      this.cached = { mtimeMs, targets: parseTargets(await readFile(this.path, 'utf8'), this.path) };
    }
    return this.cached.targets;
  }
}

export class StaticTargetSource implements TargetSource {
  constructor(private readonly targets: readonly ProxyTarget[]) {}
  async list(): Promise<readonly ProxyTarget[]> {
    return this.targets;
  }
}

export async function findPod(source: TargetSource, namespace: string, pod: string): Promise<ProxyTarget> {
  const t = (await source.list()).find((x) => x.namespace === namespace && x.name === pod);
  if (!t) throw new NotFoundError(`no meshed pod ${namespace}/${pod} among viz's proxy targets`);
  return t;
}
