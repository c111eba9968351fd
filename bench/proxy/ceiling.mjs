#!/usr/bin/env node
// How close weft's proxy comes to what Node itself allows, in one run: for each scenario the least a Node proxy does
// (bench/proxy/minimal/) and weft run side by side on the same backends, in paired rounds (the order alternating, so
// a drift in machine load favours neither):
//   http1_hop  wrk → minimal/http1-forward.mjs (head re-serialized, responses copied)  | weft's hop → HAProxy's 200
//   mesh       wrk → minimal/tls-pipe.mjs client ══mTLS══▶ tls-pipe.mjs server (bytes only, no HTTP)
//                                                           | weft client ══mTLS (weft.mux)══▶ weft server → the same backend
//   mesh_mux   the same, through minimal/tls-mux.mjs: every connection on one mTLS connection, each event-loop turn's
//              frames in one write (what a multiplexed hop between proxies allows)  | the same weft mesh
//   h2_hop     h2load (10 connections x 10 streams) → minimal/h2-forward.mjs          | weft's hop → HAProxy's h2 mode
//   grpc_hop   h2load unary gRPC calls → minimal/h2-forward.mjs                       | weft's hop → grpc-backend.mjs
// The proxies (both processes of a mesh) run on one CPU, load and backends on the other (lib.mjs PROXY_CPU, LOAD_CPU); the minimal ones with the same
// Node flags as a pod's proxy (POD_NODE_FLAGS) and weft bundled as the image ships it. Per scenario and round: rps and
// CPU µs per request of the proxy processes (/proc/<pid>/stat); `rps_ratio` and `cpu_ratio` are the medians over the
// rounds of weft / node, and `cpu_split_us_per_req` each process's CPU per request in user space and in the kernel
// (medians). Each round also runs the same protocol's HAProxy hop (one thread, the proxies' CPU; the mesh is compared with the
// HTTP/1 hop, as the issue's targets are): `node_vs_haproxy` and `weft_vs_haproxy` are the medians of the rounds' rps
// ratios. `npm run bench:proxy` is the record against HAProxy; this says how much of the gap is Node's.
// WEFT_BENCH_ROUNDS (default 3), WEFT_BENCH_SECONDS (default 5). Last line: JSON.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLIENT_ID, GRPC_SERVICE, H2_SERVICE, POD_NODE, POD_NODE_FLAGS, SERVER_ID, SERVICE, backends, freePort, grpcArgs, h2Load, haproxy, median, onCpu, PROXY_CPU, round, start, startWeft, weftProxyEntry, wrkLoad, benchPki } from './lib.mjs';

const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.WEFT_BENCH_SECONDS ?? 5);

