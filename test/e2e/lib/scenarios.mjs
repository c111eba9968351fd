// Runs what an e2e entry point was asked to run against an environment that is
// up: the command after `--exec --`, or the scenario files with node:test. On
// failure the tails of the named logs are printed.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { tail } from './procs.mjs';

/** Resolves the exit code of the command or test run. */
export function runAgainst(cluster, { argv, scenarios, repoRoot, runDir, logsOnFailure, log }) {
  const env = { ...process.env, WEFT_E2E_KUBECONFIG: cluster.adminKubeconfig, WEFT_E2E_STATE: cluster.statePath, KUBECONFIG: cluster.adminKubeconfig };
  delete env.WEFT_E2E_LOCKED;
  const sep = argv.indexOf('--');
  const cmd =
    argv.includes('--exec') && sep >= 0
      ? argv.slice(sep + 1)
      : [process.execPath, '--test', '--test-reporter=tap', '--test-concurrency=1', '--test-timeout=900000', ...scenarios()];
  return new Promise((resolve) => {
    const child = spawn(cmd[0], cmd.slice(1), { stdio: 'inherit', env, cwd: repoRoot });
    child.on('exit', (code, sig) => resolve(code ?? (sig ? 1 : 0)));
    child.on('error', (err) => {
      log(`e2e: ${cmd[0]}: ${err.message}`);
      resolve(1);
    });
  }).then((code) => {
    if (code !== 0) for (const { file, lines } of logsOnFailure) log(`--- ${file} (tail)\n${tail(join(runDir, file), lines)}`);
    return code;
  });
}
