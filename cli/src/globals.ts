/**
 * Global flags (kubectl-like) parsed once into a typed object that commands
 * receive: kubeconfig, context, namespace, output format, viz addresses.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from '@weft/common/errors';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { k8s } from '@weft/common/k8s/client';
import { parseOutput, type OutputFormat } from './output.js';

export interface Globals {
  readonly kubeconfig?: string;
  readonly context?: string;
  /** -n, else the kubeconfig context's namespace, else `default`. */
  readonly namespace: string;
  readonly namespaceGiven: boolean;
  readonly weftNamespace: string;
  readonly output: OutputFormat;
  readonly apiAddr: string;
  readonly tapAddr: string;
  readonly webAddr: string;
  /** A viz address came from a flag or the environment (no local probe, no port-forward). */
  readonly vizAddrsGiven: boolean;
  /** Loads the kubeconfig (and the Kubernetes client, ~1 s of imports) on first use. */
  readonly kubeConfig: () => Promise<k8s.KubeConfig>;
}

/**
 * The namespace of the kubeconfig's current (or --context) context, read
 * without loading the Kubernetes client: verbs that never talk to the API
 * server (viz, identity) still default to it like kubectl does.
 */
export function contextNamespace(kubeconfig: string | undefined, context: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const path = kubeconfig ?? env.KUBECONFIG?.split(':')[0] ?? join(homedir(), '.kube', 'config');
  try {
    const doc = parse(readFileSync(path, 'utf8')) as { 'current-context'?: string; contexts?: Array<{ name: string; context?: { namespace?: string } }> };
    const name = context ?? doc['current-context'];
    return doc.contexts?.find((c) => c.name === name)?.context?.namespace;
  } catch {
    return undefined;
  }
}

const NS = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function url(flag: string, raw: string): string {
  const v = /^https?:\/\//.test(raw) ? raw : `http://${raw}`;
  try {
    return new URL(v).toString().replace(/\/+$/, '');
  } catch {
    throw new InvalidArgumentError(`${flag} "${raw}" is not a URL or host:port`);
  }
}

export function globalsOf(cmd: Command, env: NodeJS.ProcessEnv = process.env): Globals {
  const o = cmd.optsWithGlobals<{
    kubeconfig?: string; context?: string; namespace?: string; weftNamespace: string; output?: string;
    apiAddr?: string; tapAddr?: string; webAddr?: string;
  }>();
  let kc: Promise<k8s.KubeConfig> | undefined;
  const kubeConfig = () => (kc ??= import('@weft/common/k8s/client').then(({ loadKubeConfig }) => loadKubeConfig({ kubeconfig: o.kubeconfig, context: o.context })));
  const namespace = o.namespace ?? contextNamespace(o.kubeconfig, o.context, env);
  for (const [flag, v] of [['--namespace', namespace], ['--weft-namespace', o.weftNamespace]] as const) {
    if (v !== undefined && !NS.test(v)) throw new InvalidArgumentError(`${flag} "${v}" is not a valid namespace name`);
  }
  return {
    kubeconfig: o.kubeconfig,
    context: o.context,
    namespace: namespace ?? 'default',
    namespaceGiven: o.namespace !== undefined,
    weftNamespace: o.weftNamespace,
    output: parseOutput(o.output),
    apiAddr: url('--api-addr', o.apiAddr ?? env.WEFT_VIZ_API_ADDR ?? 'http://127.0.0.1:8085'),
    tapAddr: url('--tap-addr', o.tapAddr ?? env.WEFT_VIZ_TAP_ADDR ?? 'http://127.0.0.1:8088'),
    webAddr: url('--web-addr', o.webAddr ?? env.WEFT_VIZ_WEB_ADDR ?? 'http://127.0.0.1:8084'),
    vizAddrsGiven: [o.apiAddr, o.tapAddr, o.webAddr, env.WEFT_VIZ_API_ADDR, env.WEFT_VIZ_TAP_ADDR, env.WEFT_VIZ_WEB_ADDR].some((v) => v !== undefined),
    kubeConfig,
  };
}
