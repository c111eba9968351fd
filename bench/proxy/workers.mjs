#!/usr/bin/env node
// More than one core (WEFT_PROXY_WORKERS; docs/proxy.md, "More than one core"):
//   node bench/proxy/workers.mjs
// The one-proxy hop and the two-proxy mesh (mTLS), each with one thread pinned to the proxies' CPU (lib.mjs
// PROXY_CPU, as bench:proxy runs weft) and with two threads on CPUs 0 and 1, next to HAProxy's hop with one thread on
// the proxies' CPU and two threads on CPUs 0 and 1, and with two threads on the proxies' CPU alone (what the threads
// cost without a core to gain). wrk (1 thread, 32 connections) and the backend (HAProxy's static 200) stay on the
// other CPU (LOAD_CPU): on a two-core machine a second proxy thread
// shares its core with them, so the gain measured here is a floor of what a second core of its own gives. The same
// for the HTTP/2 hop and the unary gRPC hop (h2load, 10 connections x 10 streams, on the load's CPU; HAProxy's h2 mode and the
// bench's gRPC backend), where the proxy's CPU per request is many times the load's and the backend's. Each round runs every scenario once, in turn (WEFT_BENCH_ROUNDS, default 3; WEFT_BENCH_SECONDS
// of wrk each, default 5); the ratios are medians of the rounds' ratios. CPU per request counts every thread of the
// proxy processes (/proc/<pid>/stat).
// Last line: JSON.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CLIENT_ID,
  GRPC_SERVICE,
  H2_SERVICE,
  POD_NODE_FLAGS,
  SERVER_ID,
  SERVICE,
  backends,
  freePort,
  grpcArgs,
  h2Load,
  haproxy,
  median,
  PROXY_CPU,
  round,
  rssMiB,
  startWeft,
  weftProxyEntry,
  wrkLoad,
  benchPki,
} from './lib.mjs';

const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.WEFT_BENCH_SECONDS ?? 5);
const BOTH = '0,1';

const dir = mkdtempSync(join(tmpdir(), 'weft-workers-'));
const log = (msg) => process.stderr.write(`workers: ${msg}\n`);
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
process.on('SIGINT', () => process.exit(130));

const { root, clientCert, serverCert } = benchPki();
const certs = (c, name) => ({ name, cert: c.certPath, key: c.keyPath, anchors: root.certPath });

const backend = await backends(dir);
const entry = await weftProxyEntry(dir);
const weft = (name, spec, threads, cpu = threads > 1 ? BOTH : PROXY_CPU) =>
  startWeft(name, entry, { ...spec, workers: threads }, POD_NODE_FLAGS, {}, cpu);
const hopSpec = {
  ...certs(clientCert, CLIENT_ID),
  routes: [
    { authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backend.http1 },
    { authority: `${H2_SERVICE}:80`, ip: '127.0.0.1', port: backend.h2 },
    { authority: `${GRPC_SERVICE}:80`, ip: '127.0.0.1', port: backend.grpc },
  ],
};

/** A hop and a mesh (client and server proxy) with `threads` threads each. */
async function weftPair(threads) {
  const hop = await weft(`hop-${threads}`, hopSpec, threads);
  const server = await weft(`server-${threads}`, { ...certs(serverCert, SERVER_ID), appPort: backend.http1 }, threads);
  const client = await weft(
    `client-${threads}`,
    {
      ...certs(clientCert, CLIENT_ID),
      routes: [
        { authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backend.http1, identity: SERVER_ID, inboundPort: server.ports.inbound },
      ],
    },
    threads,
  );
  return { hop: { port: hop.ports.outbound, pids: [hop.pid], rssAtStart: rssMiB(hop.pid) }, mesh: { port: client.ports.outbound, pids: [client.pid, server.pid] } };
}

const one = await weftPair(1);
const two = await weftPair(2);
// Two threads on one core: what the threads themselves cost, with no second core to gain from.
const twoOnOne = await weft('hop-2-on-1', hopSpec, 2, PROXY_CPU);
const haproxy1 = await haproxy(dir, 'haproxy-1', PROXY_CPU, await freePort(), backend.http1);
const haproxy2 = await haproxy(dir, 'haproxy-2', BOTH, await freePort(), backend.http1, false, 2);
const haproxyH2_1 = await haproxy(dir, 'haproxy-h2-1', PROXY_CPU, await freePort(), backend.h2, true);
const haproxyH2_2 = await haproxy(dir, 'haproxy-h2-2', BOTH, await freePort(), backend.h2, true, 2);

const scenarios = {
  weft_hop_1: one.hop,
  weft_hop_2: two.hop,
  weft_hop_2_on_1_cpu: { port: twoOnOne.ports.outbound, pids: [twoOnOne.pid] },
  weft_mesh_1: one.mesh,
  weft_mesh_2: two.mesh,
  haproxy_1: { port: haproxy1.port, pids: [haproxy1.pid] },
  haproxy_2: { port: haproxy2.port, pids: [haproxy2.pid] },
};

