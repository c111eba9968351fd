#!/usr/bin/env node
// One weft proxy process for the benchmark, in explicit mode (no iptables):
// static identity from files, static discovery from the spec, static profiles
// (every authority on the default route: no GetProfile stream to a control
// plane that is not there, reopened every 1-2 s under load). Prints one
// `READY {"outbound":…,"inbound":…,"admin":…}` line, runs until SIGTERM.
//
//   node [--expose-gc] weft-proxy.mjs '<json spec>'
//   spec: { name, cert, key, anchors (paths), appPort?, routes: [{ authority, ip, port, identity?, inboundPort? }],
//           dist?       another build's proxy/dist (A/B runs: the baseline build copied aside),
//           origDst?    { ip, port }: every accepted connection reports it as its original destination (opaque TCP
//                       needs one; iptables would give it in a pod),
//           opaquePorts?: [port],
//           meshHttp1?: 'http1' | 'http2' | 'mux'   how HTTP/1 requests travel to peer proxies (default: the
//                       WEFT_PROXY_MESH_HTTP1 variable, as the proxy's own config reads it, else 'mux'),
//           workers?:   threads serving requests (WEFT_PROXY_WORKERS; default 1): each worker thread runs this file }
// With --expose-gc the heap is collected once before READY, so idle RSS is read after start-up garbage is gone.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { isMainThread, workerData } from 'node:worker_threads';
import { createLogger } from '@weft/common/log';

// A worker thread has no script arguments (and serves the current build only).
const spec = isMainThread ? JSON.parse(process.argv[2]) : {};
// Literal specifiers for this build, so the bench can bundle this file the way the image bundles weft.
const from = (path, thisBuild) => (spec.dist ? import(pathToFileURL(`${spec.dist}/${path}`).href) : thisBuild());
const weft = await from('index.js', () => import("/work/main/proxy/dist/index.js"));
const { startProxy, StaticIdentity, StaticDiscovery, StaticProfiles, endpoint } = weft;
if (!isMainThread) {
  // A worker thread of a proxy with `workers` > 1, as the bundled main.js runs its own.
  await weft.runProxyWorker(workerData);
} else {
  await main();
}

async function main() {
  // As main.js does first (a baseline build from before it has no such step).
  weft.installAsyncBind?.();
  const { testConfig } = await from('testing/mesh.js', () => import("/work/main/proxy/dist/testing/mesh.js"));

  const identity = new StaticIdentity(spec.name, readFileSync(spec.anchors, 'utf8'), {
    cert: readFileSync(spec.cert, 'utf8'),
    key: readFileSync(spec.key, 'utf8'),
  });
  const discovery = new StaticDiscovery();
  for (const r of spec.routes ?? []) {
    discovery.set(r.authority, [endpoint(r.ip, r.port, r.identity ? { identity: r.identity, inboundPort: r.inboundPort } : {})]);
  }
  const proxy = await startProxy({
    workerEntry: new URL(import.meta.url),
    config: testConfig(spec.name, {
      logLevel: 'warn',
      workers: spec.workers ?? 1,
      inboundAppPort: spec.appPort,
      opaquePorts: spec.opaquePorts ?? [],
      ...((spec.meshHttp1 ?? process.env.WEFT_PROXY_MESH_HTTP1) ? { meshHttp1: spec.meshHttp1 ?? process.env.WEFT_PROXY_MESH_HTTP1 } : {}),
      tracing: spec.tracing /* TraceConfig (docs/tracing.md) */,
    }),
    identity,
    discovery,
    profiles: new StaticProfiles(),
    originalDst: spec.origDst ? () => spec.origDst : null,
    log: createLogger('proxy', 'warn'),
    drainMs: 200,
  });
  // With worker threads: ready once every thread listens.
  while (proxy.notReadyReason() !== undefined) await new Promise((r) => setTimeout(r, 20));
  if (globalThis.gc) {
    await new Promise((r) => setTimeout(r, 200));
    globalThis.gc();
  }
  // As main.js does in a pod (a baseline build from before them has no such steps).
  const podLog = createLogger('proxy', 'warn');
  weft.releaseStartupPagesWhenReady?.(identity, podLog);
  weft.watchIdleMemory?.(podLog);
  process.stdout.write(`READY ${JSON.stringify(proxy.ports)}\n`);
  process.once('SIGTERM', () => void proxy.shutdown().then(() => process.exit(0)));
}
