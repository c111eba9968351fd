/**
 * Entry for the demo apps, one process each:
 *   node cli/dist/demo/apps/main.js books --port 8082 --failure-rate 0.1 --latency-ms 20
 *   node cli/dist/demo/apps/main.js authors --port 8081 --books http://books...:8082 [--via 127.0.0.1:4140]
 *   node cli/dist/demo/apps/main.js web --port 8080 --authors http://authors...:8081 [--via ...]
 *   node cli/dist/demo/apps/main.js traffic --web http://web...:8080 --rps 10 [--via ...]
 */
import { Command, InvalidArgumentError } from 'commander';
import { startBooks } from './books.js';
import { startAuthors } from './authors.js';
import { startWeb } from './web.js';
import { startTraffic } from './traffic.js';
import { parseUpstream } from './upstream.js';

function int(what: string, min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${what} must be an integer ${min}-${max}`);
    return n;
  };
}

function rate(raw: string): number {
  const n = Number(raw);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a number between 0 and 1');
  return n;
}

const program = new Command('weft-demo-app').showHelpAfterError();
program
  .command('books')
  .requiredOption('--port <port>', 'listen port', int('port', 1, 65535))
  .option('--failure-rate <rate>', 'share of requests answered 500', rate, 0)
  .option('--latency-ms <ms>', 'added latency per request', int('latency', 0, 60_000), 0)
  .action((o: { port: number; failureRate: number; latencyMs: number }) => void startBooks(o));
program
  .command('authors')
  .requiredOption('--port <port>', 'listen port', int('port', 1, 65535))
  .requiredOption('--books <url>', 'books service URL')
  .option('--via <addr>', 'proxy outbound address (loopback mode)')
  .action((o: { port: number; books: string; via?: string }) => void startAuthors({ port: o.port, books: parseUpstream(o.books, o.via) }));
program
  .command('web')
  .requiredOption('--port <port>', 'listen port', int('port', 1, 65535))
  .requiredOption('--authors <url>', 'authors service URL')
  .option('--via <addr>', 'proxy outbound address (loopback mode)')
  .action((o: { port: number; authors: string; via?: string }) => void startWeb({ port: o.port, authors: parseUpstream(o.authors, o.via) }));
program
  .command('traffic')
  .requiredOption('--web <url>', 'web service URL')
  .option('--rps <n>', 'requests per second', int('rps', 1, 10_000), 10)
  .option('--via <addr>', 'proxy outbound address (loopback mode)')
  .action((o: { web: string; rps: number; via?: string }) => void startTraffic({ web: parseUpstream(o.web, o.via), rps: o.rps }));

process.on('SIGTERM', () => process.exit(0));
await program.parseAsync(process.argv);
