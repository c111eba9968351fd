/**
 * `weft demo --tracing`: Jaeger all-in-one (OTLP/HTTP receiver, in-memory
 * store, UI) for the demo proxies' spans (docs/tracing.md). The binary is
 * `WEFT_JAEGER_BIN`, else `jaeger` on PATH, else the repository's cached
 * build from its Go module (test/e2e/lib/jaeger-build.mjs; minutes when cold).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { spawnLogged, waitReady, type Teardown } from './teardown.js';

const REPO = new URL('../../../../', import.meta.url).pathname;

export interface DemoTracing {
  /** `host:port` of the OTLP/HTTP receiver, as the proxies reach it. */
  readonly collector: string;
  /** Jaeger's UI and query API. */
  readonly uiUrl: string;
}

function jaegerBinary(say: (line: string) => void): string {
  if (process.env.WEFT_JAEGER_BIN) return process.env.WEFT_JAEGER_BIN;
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(join(dir, 'jaeger'))) return join(dir, 'jaeger');
  const script = join(REPO, 'test/e2e/lib/jaeger-build.mjs');
  if (!existsSync(script)) throw new Error('--tracing needs Jaeger: set WEFT_JAEGER_BIN or put `jaeger` on PATH');
  say('weft demo: finding (or building, minutes when cold) Jaeger from its Go module…');
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`--tracing: building Jaeger failed (exit ${r.status}); set WEFT_JAEGER_BIN to a Jaeger v2 binary`);
  return (JSON.parse(r.stdout) as { paths: { jaeger: string } }).paths.jaeger;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Starts Jaeger with its OTLP receiver on `host` (where the proxies reach the host) and its UI on loopback. */
export async function startJaeger(
  host: string,
  uiPort: number,
  c: { dir: string; log: Logger; teardown: Teardown; say: (line: string) => void },
): Promise<DemoTracing> {
  const bin = jaegerBinary(c.say);
  const [otlp, grpc] = [await freePort(host), await freePort('127.0.0.1')];
  const config = join(c.dir, 'jaeger.yaml');
  writeFileSync(
    config,
    [
      'service:',
      '  extensions: [jaeger_storage, jaeger_query]',
      '  pipelines:',
      '    traces: { receivers: [otlp], processors: [batch], exporters: [jaeger_storage_exporter] }',
      '  telemetry: { metrics: { level: none }, logs: { level: warn } }',
      'extensions:',
      `  jaeger_query: { storage: { traces: mem }, http: { endpoint: "127.0.0.1:${uiPort}" }, grpc: { endpoint: "127.0.0.1:${grpc}" } }`,
      '  jaeger_storage: { backends: { mem: { memory: { max_traces: 20000 } } } }',
      `receivers: { otlp: { protocols: { http: { endpoint: "${host}:${otlp}" } } } }`,
      'processors: { batch: {} }',
      'exporters: { jaeger_storage_exporter: { trace_storage: mem } }',
      '',
    ].join('\n'),
  );
  spawnLogged('jaeger', [bin, '--config', config], process.env, c.log, c.teardown);
  const uiUrl = `http://127.0.0.1:${uiPort}`;
  await waitReady('jaeger', `${uiUrl}/api/services`);
  return { collector: `${host}:${otlp}`, uiUrl };
}
