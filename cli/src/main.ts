/** The `weft` process: run the program, turn errors into a message and a documented exit code. */
import { CommanderError } from 'commander';
import { buildProgram } from './program.js';
import { exitCodeFor } from './exit-codes.js';
import { exitQuietlyWhenOutputCloses } from './broken-pipe.js';

exitQuietlyWhenOutputCloses();

try {
  await (await buildProgram(process.argv)).parseAsync(process.argv);
} catch (err) {
  // Commander already printed its usage error or help text.
  if (!(err instanceof CommanderError)) process.stderr.write(`weft: ${(err as Error).message}\n`);
  process.exitCode = exitCodeFor(err);
}
