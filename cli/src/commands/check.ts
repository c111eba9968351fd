/**
 * `weft check [--pre] [--proxy]`: verifies the cluster before install, the
 * control plane and its certificates after, and optionally the data plane.
 * Exit code 1 when a check fails (warnings keep 0).
 */
import type { Command } from 'commander';
import { failed, runChecks } from '../check/checks.js';
import { unreachableReads, type ClusterReads } from '../check/cluster-reads.js';
import { renderCheckReport } from '../check/report.js';
import { runLocalChecks } from '../check/local-checks.js';
import { VizClient } from '../viz-client.js';
import { EXIT } from '../exit-codes.js';
import { globalsOf } from '../globals.js';
import { renderStructured } from '../output.js';
import { CLI_VERSION } from '../version.js';
import { withProgress } from '../terminal.js';

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('check the cluster (--pre: before install), the control plane and its certificates, and (--proxy) the data plane; each failure names the fix')
    .option('--pre', 'only the pre-install checks')
    .option('--proxy', 'also check the meshed pods\' proxies')
    .option('--local', 'check the local demo mesh through viz instead of a cluster')
    .option('--viz-namespace <ns>', 'namespace of weft-viz, whose tap certificate is checked when it exists', 'weft-viz')
    .option('--api-addr <url>', 'viz metrics-api URL for --local (env WEFT_VIZ_API_ADDR; default http://127.0.0.1:8085)')
    .action(async (opts: { pre?: boolean; proxy?: boolean; local?: boolean; vizNamespace: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      if (opts.local) {
        // The local demo only: no probe, no port-forward.
        const results = await runLocalChecks(new VizClient(g.apiAddr, g.tapAddr), new Date());
        process.stdout.write(renderStructured(g.output, { results, ok: !failed(results) }) ?? renderCheckReport(results));
        if (failed(results)) process.exitCode = EXIT.FAILURE;
        return;
      }
      let reads: ClusterReads;
      try {
        const { kubernetesReads } = await import('../check/kubernetes-reads.js');
        reads = kubernetesReads(await g.kubeConfig());
      } catch (err) {
        reads = unreachableReads(err as Error);
      }
      const results = await withProgress('checking the cluster', () => runChecks(reads, { controlNamespace: g.weftNamespace, pre: opts.pre === true, proxy: opts.proxy === true, clientVersion: CLI_VERSION, now: new Date(), vizNamespace: opts.vizNamespace }));
      process.stdout.write(renderStructured(g.output, { results, ok: !failed(results) }) ?? renderCheckReport(results));
      if (failed(results)) process.exitCode = EXIT.FAILURE;
    });
}
