/**
 * The `weft` command: one commander program; each verb lives in
 * `commands/<verb>.ts` and registers itself here. Global flags follow
 * kubectl (--kubeconfig, --context, -n, -o) and are parsed in globals.ts.
 */
import { Command, Option } from 'commander';
import { registerCheck } from './commands/check.js';
import { registerDemo } from './commands/demo.js';
import { registerDiagnostics } from './commands/diagnostics.js';
import { registerIdentity } from './commands/identity.js';
import { registerInject } from './commands/inject.js';
import { registerInstall } from './commands/install.js';
import { registerVersion } from './commands/version.js';
import { registerViz } from './commands/viz.js';
import { OUTPUT_FORMATS } from './output.js';
import { CLI_VERSION } from './version.js';

export function buildProgram(): Command {
  const program = new Command('weft')
    .description('weft: a service mesh for Kubernetes')
    .version(CLI_VERSION, '-V, --version', 'print the client version')
    .option('--kubeconfig <path>', 'path to the kubeconfig file')
    .option('--context <name>', 'kubeconfig context to use')
    .option('-n, --namespace <ns>', 'namespace of the object (default: the context\'s namespace, else "default")')
    .option('--weft-namespace <ns>', 'namespace of the weft control plane', 'weft')
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS))
    .showHelpAfterError()
    // Usage errors become exceptions so main.ts maps them to exit code 2.
    .exitOverride();
  registerInstall(program);
  registerCheck(program);
  registerInject(program);
  registerIdentity(program);
  registerVersion(program);
  registerViz(program);
  registerDiagnostics(program);
  registerDemo(program);
  return program;
}
