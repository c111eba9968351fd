/**
 * `weft inject FILE|-` and `weft uninject FILE|-`: add weft's proxy to (or
 * remove it from) every workload in a YAML/JSON manifest stream, with the
 * same library the admission webhook uses. The result goes to stdout, one
 * summary line per object to stderr.
 *
 * program.ts wires these verbs with `registerInject(program)`.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { WeftError } from '@weft/common/errors';
import { loadMeshConfig } from '@weft/injector/mesh-config';
import { formatSummary, transformManifest, type ManifestAction } from '@weft/injector/manifest';

/** Flag → the injector's env variable of the same meaning (one config parser for both). */
const MESH_FLAGS: ReadonlyArray<readonly [flag: string, variable: string, help: string]> = [
  ['--trust-anchors-file <path>', 'WEFT_INJECTOR_TRUST_ANCHORS_FILE', 'PEM trust anchors (ConfigMap weft-identity-trust-roots, key ca-bundle.crt); required'],
  ['--proxy-image <image>', 'WEFT_INJECTOR_PROXY_IMAGE', 'proxy image without tag (default ghcr.io/weft-mesh/proxy)'],
  ['--proxy-version <tag>', 'WEFT_INJECTOR_PROXY_VERSION', 'proxy image tag (default: this CLI version)'],
  ['--image-pull-policy <policy>', 'WEFT_INJECTOR_PROXY_IMAGE_PULL_POLICY', 'Always | IfNotPresent | Never'],
  ['--kubernetes-version <version>', 'WEFT_INJECTOR_KUBERNETES_VERSION', 'target cluster version; >= 1.29 uses native sidecars (default 1.29)'],
  ['--trust-domain <domain>', 'WEFT_INJECTOR_TRUST_DOMAIN', 'identity trust domain (default cluster.local)'],
  ['--cluster-domain <domain>', 'WEFT_INJECTOR_CLUSTER_DOMAIN', 'cluster DNS domain (default cluster.local)'],
  ['--identity-addr <host:port>', 'WEFT_INJECTOR_IDENTITY_ADDR', 'identity service address'],
  ['--destination-addr <host:port>', 'WEFT_INJECTOR_DESTINATION_ADDR', 'destination service address'],
  ['--policy-addr <host:port>', 'WEFT_INJECTOR_POLICY_ADDR', 'policy service address'],
  ['--proxy-log-level <level>', 'WEFT_INJECTOR_PROXY_LOG_LEVEL', 'proxy log level (default info)'],
  ['--proxy-cpu-request <quantity>', 'WEFT_INJECTOR_PROXY_CPU_REQUEST', 'proxy CPU request (default 100m)'],
  ['--proxy-cpu-limit <quantity>', 'WEFT_INJECTOR_PROXY_CPU_LIMIT', 'proxy CPU limit (default none)'],
  ['--proxy-memory-request <quantity>', 'WEFT_INJECTOR_PROXY_MEMORY_REQUEST', 'proxy memory request (default 64Mi)'],
  ['--proxy-memory-limit <quantity>', 'WEFT_INJECTOR_PROXY_MEMORY_LIMIT', 'proxy memory limit (default 256Mi)'],
  ['--opaque-ports <ports>', 'WEFT_INJECTOR_OPAQUE_PORTS', 'ports the proxy does not detect protocols on'],
  ['--default-inbound-policy <policy>', 'WEFT_INJECTOR_DEFAULT_INBOUND_POLICY', 'all-unauthenticated | all-authenticated | cluster-authenticated | deny'],
  ['--token-expiration-seconds <n>', 'WEFT_INJECTOR_TOKEN_EXPIRATION_SECONDS', 'projected ServiceAccount token lifetime (default 86400)'],
];

const camel = (flag: string): string => flag.replace(/^--/, '').split(' ')[0]!.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

async function readInput(file: string): Promise<string> {
  if (file !== '-') return readFile(file, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function run(verb: 'inject' | 'uninject', file: string, action: () => ManifestAction): Promise<void> {
  try {
    const what = action();
    const result = transformManifest(await readInput(file), what);
    process.stdout.write(result.output);
    process.stderr.write(formatSummary(result.summaries));
  } catch (err) {
    const known = err instanceof WeftError || (err as NodeJS.ErrnoException).code === 'ENOENT';
    process.stderr.write(`weft ${verb}: ${known ? (err as Error).message : (err as Error).stack}\n`);
    process.exitCode = 1;
  }
}

export function registerInject(program: Command): void {
  const inject = program
    .command('inject')
    .description('add the weft proxy to the workloads of a manifest (YAML or JSON, - for stdin)')
    .argument('<file>', 'manifest file, or - to read stdin')
    .option('--ingress', 'mesh in ingress mode (for ingress controllers)')
    .option('--cni', 'a CNI plugin sets up traffic redirection: no weft-init container');
  for (const [flag, , help] of MESH_FLAGS) inject.option(flag, help);
  inject.action(async (file: string, opts: Record<string, string | boolean | undefined>, cmd: Command) => {
    await run('inject', file, () => {
      const globals = cmd.optsWithGlobals<{ weftNamespace?: string }>();
      const env: NodeJS.ProcessEnv = { WEFT_INJECTOR_CNI_ENABLED: opts.cni ? 'true' : 'false' };
      if (globals.weftNamespace) env.WEFT_INJECTOR_CONTROL_PLANE_NAMESPACE = globals.weftNamespace;
      for (const [flag, variable] of MESH_FLAGS) {
        const value = opts[camel(flag)];
        if (typeof value === 'string') env[variable] = value;
      }
      if (env.WEFT_INJECTOR_TRUST_ANCHORS_FILE === undefined) {
        throw new WeftError(
          'INVALID_ARGUMENT',
          '--trust-anchors-file is required: save the cluster\'s anchors with\n' +
            "  kubectl -n weft get configmap weft-identity-trust-roots -o jsonpath='{.data.ca-bundle\\.crt}' > anchors.pem",
        );
      }
      return { action: 'inject', mesh: loadMeshConfig(env), ingress: opts.ingress === true };
    });
  });

  program
    .command('uninject')
    .description('remove the weft proxy from the workloads of a manifest (YAML or JSON, - for stdin)')
    .argument('<file>', 'manifest file, or - to read stdin')
    .action(async (file: string) => {
      await run('uninject', file, () => ({ action: 'uninject' }));
    });
}
