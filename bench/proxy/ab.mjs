#!/usr/bin/env node
// A/B of two proxy builds, or of two sets of Node flags, in one run:
//   node bench/proxy/ab.mjs <baseline proxy/dist | current>
// Copy a baseline aside first (its imports resolve through a node_modules link):
//   mkdir -p /tmp/weft-base/proxy && cp -r proxy/dist proxy/package.json /tmp/weft-base/proxy/ \
//     && ln -sfn "$PWD/node_modules" /tmp/weft-base/node_modules
// `current` runs this build on both sides, for comparing flags: WEFT_AB_FLAGS_BASE and WEFT_AB_FLAGS_NEW
// (space-separated Node options; default: a pod's, POD_NODE_FLAGS in lib.mjs, on both sides), and
// WEFT_AB_ENV_BASE / WEFT_AB_ENV_NEW (space-separated NAME=value added to a side's environment), and WEFT_AB_NODE_BASE /
// WEFT_AB_NODE_NEW (a side's Node executable, for comparing runtimes; default: the image's, lib.mjs POD_NODE). Each build is bundled
// into one file as the image ships it (WEFT_AB_UNBUNDLED_BASE=1 / WEFT_AB_UNBUNDLED_NEW=1 run a side as compiled).
// Both builds run side by side on the same backend (HAProxy's static 200, the load's CPU), pinned to the proxies' CPU (lib.mjs); each round puts
// the same wrk load (1 thread, 32 connections) on the baseline then on the new build, for the one-proxy hop and the
// two-proxy mesh (mTLS between the proxies), then h2load (prior knowledge, 10 connections x 10 streams) through the hop
// to an HTTP/2 backend (HAProxy's h2 mode, the load's CPU), and unary gRPC calls the same way (h2load POSTs of one gRPC message)
// through the hop to bench/proxy/grpc-backend.mjs (the load's CPU), which answers with grpc-status in trailers, and opaque TCP
// through a third proxy (one connection writing 64 KiB buffers to a sink whose port is declared opaque: MiB/s, CPU per MiB). On a busy
// shared machine absolute numbers swing; the ratios of rps and of CPU time per request (/proc/<pid>/stat) within a
// round are what to compare. Idle RSS is read after start-up with one forced GC; the hop's peak RSS at 2,000 rps
// (h2load, 10 s) is read before any full-speed load.
// Last line: JSON.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CLIENT_ID, GRPC_SERVICE, H2_SERVICE, POD_NODE, POD_NODE_FLAGS, SERVER_ID, SERVICE, backends, fixedRate, grpcArgs, h2Load, median, round, rssMiB, startWeft, tcpLoad, tcpSink, weftProxyEntry, wrkLoad, benchPki } from './lib.mjs';

const baselineArg = process.argv[2];
if (!baselineArg) {
  console.error('usage: node bench/proxy/ab.mjs <baseline proxy/dist | current>');
  process.exit(2);
}
const baseline = baselineArg === 'current' ? undefined : resolve(baselineArg);
const flagsOf = (v) => (v === undefined ? [...POD_NODE_FLAGS] : v.split(/\s+/).filter(Boolean));
const FLAGS = { base: flagsOf(process.env.WEFT_AB_FLAGS_BASE), new: flagsOf(process.env.WEFT_AB_FLAGS_NEW) };
const envOf = (v) => Object.fromEntries((v ?? '').split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const ENV = { base: envOf(process.env.WEFT_AB_ENV_BASE), new: envOf(process.env.WEFT_AB_ENV_NEW) };
const NODE = { base: process.env.WEFT_AB_NODE_BASE || POD_NODE, new: process.env.WEFT_AB_NODE_NEW || POD_NODE };
const RSS_RATE = 2000;
const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.WEFT_BENCH_SECONDS ?? 5);

const dir = mkdtempSync(join(tmpdir(), 'weft-ab-'));
const log = (msg) => process.stderr.write(`ab: ${msg}\n`);
const entries = {};
/** One proxy of build `b` ('base' or 'new') with its flags; --expose-gc lets it collect once before READY. */
async function weft(b, name, spec) {
  entries[b] ??= await weftProxyEntry(dir, { dist: b === 'base' ? baseline : undefined, bundled: process.env[`WEFT_AB_UNBUNDLED_${b.toUpperCase()}`] !== '1' });
  return startWeft(name, entries[b], spec, ['--expose-gc', ...FLAGS[b]], ENV[b], undefined, NODE[b]);
}