const dir = mkdtempSync(join(tmpdir(), 'weft-ceiling-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
process.on('SIGINT', () => process.exit(130));
const log = (msg) => process.stderr.write(`ceiling: ${msg}\n`);

/** A minimal Node proxy (bench/proxy/minimal/<script>) on the proxies' CPU with a pod's Node flags; its pid and port. */
async function minimal(script, args) {
  const argv = [POD_NODE, ...POD_NODE_FLAGS, new URL(`./minimal/${script}`, import.meta.url).pathname, ...args.map(String)];
  const { child, match } = await start(script, onCpu(PROXY_CPU, argv), /READY (\d+)/);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.on('exit', (code, signal) => log(`${script} ${args[0]} exited (${code ?? signal}): ${stderr}`));
  return { pid: child.pid, port: Number(match[1]) };
}

const backend = await backends(dir);
const { pki, root, clientCert, serverCert } = benchPki();

// Node's side.
const http1Forward = await minimal('http1-forward.mjs', [backend.http1]);
const pipeServer = await minimal('tls-pipe.mjs', ['server', backend.http1, serverCert.certPath, serverCert.keyPath, root.certPath]);
const pipeClient = await minimal('tls-pipe.mjs', ['client', pipeServer.port, clientCert.certPath, clientCert.keyPath, root.certPath]);
const muxServer = await minimal('tls-mux.mjs', ['server', backend.http1, serverCert.certPath, serverCert.keyPath, root.certPath]);
const muxClient = await minimal('tls-mux.mjs', ['client', muxServer.port, clientCert.certPath, clientCert.keyPath, root.certPath]);
const h2Forward = await minimal('h2-forward.mjs', [backend.h2]);
const grpcForward = await minimal('h2-forward.mjs', [backend.grpc]);

// HAProxy's side (HTTP mode, one thread, the proxies' CPU): the hops the issue's targets are ratios of.
const haproxyHop = await haproxy(dir, 'haproxy-hop', PROXY_CPU, await freePort(), backend.http1);
const haproxyH2 = await haproxy(dir, 'haproxy-h2', PROXY_CPU, await freePort(), backend.h2, true);
const haproxyGrpc = await haproxy(dir, 'haproxy-grpc', PROXY_CPU, await freePort(), backend.grpc, true);

// weft's side.
const entry = await weftProxyEntry(dir);
const certs = (c, name) => ({ name, cert: c.certPath, key: c.keyPath, anchors: root.certPath });
const hop = await startWeft('weft-hop', entry, {
  ...certs(clientCert, CLIENT_ID),
  routes: [
    { authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backend.http1 },
    { authority: `${H2_SERVICE}:80`, ip: '127.0.0.1', port: backend.h2 },
    { authority: `${GRPC_SERVICE}:80`, ip: '127.0.0.1', port: backend.grpc },
  ],
});
const server = await startWeft('weft-server', entry, { ...certs(serverCert, SERVER_ID), appPort: backend.http1 });
const client = await startWeft('weft-client', entry, {
  ...certs(clientCert, CLIENT_ID),
  routes: [{ authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backend.http1, identity: SERVER_ID, inboundPort: server.ports.inbound }],
});
pki.dispose();

const wrk = (port, pids) => wrkLoad(port, pids, { seconds: SECONDS, authority: SERVICE });
const h2 = (port, pids) => h2Load(pids, { seconds: SECONDS, args: ['-H', `:authority: ${H2_SERVICE}`, `http://127.0.0.1:${port}/`] });
const grpc = (port, pids) => h2Load(pids, { seconds: SECONDS, args: grpcArgs(backend.grpcRequest, GRPC_SERVICE, port) });
// `haproxy`: the HAProxy hop of the same protocol (the mesh's targets are ratios of its single HTTP/1 hop, as in
// run.mjs: the mesh scenario reads the http1_hop scenario's HAProxy run of the same round).
const scenarios = {
  http1_hop: { node: () => wrk(http1Forward.port, [http1Forward.pid]), weft: () => wrk(hop.ports.outbound, [hop.pid]), haproxy: () => wrk(haproxyHop.port, [haproxyHop.pid]) },
  mesh: { node: () => wrk(pipeClient.port, [pipeClient.pid, pipeServer.pid]), weft: () => wrk(client.ports.outbound, [client.pid, server.pid]) },
  mesh_mux: { node: () => wrk(muxClient.port, [muxClient.pid, muxServer.pid]), weft: () => wrk(client.ports.outbound, [client.pid, server.pid]) },
  h2_hop: { node: () => h2(h2Forward.port, [h2Forward.pid]), weft: () => h2(hop.ports.outbound, [hop.pid]), haproxy: () => h2(haproxyH2.port, [haproxyH2.pid]) },
  grpc_hop: { node: () => grpc(grpcForward.port, [grpcForward.pid]), weft: () => grpc(hop.ports.outbound, [hop.pid]), haproxy: () => grpc(haproxyGrpc.port, [haproxyGrpc.pid]) },
};
const SIDES = ['node', 'weft', 'haproxy'];

// Warm-up (JIT, connection pools), not counted.
for (const s of Object.values(scenarios)) for (const side of SIDES) await s[side]?.();

const rounds = Object.fromEntries(Object.keys(scenarios).map((k) => [k, { node: [], weft: [], haproxy: [] }]));
for (let i = 0; i < ROUNDS; i++) {
  for (const side of i % 2 === 0 ? SIDES : [...SIDES].reverse()) {
    for (const [k, s] of Object.entries(scenarios)) rounds[k][side].push(s[side] ? await s[side]() : undefined);
  }
  rounds.mesh.haproxy[i] = rounds.http1_hop.haproxy[i];
  rounds.mesh_mux.haproxy[i] = rounds.http1_hop.haproxy[i];
  log(`round ${i + 1}: ${JSON.stringify(Object.fromEntries(Object.entries(rounds).map(([k, r]) => [k, { node: r.node[i], weft: r.weft[i], haproxy: r.haproxy[i] }])))}`);
}

const perSide = (r, f) => Object.fromEntries(SIDES.map((side) => [side, r[side].map(f)]));
const rpsRatio = (a, b) => round(median(a.map((x, i) => x.rps / b[i].rps)));
const summary = (r) => ({
  rps: perSide(r, (x) => Math.round(x.rps)),
  cpu_us_per_req: perSide(r, (x) => round(x.cpu_us_per_req, 1)),
  rps_ratio: rpsRatio(r.weft, r.node),
  cpu_ratio: round(median(r.weft.map((x, i) => x.cpu_us_per_req / r.node[i].cpu_us_per_req))),
  // Both against HAProxy's hop of the same round: how far Node's least proxy itself gets towards the targets.
  node_vs_haproxy: rpsRatio(r.node, r.haproxy),
  weft_vs_haproxy: rpsRatio(r.weft, r.haproxy),
  // Each process's CPU per request in user space and in the kernel, medians of the rounds (a mesh: client, server).
  cpu_split_us_per_req: { node: splitMedians(r.node), weft: splitMedians(r.weft), haproxy: splitMedians(r.haproxy) },
});
const splitMedians = (runs) =>
  runs[0].per_process.map((_, p) => ({ user: median(runs.map((x) => x.per_process[p].user)), sys: median(runs.map((x) => x.per_process[p].sys)) }));
console.log(JSON.stringify(Object.fromEntries(Object.entries(rounds).map(([k, r]) => [k, summary(r)]))));
process.exit(0);
