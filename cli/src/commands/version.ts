/** `weft version`: the client's version and the control plane's (its Deployments' app.kubernetes.io/version). */
import type { Command } from 'commander';
import { CONTROL_PLANE_DEPLOYMENTS } from '../check/names.js';
import { EXIT } from '../exit-codes.js';
import { globalsOf } from '../globals.js';
import { renderStructured } from '../output.js';
import { CLI_VERSION } from '../version.js';

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('print the client and control plane versions')
    .option('--client', 'only the client version (no cluster access)')
    .action(async (opts: { client?: boolean }, cmd: Command) => {
      const g = globalsOf(cmd);
      let controlPlane: string | undefined;
      let problem: string | undefined;
      if (!opts.client) {
        try {
          const { kubernetesReads } = await import('../check/kubernetes-reads.js');
          const deployments = await kubernetesReads(await g.kubeConfig()).deployments(g.weftNamespace);
          const versions = [...new Set(deployments.filter((d) => (CONTROL_PLANE_DEPLOYMENTS as readonly string[]).includes(d.name)).map((d) => d.version ?? 'unknown'))];
          if (versions.length === 0) problem = `no control plane in namespace ${g.weftNamespace}`;
          else controlPlane = versions.join(', ');
        } catch (err) {
          problem = `cannot reach the cluster: ${(err as Error).message}`;
        }
      }
      const structured = renderStructured(g.output, { client: CLI_VERSION, ...(opts.client ? {} : { controlPlane: controlPlane ?? null, ...(problem ? { error: problem } : {}) }) });
      if (structured !== undefined) process.stdout.write(structured);
      else {
        process.stdout.write(`Client version: ${CLI_VERSION}\n`);
        if (!opts.client) process.stdout.write(`Control plane version: ${controlPlane ?? `unavailable (${problem})`}\n`);
      }
      if (problem) process.exitCode = EXIT.UNAVAILABLE;
    });
}