const h2 = (port) => ['-H', `:authority: ${H2_SERVICE}`, `http://127.0.0.1:${port}/`];
const grpc = (port) => grpcArgs(backend.grpcRequest, GRPC_SERVICE, port);
Object.assign(scenarios, {
  weft_h2_hop_1: { ...one.hop, h2load: h2(one.hop.port) },
  weft_h2_hop_2: { ...two.hop, h2load: h2(two.hop.port) },
  haproxy_h2_1: { port: haproxyH2_1.port, pids: [haproxyH2_1.pid], h2load: h2(haproxyH2_1.port) },
  haproxy_h2_2: { port: haproxyH2_2.port, pids: [haproxyH2_2.pid], h2load: h2(haproxyH2_2.port) },
  weft_grpc_hop_1: { ...one.hop, h2load: grpc(one.hop.port) },
  weft_grpc_hop_2: { ...two.hop, h2load: grpc(two.hop.port) },
});

const load = ({ port, pids, h2load }, seconds = SECONDS) =>
  h2load ? h2Load(pids, { seconds, args: h2load }) : wrkLoad(port, pids, { seconds, authority: SERVICE });
log(`warm-up: ${Object.keys(scenarios).join(', ')}`);
for (const s of Object.values(scenarios)) await load(s, 2);

const rounds = [];
for (let r = 0; r < ROUNDS; r++) {
  const names = Object.keys(scenarios);
  if (r % 2 === 1) names.reverse();
  const got = {};
  for (const name of names) {
    const { rps, cpu_us_per_req } = await load(scenarios[name]);
    got[name] = { rps: Math.round(rps), cpu_us_per_req: round(cpu_us_per_req, 1) };
  }
  const ratio = (a, b) => round(got[a].rps / got[b].rps);
  Object.assign(got, {
    ratio_hop_2_vs_1: ratio('weft_hop_2', 'weft_hop_1'),
    ratio_mesh_2_vs_1: ratio('weft_mesh_2', 'weft_mesh_1'),
    ratio_haproxy_2_vs_1: ratio('haproxy_2', 'haproxy_1'),
    ratio_hop_2_vs_haproxy_2: ratio('weft_hop_2', 'haproxy_2'),
    ratio_h2_hop_2_vs_1: ratio('weft_h2_hop_2', 'weft_h2_hop_1'),
    ratio_haproxy_h2_2_vs_1: ratio('haproxy_h2_2', 'haproxy_h2_1'),
    ratio_grpc_hop_2_vs_1: ratio('weft_grpc_hop_2', 'weft_grpc_hop_1'),
    cpu_ratio_h2_hop_2_vs_1: round(got.weft_h2_hop_2.cpu_us_per_req / got.weft_h2_hop_1.cpu_us_per_req),
    cpu_ratio_hop_2_vs_1: round(got.weft_hop_2.cpu_us_per_req / got.weft_hop_1.cpu_us_per_req),
    ratio_hop_2_on_1_cpu_vs_1: ratio('weft_hop_2_on_1_cpu', 'weft_hop_1'),
    cpu_ratio_hop_2_on_1_cpu_vs_1: round(got.weft_hop_2_on_1_cpu.cpu_us_per_req / got.weft_hop_1.cpu_us_per_req),
  });
  log(`round ${r + 1}: ${JSON.stringify(got)}`);
  rounds.push(got);
}

// Memory: the hop's RSS once ready (no forced GC, as a pod starts) and idle again after all the rounds' load (25 s
// without traffic: two of the proxy's idle checks, after which each thread has given back what the load grew), one
// thread against two.
log('memory: 25 s idle');
await new Promise((r) => setTimeout(r, 25_000));
const memory = {
  hop_1: { rss_at_start_mib: round(one.hop.rssAtStart, 1), rss_idle_after_load_mib: round(rssMiB(one.hop.pids[0]), 1) },
  hop_2: { rss_at_start_mib: round(two.hop.rssAtStart, 1), rss_idle_after_load_mib: round(rssMiB(two.hop.pids[0]), 1) },
};

const med = (key) => median(rounds.map((r) => r[key]));
const medOf = (name) => ({
  rps: median(rounds.map((r) => r[name].rps)),
  cpu_us_per_req: median(rounds.map((r) => r[name].cpu_us_per_req)),
});
const result = {
  ...Object.fromEntries(Object.keys(scenarios).map((n) => [n, medOf(n)])),
  ratio_hop_2_vs_1: med('ratio_hop_2_vs_1'),
  ratio_mesh_2_vs_1: med('ratio_mesh_2_vs_1'),
  ratio_haproxy_2_vs_1: med('ratio_haproxy_2_vs_1'),
  ratio_hop_2_vs_haproxy_2: med('ratio_hop_2_vs_haproxy_2'),
  ratio_h2_hop_2_vs_1: med('ratio_h2_hop_2_vs_1'),
  ratio_haproxy_h2_2_vs_1: med('ratio_haproxy_h2_2_vs_1'),
  ratio_grpc_hop_2_vs_1: med('ratio_grpc_hop_2_vs_1'),
  cpu_ratio_h2_hop_2_vs_1: med('cpu_ratio_h2_hop_2_vs_1'),
  cpu_ratio_hop_2_vs_1: med('cpu_ratio_hop_2_vs_1'),
  ratio_hop_2_on_1_cpu_vs_1: med('ratio_hop_2_on_1_cpu_vs_1'),
  cpu_ratio_hop_2_on_1_cpu_vs_1: med('cpu_ratio_hop_2_on_1_cpu_vs_1'),
  memory,
  rounds,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
