/**
 * The `weft` command: one commander program; each verb lives in
 * `commands/<verb>.ts` and registers itself here. Global flags follow
 * kubectl (--kubeconfig, --context, -n, -o) and are parsed in globals.ts.
 */
import { Command, Option } from 'commander';
import { registerCheck } from './commands/check.js';
import { registerCompletion } from './commands/completion.js';
import { registerCrds } from './commands/crds.js';
import { registerDiagnostics } from './commands/diagnostics.js';
import { registerIdentity } from './commands/identity.js';
import { registerInject } from './commands/inject.js';
import { registerInstall } from './commands/install.js';
import { registerVersion } from './commands/version.js';
import { registerViz } from './commands/viz.js';
import { OUTPUT_FORMATS } from './output.js';
import { CLI_VERSION } from './version.js';

/**
 * Builds the program for `argv`. The demo verb pulls in the whole local mesh
 * (proxy, identity, destination, viz), about a second of imports, so it is
 * loaded only when the command line may need it (`demo`, help).
 */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
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
  registerCrds(program);
  registerCompletion(program);
  const args = argv.slice(2);
  if (args.length === 0 || args.some((a) => a === 'demo' || a === 'help' || a === '--help' || a === '-h')) {
    const { registerDemo } = await import('./commands/demo.js');
    registerDemo(program);
  }
  return program;
}
