/**
 * `node proxy/dist/main.js`: the sidecar. Configuration from the environment
 * (docs/contracts.md); SIGTERM (or POST /shutdown on the admin port) drains
 * in-flight requests and exits. With WEFT_PROXY_WORKERS > 1 the same module
 * runs each worker thread (workers/worker.ts).
 */
import { isMainThread, workerData } from 'node:worker_threads';
import { createLogger } from '@weft/common/log';
import { ConfigError } from '@weft/common/errors';
import { parseProxyEnv } from './config.js';
import { startProxy } from './proxy.js';
import { releaseStartupPagesWhenReady } from './native/startup-pages.js';
import { watchIdleMemory } from './idle-memory.js';
import { installAsyncBind } from './async-bind.js';
import { runProxyWorker } from './workers/worker.js';
import type { WorkerData } from './workers/messages.js';

async function main(): Promise<void> {
  installAsyncBind();
  let config;
  try {
    config = parseProxyEnv(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`weft-proxy: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger('proxy', config.logLevel, 'stdout', config.logFormat);
  // A bug that escaped every handler leaves the process in an unknown state: say what it was and exit, so the
  // kubelet restarts the proxy (swallowing it would keep a half-broken proxy in the request path).
  const fatal = (kind: string) => (err: unknown): void => {
    log.fatal({ err }, kind);
    process.exit(70);
  };
  process.on('uncaughtException', fatal('uncaught exception: exiting'));
  process.on('unhandledRejection', fatal('unhandled rejection: exiting'));
  // The worker threads run this module (in the image, the bundle: its own file).
  const proxy = await startProxy({ config, log, workerEntry: new URL(import.meta.url) });
  releaseStartupPagesWhenReady(proxy.identity, log);
  watchIdleMemory(log);
  const stop = (signal: string): void => {
    log.info({ signal }, 'shutting down');
    void proxy.shutdown();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // POST /shutdown drains the same way; exit once it completed.
  void proxy.closed.then(() => process.exit(0));
}

if (isMainThread) {
  main().catch((err: unknown) => {
    process.stderr.write(`weft-proxy: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
} else if ((workerData as WorkerData | undefined)?.weftProxyWorker) {
  // An error here reaches the main thread as the worker's 'error' event (workers/primary.ts): the proxy exits.
  void runProxyWorker(workerData as WorkerData);
}
