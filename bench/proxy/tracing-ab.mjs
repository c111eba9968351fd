#!/usr/bin/env node
// What tracing costs the mesh, paired: two meshes of this build side by side (wrk → client proxy ═mTLS═▶ server
// proxy → the bench's HTTP/1 backend, as run.mjs's mesh), each with its own tracing setting, measured in turn in
// ABBA-ordered rounds of wrk at full speed (1 thread, 32 connections):
//   node bench/proxy/tracing-ab.mjs
// WEFT_TRACE_AB_BASE / WEFT_TRACE_AB_NEW: `off`, a sampling rate for both proxies (`0.01`), or `client:server` rates
// (`0:0.01`: only the server proxy starts traces) — default `off` against `0.01`. WEFT_AB_ENV_BASE / WEFT_AB_ENV_NEW:
// space-separated NAME=value added to a side's proxies' environment. WEFT_BENCH_ROUNDS (6), WEFT_BENCH_SECONDS (5).
// Spans go to a collector stand-in (HAProxy answering 200 to every POST, keeping its connections, on the load's CPU), as
// in run.mjs.
// Per round and side: rps, each proxy's user and kernel CPU µs per request and its read and write system calls per
// request (/proc/<pid>/io); at the end each proxy's spans exported and dropped (its /metrics) and its RSS. Last line:
// JSON, with the medians of the per-round ratios new/base.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLIENT_ID, SERVER_ID, SERVICE, backends, collectorStandIn, freePort, LOAD_CPU, median, round, rssMiB, startWeft, weftProxyEntry, wrkLoad, benchPki } from './lib.mjs';

const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 6);
const SECONDS = Number(process.env.WEFT_BENCH_SECONDS ?? 5);
const SIDES = { base: process.env.WEFT_TRACE_AB_BASE ?? 'off', new: process.env.WEFT_TRACE_AB_NEW ?? '0.01' };
const envOf = (v) => Object.fromEntries((v ?? '').split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const ENV = { base: envOf(process.env.WEFT_AB_ENV_BASE), new: envOf(process.env.WEFT_AB_ENV_NEW) };
const log = (msg) => process.stderr.write(`tracing-ab: ${msg}\n`);

/** `off` → undefined; `r` → [r, r]; `c:s` → [c, s]. */
function rates(setting) {
  if (setting === 'off') return undefined;
  const parts = setting.split(':').map(Number);
  const [c, s] = parts.length === 1 ? [parts[0], parts[0]] : parts;
  if (![c, s].every((r) => Number.isFinite(r) && r >= 0 && r <= 1)) throw new Error(`tracing-ab: "${setting}" is not off, a rate, or client:server rates`);
  return [c, s];
}

const dir = mkdtempSync(join(tmpdir(), 'weft-tracing-ab-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const entry = await weftProxyEntry(dir);
const { pki, root, clientCert, serverCert } = benchPki();
const backend = await backends(dir);
const collectorPort = await freePort();
await collectorStandIn(dir, LOAD_CPU, collectorPort);

const meshes = {};
for (const side of ['base', 'new']) {
  const r = rates(SIDES[side]);
  const tracing = (rate) => (r === undefined ? undefined : { collectorUrl: `http://127.0.0.1:${collectorPort}/v1/traces`, sampleRate: rate, resource: { 'service.name': 'bench' }, maxQueue: 2048, flushIntervalMs: 1000 });
  const certs = (c, name) => ({ name, cert: c.certPath, key: c.keyPath, anchors: root.certPath });
  const server = await startWeft(`${side}-server`, entry, { ...certs(serverCert, SERVER_ID), appPort: backend.http1, tracing: tracing(r?.[1]) }, undefined, ENV[side]);
  const client = await startWeft(`${side}-client`, entry, {
    ...certs(clientCert, CLIENT_ID),
    tracing: tracing(r?.[0]),
    routes: [{ authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backend.http1, identity: SERVER_ID, inboundPort: server.ports.inbound }],
  }, undefined, ENV[side]);
  meshes[side] = { client, server, rounds: [] };
}
pki.dispose();

const syscalls = (pid) => {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { reads: Number(/syscr: (\d+)/.exec(io)[1]), writes: Number(/syscw: (\d+)/.exec(io)[1]) };
};

// Warm-up (JIT, connections), not counted.
for (const side of ['base', 'new']) await wrkLoad(meshes[side].client.ports.outbound, [], { seconds: 3, authority: SERVICE });
for (let i = 0; i < ROUNDS; i++) {
  for (const side of i % 2 === 0 ? ['base', 'new'] : ['new', 'base']) {
    const { client, server, rounds } = meshes[side];
    const before = [syscalls(client.pid), syscalls(server.pid)];
    const r = await wrkLoad(client.ports.outbound, [client.pid, server.pid], { seconds: SECONDS, authority: SERVICE });
    const per = (k) => {
      const now = syscalls([client.pid, server.pid][k]);
      return { ...r.per_process[k], reads: round((now.reads - before[k].reads) / r.requests), writes: round((now.writes - before[k].writes) / r.requests) };
    };
    rounds.push({ rps: Math.round(r.rps), cpu_us_per_req: round(r.cpu_us_per_req, 1), client: per(0), server: per(1) });
  }
  log(`round ${i + 1}: ${JSON.stringify({ base: meshes.base.rounds[i], new: meshes.new.rounds[i] })}`);
}

await new Promise((resolve) => setTimeout(resolve, 1500)); // one flush interval: the last batches are sent
const metric = async (p, name) => {
  const text = await (await globalThis.fetch(`http://127.0.0.1:${p.ports.admin}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name)).reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
};
const ratio = (f) => round(median(meshes.new.rounds.map((r, i) => f(r) / f(meshes.base.rounds[i]))));
const out = { settings: SIDES, env: ENV };
for (const side of ['base', 'new']) {
  const { client, server, rounds } = meshes[side];
  out[side] = {
    rounds,
    spans_exported: (await metric(client, 'trace_spans_exported_total')) + (await metric(server, 'trace_spans_exported_total')),
    spans_dropped: (await metric(client, 'trace_spans_dropped_total')) + (await metric(server, 'trace_spans_dropped_total')),
    rss_mib: { client: round(rssMiB(client.pid), 1), server: round(rssMiB(server.pid), 1) },
  };
}
out.rps_ratio = ratio((r) => r.rps);
out.cpu_ratio = ratio((r) => r.cpu_us_per_req);
out.client_cpu_ratio = ratio((r) => r.client.user + r.client.sys);
out.server_cpu_ratio = ratio((r) => r.server.user + r.server.sys);
console.log(JSON.stringify(out));
process.exit(0);