/** wrk at full speed for SECONDS; rps and CPU µs per request of `pids`. */
const load = (port, pids) => wrkLoad(port, pids, { seconds: SECONDS, authority: SERVICE });
/** h2load at full speed for SECONDS through the hop to the HTTP/2 backend. */
const loadH2 = (port, pids) => h2Load(pids, { seconds: SECONDS, args: ['-H', `:authority: ${H2_SERVICE}`, `http://127.0.0.1:${port}/`] });
/** Unary gRPC calls at full speed for SECONDS through the hop (h2load, 10 connections x 10 streams). */
const loadGrpc = (port, pids) => h2Load(pids, { seconds: SECONDS, args: grpcArgs(backend.grpcRequest, GRPC_SERVICE, port) });

/** Opaque TCP for SECONDS through the TCP hop: one connection writing 64 KiB buffers; MiB/s and CPU µs per MiB of `pids`. */
const loadTcp = (port, pids) => tcpLoad(port, pids, SECONDS);

/** Latency at 1,000 rps (h2load over HTTP/1.1, 10 clients): p50/p99 in ms, the first second left out. */
const latency = (port) => fixedRate({ port, rate: 1000, seconds: Math.max(3, SECONDS), authority: SERVICE, logFile: join(dir, `lat-${port}.log`) });

process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
process.on('SIGINT', () => process.exit(130));

const { pki, root, clientCert, serverCert } = benchPki();

const backend = await backends(dir);
const sinkPort = await tcpSink();

const procs = {};
for (const b of ['base', 'new']) {
  const certs = (c, name) => ({ name, cert: c.certPath, key: c.keyPath, anchors: root.certPath });
  const hop = await weft(b, `${b}-hop`, { ...certs(clientCert, CLIENT_ID), routes: [
    { authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backend.http1 },
    { authority: `${H2_SERVICE}:80`, ip: '127.0.0.1', port: backend.h2 },
    { authority: `${GRPC_SERVICE}:80`, ip: '127.0.0.1', port: backend.grpc },
  ] });
  const server = await weft(b, `${b}-server`, { ...certs(serverCert, SERVER_ID), appPort: backend.http1 });
  const client = await weft(b, `${b}-client`, {
    ...certs(clientCert, CLIENT_ID),
    routes: [{ authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backend.http1, identity: SERVER_ID, inboundPort: server.ports.inbound }],
  });
  // Opaque TCP through one proxy: the sink's port declared opaque, reported as every connection's original destination.
  const tcp = await weft(b, `${b}-tcp-hop`, { ...certs(clientCert, CLIENT_ID), origDst: { ip: '127.0.0.1', port: sinkPort }, opaquePorts: [sinkPort], routes: [] });
  procs[b] = { hop, server, client, tcp, rss_idle_mib: round(rssMiB(hop.pid), 1) };
}
pki.dispose();

// Peak RSS of each hop at 2,000 rps, before any full-speed load has grown its heap (the "RSS under load").
for (const b of ['base', 'new']) {
  const p = procs[b].hop;
  procs[b].rss_at_2000_rps = await fixedRate({ port: p.ports.outbound, rate: RSS_RATE, seconds: 10, authority: SERVICE, logFile: join(dir, `rss-${b}.log`), pid: p.pid });
  log(`${b} hop at ${RSS_RATE} rps: ${JSON.stringify(procs[b].rss_at_2000_rps)}`);
}

