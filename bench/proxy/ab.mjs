#!/usr/bin/env node
// A/B of two proxy builds, or of two sets of Node flags, in one run:
//   node bench/proxy/ab.mjs <baseline proxy/dist | current>
// Copy a baseline aside first (its imports resolve through a node_modules link):
//   mkdir -p /tmp/weft-base/proxy && cp -r proxy/dist proxy/package.json /tmp/weft-base/proxy/ \
//     && ln -sfn "$PWD/node_modules" /tmp/weft-base/node_modules
// `current` runs this build on both sides, for comparing flags: WEFT_AB_FLAGS_BASE and WEFT_AB_FLAGS_NEW
// (space-separated Node options; default: a pod's, POD_NODE_FLAGS in lib.mjs, on both sides). Each build is bundled
// into one file as the image ships it (WEFT_AB_UNBUNDLED_BASE=1 / WEFT_AB_UNBUNDLED_NEW=1 run a side as compiled).
// Both builds run side by side on the same backend (HAProxy's static 200, CPU 0), pinned to CPU 1; each round puts
// the same wrk load (1 thread, 32 connections) on the baseline then on the new build, for the one-proxy hop and the
// two-proxy mesh (mTLS between the proxies), then h2load (prior knowledge, 10 connections x 10 streams) through the hop
// to an HTTP/2 backend (HAProxy's h2 mode, CPU 0), and unary gRPC calls the same way (h2load POSTs of one gRPC message)
// through the hop to bench/proxy/grpc-backend.mjs (CPU 0), which answers with grpc-status in trailers. On a busy
// shared machine absolute numbers swing; the ratios of rps and of CPU time per request (/proc/<pid>/stat) within a
// round are what to compare. Idle RSS is read after start-up with one forced GC; the hop's peak RSS at 2,000 rps
// (h2load, 10 s) is read before any full-speed load.
// Last line: JSON.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TestPki } from '@weft/common/testing/pki';
import { POD_NODE_FLAGS, cpuMicros, fixedRate, median, onCpu, round, rssMiB, run, start, startWeft, waitPort, weftProxyEntry, freePort } from './lib.mjs';

const baselineArg = process.argv[2];
if (!baselineArg) {
  console.error('usage: node bench/proxy/ab.mjs <baseline proxy/dist | current>');
  process.exit(2);
}
const baseline = baselineArg === 'current' ? undefined : resolve(baselineArg);
const flagsOf = (v) => (v === undefined ? [...POD_NODE_FLAGS] : v.split(/\s+/).filter(Boolean));
const FLAGS = { base: flagsOf(process.env.WEFT_AB_FLAGS_BASE), new: flagsOf(process.env.WEFT_AB_FLAGS_NEW) };
const RSS_RATE = 2000;
const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.WEFT_BENCH_SECONDS ?? 5);
const SERVICE = 'bench.svc';
const H2_SERVICE = 'h2.bench.svc';
const GRPC_SERVICE = 'grpc.bench.svc';
const CLIENT_ID = 'client.bench.serviceaccount.identity.weft.cluster.local';
const SERVER_ID = 'server.bench.serviceaccount.identity.weft.cluster.local';

const dir = mkdtempSync(join(tmpdir(), 'weft-ab-'));
const log = (msg) => process.stderr.write(`ab: ${msg}\n`);
const entries = {};
/** One proxy of build `b` ('base' or 'new') with its flags; --expose-gc lets it collect once before READY. */
async function weft(b, name, spec) {
  entries[b] ??= await weftProxyEntry(dir, { dist: b === 'base' ? baseline : undefined, bundled: process.env[`WEFT_AB_UNBUNDLED_${b.toUpperCase()}`] !== '1' });
  return startWeft(name, entries[b], spec, ['--expose-gc', ...FLAGS[b]]);
}

/** wrk at full speed for SECONDS; rps and CPU µs per request of `pids`. */
async function load(port, pids) {
  const cpu0 = pids.reduce((s, p) => s + cpuMicros(p), 0);
  const out = await run(onCpu(0, ['wrk', '-t1', '-c32', `-d${SECONDS}s`, '-H', `Host: ${SERVICE}`, `http://127.0.0.1:${port}/`]));
  const cpu = pids.reduce((s, p) => s + cpuMicros(p), 0) - cpu0;
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (errors) throw new Error(`wrk saw ${errors[1]} error responses:\n${out}`);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]), cpu_us_per_req: cpu / requests };
}

/** h2load at full speed for SECONDS through the hop to the HTTP/2 backend; rps and CPU µs per request of `pids`. */
async function loadH2(port, pids, args = ['-H', `:authority: ${H2_SERVICE}`, `http://127.0.0.1:${port}/`]) {
  const cpu0 = pids.reduce((s, p) => s + cpuMicros(p), 0);
  const out = await run(onCpu(0, ['h2load', '-c', '10', '-m', '10', '-D', String(SECONDS), ...args]));
  const cpu = pids.reduce((s, p) => s + cpuMicros(p), 0) - cpu0;
  const m = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const done = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  if (!m || !done) throw new Error(`h2load output not understood:\n${out}`);
  if (Number(done[3]) > 0 || Number(done[4]) > 0) throw new Error(`h2load: ${done[3]} failed, ${done[4]} errored:\n${out}`);
  return { rps: Number(m[1]), cpu_us_per_req: cpu / Number(done[2]) };
}

