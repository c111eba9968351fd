/**
 * Jaeger all-in-one (OTLP receiver, in-memory store, query API) for the
 * tracing tests (the proxy's and the control plane's): the binary is built from the module pinned in
 * test/e2e/tools/jaeger/go.mod and cached by version
 * (test/e2e/lib/jaeger-build.mjs; CI builds it before the tests), started on
 * free loopback ports, and queried back through its HTTP API.
 */
import { after, before } from 'node:test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unusedPort } from './ports.js';

// common/dist/testing → the repository root.
const ROOT = new URL('../../../', import.meta.url).pathname;

/** The cached Jaeger binary, built (cold: minutes) when missing. */
export function jaegerBinary(): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'test/e2e/lib/jaeger-build.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`building Jaeger failed (exit ${r.status}); see test/e2e/lib/jaeger-build.mjs`);
  return (JSON.parse(r.stdout) as { paths: { jaeger: string } }).paths.jaeger;
}

export interface JaegerSpan {
  readonly traceID: string;
  readonly spanID: string;
  readonly operationName: string;
  /** Epoch microseconds. */
  readonly startTime: number;
  /** Microseconds. */
  readonly duration: number;
  readonly references: ReadonlyArray<{ refType: string; spanID: string; traceID: string }>;
  readonly tags: ReadonlyArray<{ key: string; type: string; value: unknown }>;
  readonly processID: string;
}

export interface JaegerTrace {
  readonly traceID: string;
  readonly spans: readonly JaegerSpan[];
  readonly processes: Readonly<Record<string, { serviceName: string; tags: ReadonlyArray<{ key: string; value: unknown }> }>>;
}

export class Jaeger {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    /** OTLP/HTTP traces URL. */
    readonly otlpUrl: string,
    readonly queryUrl: string,
    private readonly output: () => string,
  ) {}

  static async start(bin = jaegerBinary()): Promise<Jaeger> {
    const [otlp, http, grpc] = [await unusedPort(), await unusedPort(), await unusedPort()];
    const dir = mkdtempSync(join(tmpdir(), 'weft-jaeger-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: mem
    http:
      endpoint: 127.0.0.1:${http}
    grpc:
      endpoint: 127.0.0.1:${grpc}
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlp}
processors:
  batch:
    timeout: 50ms
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`,
    );
    const child = spawn(bin, ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)));
    child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)));
    const jaeger = new Jaeger(child, dir, `http://127.0.0.1:${otlp}/v1/traces`, `http://127.0.0.1:${http}`, () => out);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`Jaeger exited (${child.exitCode}):\n${out}`);
      const ready = await Promise.all([
        fetch(`${jaeger.queryUrl}/api/services`).then((r) => r.ok, () => false),
        fetch(jaeger.otlpUrl, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(0) }).then((r) => r.ok, () => false),
      ]);
      if (ready.every(Boolean)) return jaeger;
      if (Date.now() > deadline) {
        await jaeger.stop();
        throw new Error(`Jaeger did not become ready within 60 s:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The trace as Jaeger's query API returns it, or undefined when it holds no such trace. */
  async trace(traceId: string): Promise<JaegerTrace | undefined> {
    const rsp = await fetch(`${this.queryUrl}/api/traces/${traceId}`);
    if (rsp.status === 404) return undefined;
    if (!rsp.ok) throw new Error(`Jaeger query answered ${rsp.status}: ${await rsp.text()}`);
    const body = (await rsp.json()) as { data?: JaegerTrace[] };
    return body.data?.[0];
  }

  /** The traces holding spans of `service` (optionally one operation), newest first. */
  async traces(service: string, operation?: string): Promise<JaegerTrace[]> {
    const q = new URLSearchParams({ service, limit: '100', lookback: '1h' });
    if (operation !== undefined) q.set('operation', operation);
    const rsp = await fetch(`${this.queryUrl}/api/traces?${q}`);
    if (!rsp.ok) throw new Error(`Jaeger query answered ${rsp.status}: ${await rsp.text()}`);
    return ((await rsp.json()) as { data?: JaegerTrace[] }).data ?? [];
  }

  /** Polls until the trace holds at least `spans` spans (Jaeger batches what it receives). */
  async waitForTrace(traceId: string, spans: number, timeoutMs = 20_000): Promise<JaegerTrace> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = await this.trace(traceId);
      if (t && t.spans.length >= spans) return t;
      if (Date.now() > deadline) throw new Error(`trace ${traceId}: ${t?.spans.length ?? 0} spans in Jaeger after ${timeoutMs} ms, expected ${spans}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  get log(): string {
    return this.output();
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A span's tag value by key. */
export function tag(span: JaegerSpan, key: string): unknown {
  return span.tags.find((t) => t.key === key)?.value;
}

/** The span's parent span id (CHILD_OF reference), if any. */
export function parentOf(span: JaegerSpan): string | undefined {
  return span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;
}

/** A test file's Jaeger, and what its tests started that must stop before it. */
export interface JaegerForFile {
  /** The running Jaeger (from the file's `before` hook on). */
  readonly jaeger: Jaeger;
  /** Stopped after the file's tests, last deferred first, before Jaeger itself. */
  defer(...stops: Array<() => Promise<unknown>>): void;
}

/** One Jaeger for a test file: started before its tests, stopped after them and after what they `defer`red. */
export function jaegerForFile(): JaegerForFile {
  let running: Jaeger | undefined;
  const stops: Array<() => Promise<unknown>> = [];
  before(async () => {
    running = await Jaeger.start();
  });
  after(async () => {
    for (const stop of stops.reverse()) await stop();
    await running?.stop();
  });
  return {
    get jaeger(): Jaeger {
      if (!running) throw new Error('Jaeger is not started: use it inside a test');
      return running;
    },
    defer: (...more) => void stops.push(...more),
  };
}