// Warm-up (JIT, connection pools), not counted.
for (const b of ['base', 'new']) {
  await load(procs[b].hop.ports.outbound, [procs[b].hop.pid]);
  await load(procs[b].client.ports.outbound, [procs[b].client.pid]);
  await loadH2(procs[b].hop.ports.outbound, [procs[b].hop.pid]);
  await loadGrpc(procs[b].hop.ports.outbound, [procs[b].hop.pid]);
  await loadTcp(procs[b].tcp.ports.outbound, []);
}
const rounds = { hop: { base: [], new: [] }, mesh: { base: [], new: [] }, h2_hop: { base: [], new: [] }, grpc_hop: { base: [], new: [] }, tcp_hop: { base: [], new: [] } };
for (let i = 0; i < ROUNDS; i++) {
  // ABBA order, so a drift in machine load does not favour the build that always goes first.
  for (const b of i % 2 === 0 ? ['base', 'new'] : ['new', 'base']) {
    const p = procs[b];
    rounds.hop[b].push(await load(p.hop.ports.outbound, [p.hop.pid]));
    rounds.mesh[b].push(await load(p.client.ports.outbound, [p.client.pid, p.server.pid]));
    rounds.h2_hop[b].push(await loadH2(p.hop.ports.outbound, [p.hop.pid]));
    rounds.grpc_hop[b].push(await loadGrpc(p.hop.ports.outbound, [p.hop.pid]));
    rounds.tcp_hop[b].push(await loadTcp(p.tcp.ports.outbound, [p.tcp.pid]));
  }
  const of = (k) => ({ base: rounds[k].base[i], new: rounds[k].new[i] });
  log(`round ${i + 1}: ${JSON.stringify({ hop: of('hop'), mesh: of('mesh'), h2_hop: of('h2_hop'), grpc_hop: of('grpc_hop'), tcp_hop: of('tcp_hop') })}`);
}

const lat = { hop: { base: [], new: [] }, mesh: { base: [], new: [] } };
for (let i = 0; i < Math.min(ROUNDS, 2); i++) {
  for (const b of i % 2 === 0 ? ['base', 'new'] : ['new', 'base']) {
    lat.hop[b].push(await latency(procs[b].hop.ports.outbound));
    lat.mesh[b].push(await latency(procs[b].client.ports.outbound));
  }
}

const summary = (s) => ({
  rps: { base: s.base.map((r) => Math.round(r.rps)), new: s.new.map((r) => Math.round(r.rps)) },
  cpu_us_per_req: { base: s.base.map((r) => round(r.cpu_us_per_req, 1)), new: s.new.map((r) => round(r.cpu_us_per_req, 1)) },
  // Per round new/base, then the median over rounds.
  rps_ratio: round(median(s.new.map((r, i) => r.rps / s.base[i].rps))),
  cpu_ratio: round(median(s.new.map((r, i) => r.cpu_us_per_req / s.base[i].cpu_us_per_req))),
});
console.log(
  JSON.stringify({
    hop: summary(rounds.hop),
    mesh: summary(rounds.mesh),
    h2_hop: summary(rounds.h2_hop),
    grpc_hop: summary(rounds.grpc_hop),
    tcp_hop: {
      mib_per_s: { base: rounds.tcp_hop.base.map((r) => r.mib_per_s), new: rounds.tcp_hop.new.map((r) => r.mib_per_s) },
      cpu_us_per_mib: { base: rounds.tcp_hop.base.map((r) => r.cpu_us_per_mib), new: rounds.tcp_hop.new.map((r) => r.cpu_us_per_mib) },
      mib_ratio: round(median(rounds.tcp_hop.new.map((r, i) => r.mib_per_s / rounds.tcp_hop.base[i].mib_per_s))),
      cpu_ratio: round(median(rounds.tcp_hop.new.map((r, i) => r.cpu_us_per_mib / rounds.tcp_hop.base[i].cpu_us_per_mib))),
    },
    latency_at_1000_rps: lat,
    flags: FLAGS,
    node: { base: execFileSync(NODE.base, ['--version']).toString().trim(), new: execFileSync(NODE.new, ['--version']).toString().trim() },
    rss_idle_mib: { base: procs.base.rss_idle_mib, new: procs.new.rss_idle_mib },
    rss_at_2000_rps_mib: {
      peak: { base: procs.base.rss_at_2000_rps.rss_peak_mib, new: procs.new.rss_at_2000_rps.rss_peak_mib },
      end: { base: procs.base.rss_at_2000_rps.rss_end_mib, new: procs.new.rss_at_2000_rps.rss_end_mib },
    },
    rss_after_load_mib: { base: round(rssMiB(procs.base.hop.pid), 1), new: round(rssMiB(procs.new.hop.pid), 1) },
  }),
);
process.exit(0);
