/**
 * `weft demo` (what `npm start` runs): the local weft mesh with the demo
 * app, until Ctrl-C; then everything is torn down.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { createLogger, LOG_LEVELS } from '@weft/common/log';
import { startLocalMesh } from '../demo/local-mesh.js';

interface DemoFlags {
  failureRate: number;
  latencyMs: number;
  rps: number;
  dashboardPort: number;
  apiPort: number;
  tapPort: number;
  prometheusPort: number;
  mode: 'auto' | 'netns' | 'loopback';
  tracing: boolean;
  jaegerPort: number;
  logLevel: (typeof LOG_LEVELS)[number];
  duration?: number;
}

function int(what: string, min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${what} must be an integer from ${min} to ${max}`);
    return n;
  };
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run a local weft mesh with a demo app (web → authors gRPC → books) on this machine')
    .option('--failure-rate <rate>', 'share of books requests that fail (0..1)', (raw) => {
      const n = Number(raw);
      if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('--failure-rate must be between 0 and 1');
      return n;
    }, 0.1)
    .option('--latency-ms <ms>', 'latency added by the books backend', int('--latency-ms', 0, 60_000), 20)
    .option('--rps <n>', 'requests per second from the traffic generator', int('--rps', 1, 1000), 10)
    .option('--dashboard-port <port>', 'viz dashboard port', int('--dashboard-port', 1, 65535), 8084)
    .option('--api-port <port>', 'viz metrics-api port', int('--api-port', 1, 65535), 8085)
    .option('--tap-port <port>', 'viz tap port', int('--tap-port', 1, 65535), 8088)
    .option('--prometheus-port <port>', 'Prometheus port', int('--prometheus-port', 1, 65535), 9099)
    .option('--mode <mode>', 'auto | netns (root: namespaces + iptables) | loopback', (raw) => {
      if (!['auto', 'netns', 'loopback'].includes(raw)) throw new InvalidArgumentError('--mode must be auto, netns or loopback');
      return raw;
    }, 'auto')
    .option('--log-level <level>', `control-plane log level (${LOG_LEVELS.join(', ')})`, 'warn')
    .option('--tracing', 'run Jaeger and trace every request through the proxies into it (docs/tracing.md)', false)
    .option('--jaeger-port <port>', 'Jaeger UI port (with --tracing)', int('--jaeger-port', 1, 65535), 16686)
    .option('--duration <seconds>', 'stop by itself after this many seconds (default: until Ctrl-C)', int('--duration', 1, 86_400))
    .action(async (flags: DemoFlags) => {
      const log = createLogger('weft-demo', flags.logLevel, 'stderr');
      const say = (line: string): void => void process.stderr.write(`${line}\n`);
      say('weft demo: starting identity, destination, proxies, demo apps, Prometheus and viz…');
      const mesh = await startLocalMesh({ ...flags, log, say });
      const api = `--api-addr ${mesh.apiUrl}`;
      process.stdout.write(
        [
          '',
          `weft demo is running (${mesh.mode === 'netns' ? 'network namespaces + iptables interception' : 'loopback, explicit proxy ports'}); every hop is mTLS.`,
          `  trust anchor   SHA-256 ${mesh.anchorFingerprint} (throwaway, generated now)`,
          `  dashboard      ${mesh.dashboardUrl}`,
          `  metrics-api    ${mesh.apiUrl}`,
          `  prometheus     ${mesh.prometheusUrl}`,
          ...(mesh.tracesUrl ? [`  traces         ${mesh.tracesUrl}  (Jaeger: service web, authors, books or traffic)`] : []),
          '',
          'Try, in another terminal:',
          `  npx weft viz stat deploy -n demo ${api}`,
          `  npx weft viz edges deploy -n demo ${api}`,
          `  npx weft viz tap deploy/web -n demo ${api}`,
          `  npx weft viz routes deploy/authors -n demo ${api}`,
          `  npx weft check --local ${api}`,
          '',
          flags.duration ? `Stopping by itself after ${flags.duration} s.` : 'Press Ctrl-C to stop and tear everything down.',
          '',
        ].join('\n'),
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
        if (flags.duration) setTimeout(resolve, flags.duration * 1000).unref();
      });
      say('weft demo: stopping…');
      await mesh.close();
      say('weft demo: stopped; nothing left behind.');
    });
}
