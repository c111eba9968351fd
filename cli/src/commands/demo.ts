/**
 * `weft demo`: the local mesh demo (ARCHITECTURE §8), what `npm start` runs.
 */
import type { Command } from 'commander';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run a local weft mesh with a demo app on this machine')
    .action(() => {
      process.stderr.write(
        'weft demo: the local mesh demo (control plane + three meshed demo services) is not implemented yet.\n' +
          'What exists today: the api contracts and the common library; see README.md for the status of each part.\n',
      );
    });
}
