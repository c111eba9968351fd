/**
 * A real Prometheus (Debian `prometheus`) for tests: own config, own TSDB in a
 * temporary directory, listening on a free loopback port; stopped and deleted
 * by `stop()`.
 */
import { waitFor } from '@weft/common/poll';
import { unusedPort } from '@weft/common/testing/ports';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrometheusClient } from '../metrics/prometheus.js';

export interface TestPrometheus {
  readonly url: string;
  readonly client: PrometheusClient;
  /** Waits until every `weft-proxy` target was scraped after `since`. */
  scrapedAfter(since: Date, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Polls the real condition until it holds (common's waitFor, 100 ms apart). */
export function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  return waitFor(what, fn, { timeoutMs, intervalMs: 100 });
}

export async function startPrometheus(configYaml: string, expectedTargets: number): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-prom-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, configYaml);
  let child: ChildProcess | undefined;
  let url = '';
  let stderr = '';
  for (let attempt = 0; attempt < 3 && !url; attempt++) {
    const port = await unusedPort();
    const p = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    p.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    const client = new PrometheusClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
    const ready = await Promise.race([
      poll('Prometheus ready', async () => ((await client.ready()) ? true : undefined), 60_000),
      exited.then(() => false),
    ]);
    if (ready) {
      child = p;
      url = `http://127.0.0.1:${port}`;
    }
  }
  if (!child) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`prometheus did not start:\n${stderr}`);
  }
  const client = new PrometheusClient({ url, timeoutMs: 5000 });
  const proc = child;
  return {
    url,
    client,
    async scrapedAfter(since, timeoutMs = 60_000) {
      await poll(
        `${expectedTargets} proxy scrapes after ${since.toISOString()}`,
        async () => {
          // timestamp() of a plain selector is the scrape time (of an expression it would be "now").
          const scraped = await client.query('timestamp(up{job="weft-proxy"})');
          const up = await client.query('up{job="weft-proxy"} == 1');
          return up.length >= expectedTargets && scraped.filter((x) => x.value > since.getTime() / 1000).length >= expectedTargets ? true : undefined;
        },
        timeoutMs,
      );
    },
    async stop() {
      if (proc.exitCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await gone;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
