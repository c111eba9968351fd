/**
 * The `weft` command: one commander program; each verb lives in
 * `commands/<verb>.ts` and registers itself here.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { registerDemo } from './commands/demo.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('weft')
    .description('weft: a service mesh for Kubernetes')
    .version(version, '-V, --version', 'print the client version')
    .option('--kubeconfig <path>', 'path to the kubeconfig file')
    .option('--context <name>', 'kubeconfig context to use')
    .option('-n, --namespace <ns>', 'namespace of the object')
    .option('--weft-namespace <ns>', 'namespace of the weft control plane', 'weft')
    .showHelpAfterError();
  registerDemo(program);
  return program;
}