/** Unary gRPC calls at full speed for SECONDS through the hop (h2load, 10 connections x 10 streams); calls/s and CPU µs per call. */
const loadGrpc = (port, pids) => loadH2(port, pids, ['-d', grpcRequestFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-H', `:authority: ${GRPC_SERVICE}`, `http://127.0.0.1:${port}/bench.Echo/Unary`]);

/** Latency at 1,000 rps (h2load over HTTP/1.1, 10 clients): p50/p99 in ms, the first second left out. */
const latency = (port) => fixedRate({ port, rate: 1000, seconds: Math.max(3, SECONDS), authority: SERVICE, logFile: join(dir, `lat-${port}.log`) });

process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
process.on('SIGINT', () => process.exit(130));

const pki = new TestPki();
const root = pki.cert({ subject: '/CN=weft bench root', ca: true });
const leaf = (id) => pki.cert({ subject: `/CN=${id}`, dns: [id], issuer: root });
const clientCert = leaf(CLIENT_ID);
const serverCert = leaf(SERVER_ID);

const backendPort = await freePort();
const cfg = join(dir, 'backend.cfg');
writeFileSync(cfg, `global\n  nbthread 1\n  maxconn 4096\ndefaults\n  mode http\n  timeout client 30s\n  timeout server 30s\n  timeout connect 5s\nfrontend backend\n  bind 127.0.0.1:${backendPort}\n  http-request return status 200 content-type text/plain string "ok"\n`);
const { child: haproxy } = await start('backend', onCpu(0, ['haproxy', '-db', '-f', cfg]));
await waitPort(backendPort, haproxy);
const h2BackendPort = await freePort();
const h2Cfg = join(dir, 'backend-h2.cfg');
writeFileSync(h2Cfg, `global\n  nbthread 1\n  maxconn 4096\ndefaults\n  mode http\n  timeout client 30s\n  timeout server 30s\n  timeout connect 5s\nfrontend backend\n  bind 127.0.0.1:${h2BackendPort} proto h2\n  http-request return status 200 content-type text/plain string "ok"\n`);
const { child: haproxyH2 } = await start('backend-h2', onCpu(0, ['haproxy', '-db', '-f', h2Cfg]));
await waitPort(h2BackendPort, haproxyH2);
const { match: grpcReady } = await start('backend-grpc', onCpu(0, [process.execPath, new URL('./grpc-backend.mjs', import.meta.url).pathname]), /READY (\d+)/);
const grpcBackendPort = Number(grpcReady[1]);
// gRPC message framing: not compressed, 4-byte length, the message (protobuf field 1 = "hi").
const grpcRequestFile = join(dir, 'grpc-request.bin');
writeFileSync(grpcRequestFile, Buffer.from([0, 0, 0, 0, 4, 0x0a, 0x02, 0x68, 0x69]));

const procs = {};
for (const b of ['base', 'new']) {
  const certs = (c, name) => ({ name, cert: c.certPath, key: c.keyPath, anchors: root.certPath });
  const hop = await weft(b, `${b}-hop`, { ...certs(clientCert, CLIENT_ID), routes: [
    { authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backendPort },
    { authority: `${H2_SERVICE}:80`, ip: '127.0.0.1', port: h2BackendPort },
    { authority: `${GRPC_SERVICE}:80`, ip: '127.0.0.1', port: grpcBackendPort },
  ] });
  const server = await weft(b, `${b}-server`, { ...certs(serverCert, SERVER_ID), appPort: backendPort });
  const client = await weft(b, `${b}-client`, {
    ...certs(clientCert, CLIENT_ID),
    routes: [{ authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backendPort, identity: SERVER_ID, inboundPort: server.ports.inbound }],
  });
  procs[b] = { hop, server, client, rss_idle_mib: round(rssMiB(hop.pid), 1) };
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
}
const rounds = { hop: { base: [], new: [] }, mesh: { base: [], new: [] }, h2_hop: { base: [], new: [] }, grpc_hop: { base: [], new: [] } };
for (let i = 0; i < ROUNDS; i++) {
  // ABBA order, so a drift in machine load does not favour the build that always goes first.
  for (const b of i % 2 === 0 ? ['base', 'new'] : ['new', 'base']) {
    const p = procs[b];
    rounds.hop[b].push(await load(p.hop.ports.outbound, [p.hop.pid]));
    rounds.mesh[b].push(await load(p.client.ports.outbound, [p.client.pid, p.server.pid]));
    rounds.h2_hop[b].push(await loadH2(p.hop.ports.outbound, [p.hop.pid]));
    rounds.grpc_hop[b].push(await loadGrpc(p.hop.ports.outbound, [p.hop.pid]));
  }
  const of = (k) => ({ base: rounds[k].base[i], new: rounds[k].new[i] });
  log(`round ${i + 1}: ${JSON.stringify({ hop: of('hop'), mesh: of('mesh'), h2_hop: of('h2_hop'), grpc_hop: of('grpc_hop') })}`);
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
    latency_at_1000_rps: lat,
    flags: FLAGS,
    rss_idle_mib: { base: procs.base.rss_idle_mib, new: procs.new.rss_idle_mib },
    rss_at_2000_rps_mib: {
      peak: { base: procs.base.rss_at_2000_rps.rss_peak_mib, new: procs.new.rss_at_2000_rps.rss_peak_mib },
      end: { base: procs.base.rss_at_2000_rps.rss_end_mib, new: procs.new.rss_at_2000_rps.rss_end_mib },
    },
    rss_after_load_mib: { base: round(rssMiB(procs.base.hop.pid), 1), new: round(rssMiB(procs.new.hop.pid), 1) },
  }),
);
process.exit(0);
