/** `weft diagnostics proxy-metrics POD...`: the raw Prometheus text of pods' proxies, read through viz. */
import type { Command } from 'commander';
import { globalsOf } from '../globals.js';
import { connectViz } from '../viz-connection.js';
import { addVizAddrOptions } from './identity.js';

export function registerDiagnostics(program: Command): void {
  const diagnostics = program.command('diagnostics').description('low-level views for debugging the mesh');
  addVizAddrOptions(
    diagnostics
      .command('proxy-metrics')
      .description("print the Prometheus metrics of pods' proxies (their admin /metrics)")
      .argument('<pods...>', 'pod names (in --namespace)'),
  ).action(async (pods: string[], _opts: unknown, cmd: Command) => {
    const g = globalsOf(cmd);
    const { client } = await connectViz(g);
    for (const pod of pods) {
      const text = await client.text('/api/v1/proxy-metrics', { namespace: g.namespace, pod });
      if (pods.length > 1) process.stdout.write(`#\n# POD ${pod} (namespace ${g.namespace})\n#\n`);
      process.stdout.write(text);
    }
  });
}
