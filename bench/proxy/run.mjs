#!/usr/bin/env node
// `npm run bench:proxy`: weft's proxy against HAProxy 2.6 on the same backend,
// all on loopback, in one run. Scenarios:
//   direct     wrk → backend
//   haproxy    wrk → HAProxy (HTTP mode, 1 thread) → backend
//   weft_hop   wrk → weft outbound (plaintext to an unmeshed endpoint) → backend
//   weft_mesh  wrk → weft client proxy ══mTLS, HTTP/1.1 on streams of one weft.mux session══▶ weft server proxy → backend
//   weft_mesh_http2  the same, HTTP/1 carried inside the proxies' HTTP/2 session (WEFT_PROXY_MESH_HTTP1=http2)
//   weft_mesh_pool   the same, HTTP/1.1 on pooled weft.tcp connections, one request at a time on each (the default
//                    before weft.mux; WEFT_PROXY_MESH_HTTP1=http1; in the paired rounds only)
//   tracing    the mesh again with tracing off, at 1 % and at 100 % sampling (throughput, CPU, and each proxy's RSS after)
//   grpc       unary gRPC calls (h2load, 10 connections x 10 streams, POST with a gRPC frame) to an h2c backend
//              answering one message and grpc-status in trailers: direct, HAProxy (h2), weft hop, weft mesh;
//              throughput, CPU per call and latency at 1,000 calls/s
//   tcp        opaque TCP, one connection writing 64 KiB buffers for a few seconds to a sink that counts them:
//              direct, HAProxy (mode tcp), one weft proxy (plain), two weft proxies (mTLS weft.tcp); MiB/s and CPU
//              per MiB, medians of WEFT_BENCH_TCP_ROUNDS paired rounds (default 3). Opaque TCP needs an original destination: the bench proxies report the sink as every
//              connection's (iptables would in a pod)
// Every scenario first runs its own load for WARMUP_SECONDS, not counted (HAProxy and
// direct too): weft's JIT compiles its hot paths in the first seconds of load, which a
// proxy in a pod does once in its life, so counting them measured the compiler.
// Throughput (rps) comes from wrk at full speed; p50/p99 from h2load at fixed
// rates of 1,000 and 200 rps (per-request log), so latency is compared at equal
// load. h2load's 10 clients send together (bursts of 10 every 10 ms at 1,000
// rps); the _spread fields measure 1,000 rps again from 10 independent
// clients, each in its own phase (lib.mjs fixedRate). CPU per request is the proxy processes' utime+stime (/proc/<pid>/stat)
// over the throughput phase divided by the requests served. The ratios to HAProxy come from paired rounds: HAProxy,
// the hop and the mesh measured in turn in each round (below); the latency a mesh hop adds, from paired rounds of
// direct and the mesh. HTTP/2: h2load
// with prior knowledge (10 connections x 10 streams) against HAProxy's h2 mode
// and weft's hop and mesh, to an h2 backend.
// The proxy under test (HAProxy or weft; both weft proxies for the mesh) is
// pinned to one CPU, the load generator and the backend to the other (lib.mjs
// PROXY_CPU and LOAD_CPU: 1 and 0 unless WEFT_BENCH_PROXY_CPU=0). weft runs as
// a pod runs it: one file bundled by images/lib/bundle.mjs, with the Node
// flags the injector writes (POD_NODE_FLAGS; idle RSS and RSS under load
// depend on both); WEFT_BENCH_UNBUNDLED=1 runs proxy/dist as compiled,
// WEFT_BENCH_NODE_FLAGS (space-separated) replaces the flags.
// Memory: weft_rss_start_mib 1 s after the hop proxy started; weft_rss_idle_mib after
// IDLE_SECONDS without traffic (V8's memory reducer gives back the start-up's young
// generation about 10 s after the allocations stop: the steady state of a sidecar that
// idles; weft_memory.idle is taken then); weft_rss_2000_rps_mib
// its peak while serving 2,000 rps for FIXED_SECONDS (before any full-speed
// load; _end_mib: at the end of it), weft_rss_load_mib its peak under wrk at
// full speed, weft_memory where the RSS goes (process.memoryUsage()) idle and
// after the 2,000 rps; weft_rss_idle_after_load_mib the hop's RSS at the end, idle
// again after every full-speed scenario it served, _anon_: its anonymous part.
// machine_stalls: while the hop idles, an idle process pinned to each CPU counts the times the machine took the CPU
// away for more than 3 ms (stall-probe.mjs), the floor under the p99s.
// The last line printed is one JSON object (format: docs/interception.md).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLIENT_ID, GRPC_SERVICE, H2_SERVICE, POD_NODE, POD_NODE_FLAGS, SERVER_ID, SERVICE, collectorStandIn, haproxy as startHaproxy, haproxyMesh, cpuCounter, cpuMicros, grpcArgs, grpcRequestFile, fixedRate, freePort, LOAD_CPU, median, onCpu, peakRss, probeStalls, PROXY_CPU, round, rssMiB, run, start, startWeft, tcpLoad, waitPort, weftProxyEntry, benchPki } from './lib.mjs';

const THROUGHPUT_SECONDS = Number(process.env.WEFT_BENCH_SECONDS ?? 8);
const WARMUP_SECONDS = Number(process.env.WEFT_BENCH_WARMUP_SECONDS ?? 3);
const FIXED_RATES = [1000, 200];
const FIXED_SECONDS = Number(process.env.WEFT_BENCH_FIXED_SECONDS ?? 10);
const IDLE_SECONDS = Number(process.env.WEFT_BENCH_IDLE_SECONDS ?? 15);
const CONNECTIONS = 32;
const TCP_SECONDS = Number(process.env.WEFT_BENCH_TCP_SECONDS ?? 4);
const TCP_ROUNDS = Number(process.env.WEFT_BENCH_TCP_ROUNDS ?? 3);

const dir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
const NODE_FLAGS = process.env.WEFT_BENCH_NODE_FLAGS === undefined ? [...POD_NODE_FLAGS] : process.env.WEFT_BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean);
const log = (msg) => process.stderr.write(`bench: ${msg}\n`);

function need(tool, args = ['-V']) {
  const r = spawnSync(tool, args, { stdio: 'ignore' });
  if (r.error) {
    console.error(`bench:proxy needs ${tool} (Debian: wrk, nghttp2-client, haproxy); install it or run \`bash ci/system-deps.sh\` as root`);
    process.exit(2);
  }
}

/** HAProxy (HTTP mode, one thread) on `cpu`: a hop to `backendPort`, or a backend answering 200 itself; its pid. */
async function haproxy(name, cpu, port, backendPort, h2 = false) {
  return (await startHaproxy(dir, name, cpu, port, backendPort, h2)).pid;
}

let weftEntry;
/** One bench proxy as a pod runs weft: bundled as the image ships it, with the injector's Node flags. */
async function weft(name, spec) {
  weftEntry ??= await weftProxyEntry(dir, { bundled: process.env.WEFT_BENCH_UNBUNDLED !== '1' });
  return startWeft(name, weftEntry, spec, NODE_FLAGS);
}

/** A Node helper of the bench (gRPC backend, TCP sink) on the load generator's CPU; resolves with the port it printed. */
async function helper(name, script, args = []) {
  const { child, match } = await start(name, onCpu(LOAD_CPU, [process.execPath, new URL(script, import.meta.url).pathname, ...args]), /READY (\d+)/);
  return { pid: child.pid, port: Number(match[1]) };
}

/** Max throughput: wrk, one thread, keep-alive connections (`seconds`: the warm-up's, not counted). */
async function throughput(port, seconds = THROUGHPUT_SECONDS) {
  const out = await run(onCpu(LOAD_CPU, ['wrk', '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '-H', `Host: ${SERVICE}`, `http://127.0.0.1:${port}/`]));
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (errors) throw new Error(`wrk saw ${errors[1]} error responses:\n${out}`);
  return { rps, requests };
}

/** Max HTTP/2 throughput: h2load with prior knowledge, 10 connections x 10 concurrent streams. */
async function h2Throughput(port, seconds = THROUGHPUT_SECONDS) {
  const out = await run(onCpu(LOAD_CPU, ['h2load', '-c', '10', '-m', '10', '-D', String(seconds), '-H', `:authority: ${H2_SERVICE}`, `http://127.0.0.1:${port}/`]));
  const m = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const done = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  if (!m || !done) throw new Error(`h2load output not understood:\n${out}`);
  if (Number(done[3]) > 0 || Number(done[4]) > 0) throw new Error(`h2load: ${done[3]} failed, ${done[4]} errored:\n${out}`);
  return { rps: Number(m[1]), requests: Number(done[2]) };
}

/** Latency at a fixed rate: h2load over HTTP/1.1, 10 clients sharing the rate, per-request log (lib.mjs). */
const fixedRateLatency = (port, rate, spread = false) =>
  fixedRate({ port, rate, seconds: FIXED_SECONDS, authority: SERVICE, logFile: join(dir, `h2load-${port}-${rate}${spread ? '-spread' : ''}.log`), spread });

/** Throughput (with CPU per request of `pids`, the proxies under test), then latency at each fixed rate. */
async function scenario(name, port, pids = []) {
  log(`${name}: ${WARMUP_SECONDS}s warm-up, ${THROUGHPUT_SECONDS}s max throughput, then ${FIXED_SECONDS}s at each of ${FIXED_RATES.join(', ')} rps and at 1000 rps spread out`);
  if (WARMUP_SECONDS > 0) await throughput(port, WARMUP_SECONDS);
  const cpu0 = pids.reduce((sum, pid) => sum + cpuMicros(pid), 0);
  const { rps, requests } = await throughput(port);
  const cpu = pids.reduce((sum, pid) => sum + cpuMicros(pid), 0) - cpu0;
  const result = { rps: Math.round(rps), ...(pids.length ? { cpu_us_per_req: round(cpu / requests, 1) } : {}) };
  for (const rate of FIXED_RATES) {
    const { p50_ms, p99_ms } = await fixedRateLatency(port, rate);
    Object.assign(result, rate === 1000 ? { p50_ms, p99_ms } : { [`p50_ms_at_${rate}`]: p50_ms, [`p99_ms_at_${rate}`]: p99_ms });
  }
  // 1,000 rps again, the requests arriving one at a time instead of in bursts of 10 (lib.mjs fixedRate).
  const spread = await fixedRateLatency(port, 1000, true);
  Object.assign(result, { p50_ms_spread: spread.p50_ms, p99_ms_spread: spread.p99_ms });
  log(`${name}: ${JSON.stringify(result)}`);
  return result;
}

async function h2Scenario(name, port, pids = []) {
  if (WARMUP_SECONDS > 0) await h2Throughput(port, WARMUP_SECONDS);
  const cpu0 = pids.reduce((sum, pid) => sum + cpuMicros(pid), 0);
  const { rps, requests } = await h2Throughput(port);
  const cpu = pids.reduce((sum, pid) => sum + cpuMicros(pid), 0) - cpu0;
  const result = { rps: Math.round(rps), ...(pids.length ? { cpu_us_per_req: round(cpu / requests, 1) } : {}) };
  log(`${name} (HTTP/2): ${JSON.stringify(result)}`);
  return result;
}

// ── gRPC ────────────────────────────────────────────────────────────────
const grpcRequest = grpcRequestFile(dir);
const grpcTo = (port) => grpcArgs(grpcRequest, GRPC_SERVICE, port);

/** One call the way a gRPC client sees it: HTTP 200 and grpc-status 0 in trailers (h2load checks only the HTTP status). */
async function grpcCall(port) {
  const { default: http2 } = await import('node:http2');
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': '/bench.Echo/Unary', ':authority': GRPC_SERVICE, 'content-type': 'application/grpc', te: 'trailers' });
      let status;
      stream.on('response', (h) => (status = h[':status']));
      stream.on('trailers', (t) => resolve({ status, grpcStatus: t['grpc-status'] }));
      stream.on('error', reject);
      stream.resume();
      stream.end(readFileSync(grpcRequest));
    });
  } finally {
    session.close();
  }
}

/** gRPC unary: throughput and CPU per call, then latency at 1,000 calls/s (10 connections, one call at a time each). */
async function grpcScenario(name, port, pids = []) {
  const check = await grpcCall(port);
  if (check.status !== 200 || check.grpcStatus !== '0') throw new Error(`gRPC ${name}: status ${check.status}, grpc-status ${check.grpcStatus}`);
  log(`grpc ${name}: ${WARMUP_SECONDS}s warm-up, ${THROUGHPUT_SECONDS}s max throughput, then ${FIXED_SECONDS}s at 1000 calls/s`);
  if (WARMUP_SECONDS > 0) await run(onCpu(LOAD_CPU, ['h2load', '-c', '10', '-m', '10', '-D', String(WARMUP_SECONDS), ...grpcTo(port)]));
  const cpu0 = pids.reduce((sum, pid) => sum + cpuMicros(pid), 0);
  const out = await run(onCpu(LOAD_CPU, ['h2load', '-c', '10', '-m', '10', '-D', String(THROUGHPUT_SECONDS), ...grpcTo(port)]));
  const cpu = pids.reduce((sum, pid) => sum + cpuMicros(pid), 0) - cpu0;
  const m = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const done = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  if (!m || !done) throw new Error(`h2load output not understood:\n${out}`);
  if (Number(done[3]) > 0 || Number(done[4]) > 0) throw new Error(`h2load (gRPC ${name}): ${done[3]} failed, ${done[4]} errored:\n${out}`);
  const result = { rps: Math.round(Number(m[1])), ...(pids.length ? { cpu_us_per_req: round(cpu / Number(done[2]), 1) } : {}) };
  const logFile = join(dir, `grpc-${name}.log`);
  const n = 1000 * FIXED_SECONDS;
  await run(onCpu(LOAD_CPU, ['h2load', '-c', '10', '-m', '1', '--rps', '100', '-n', String(n), `--log-file=${logFile}`, ...grpcTo(port)]));
  const rows = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => l.split('\t')).filter((r) => r[1] === '200');
  if (rows.length < n * 0.99) throw new Error(`h2load (gRPC ${name}): only ${rows.length}/${n} calls succeeded`);
  const t0 = Math.min(...rows.map((r) => Number(r[0])));
  const lat = rows.filter((r) => Number(r[0]) - t0 > 1e6).map((r) => Number(r[2]) / 1000).sort((a, b) => a - b);
  Object.assign(result, { p50_ms: round(lat[Math.floor(lat.length / 2)]), p99_ms: round(lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))]) });
  log(`grpc ${name}: ${JSON.stringify(result)}`);
  return result;
}

// ── Opaque TCP ──────────────────────────────────────────────────────────
/** One connection writing for TCP_SECONDS through `port` after a warm-up; MiB/s as counted by the sink, CPU per MiB of `pids`. */
async function tcpScenario(name, port, pids = []) {
  log(`tcp ${name}: ${WARMUP_SECONDS}s warm-up, ${TCP_SECONDS}s of one connection writing 64 KiB buffers`);
  if (WARMUP_SECONDS > 0) await tcpLoad(port, [], WARMUP_SECONDS);
  const result = await tcpLoad(port, pids, TCP_SECONDS);
  log(`tcp ${name}: ${JSON.stringify(result)}`);
  return result;
}

process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
process.on('SIGINT', () => process.exit(130));

need('wrk', ['-v']);
need('h2load', ['--version']);
need('haproxy', ['-v']);

// Certificates for the mesh (real openssl), like identity would issue them.
const { pki, root, clientCert, serverCert } = benchPki();

const [backendPort, haproxyPort, h2BackendPort, h2HaproxyPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
await haproxy('backend', LOAD_CPU, backendPort);
const haproxyPid = await haproxy('haproxy', PROXY_CPU, haproxyPort, backendPort);
await haproxy('backend-h2', LOAD_CPU, h2BackendPort, undefined, true);
const h2HaproxyPid = await haproxy('haproxy-h2', PROXY_CPU, h2HaproxyPort, h2BackendPort, true);
const grpcBackend = await helper('grpc-backend', './grpc-backend.mjs');
const grpcHaproxyPort = await freePort();
const grpcHaproxyPid = await haproxy('haproxy-grpc', PROXY_CPU, grpcHaproxyPort, grpcBackend.port, true);

const direct = await scenario('direct', backendPort);
const viaHaproxy = await scenario('haproxy', haproxyPort, [haproxyPid]);
const h2Direct = await h2Scenario('direct', h2BackendPort);
const h2Haproxy = await h2Scenario('haproxy', h2HaproxyPort, [h2HaproxyPid]);
const grpcDirect = await grpcScenario('direct', grpcBackend.port);
const grpcHaproxy = await grpcScenario('haproxy', grpcHaproxyPort, [grpcHaproxyPid]);

const hop = await weft('weft-hop', {
  name: CLIENT_ID,
  cert: clientCert.certPath,
  key: clientCert.keyPath,
  anchors: root.certPath,
  routes: [
    { authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backendPort },
    { authority: `${H2_SERVICE}:80`, ip: '127.0.0.1', port: h2BackendPort },
    { authority: `${GRPC_SERVICE}:80`, ip: '127.0.0.1', port: grpcBackend.port },
  ],
});
await new Promise((r) => setTimeout(r, 1000));
const rssStart = rssMiB(hop.pid);
log(`weft_hop: ${IDLE_SECONDS}s idle (and the machine's stalls on each CPU meanwhile)`);
// While nothing runs: how often the machine takes each CPU away (stall-probe.mjs), the floor under the tails below.
const probeSeconds = Math.max(1, IDLE_SECONDS - 3);
const stalls = await probeStalls(probeSeconds);
await new Promise((r) => setTimeout(r, (IDLE_SECONDS - 1 - probeSeconds) * 1000));
const rssIdle = rssMiB(hop.pid);
const memoryIdle = await hop.memory();
// The "RSS under load": the peak while serving 2,000 rps, before full speed has grown the heap.
log(`weft_hop: ${FIXED_SECONDS}s at 2000 rps, peak RSS`);
const rss2000 = await fixedRate({ port: hop.ports.outbound, rate: 2000, seconds: FIXED_SECONDS, authority: SERVICE, logFile: join(dir, 'rss-2000.log'), pid: hop.pid });
const memory2000 = await hop.memory();
const { result: weftHop, peak: rssLoad } = await peakRss(hop.pid, () => scenario('weft_hop', hop.ports.outbound, [hop.pid]));
const h2WeftHop = await h2Scenario('weft_hop', hop.ports.outbound, [hop.pid]);
const grpcWeftHop = await grpcScenario('weft_hop', hop.ports.outbound, [hop.pid]);

const server = await weft('weft-server', { name: SERVER_ID, cert: serverCert.certPath, key: serverCert.keyPath, anchors: root.certPath, appPort: backendPort });
const client = await weft('weft-client', {
  name: CLIENT_ID, cert: clientCert.certPath, key: clientCert.keyPath, anchors: root.certPath,
  routes: [
    { authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backendPort, identity: SERVER_ID, inboundPort: server.ports.inbound },
    { authority: `${GRPC_SERVICE}:80`, ip: '127.0.0.1', port: grpcBackend.port, identity: SERVER_ID, inboundPort: server.ports.inbound },
  ],
});
const weftMesh = await scenario('weft_mesh', client.ports.outbound, [client.pid, server.pid]);
// The same mesh with HTTP/1 carried inside the HTTP/2 session between the proxies (WEFT_PROXY_MESH_HTTP1=http2)
// instead of HTTP/1.1 on weft.mux streams: the two transports side by side.
const clientH2 = await weft('weft-client-http2', {
  name: CLIENT_ID, cert: clientCert.certPath, key: clientCert.keyPath, anchors: root.certPath, meshHttp1: 'http2',
  routes: [{ authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backendPort, identity: SERVER_ID, inboundPort: server.ports.inbound }],
});
const weftMeshHttp2 = await scenario('weft_mesh_http2', clientH2.ports.outbound, [clientH2.pid, server.pid]);
process.kill(clientH2.pid, 'SIGTERM');
// And on pooled weft.tcp connections (WEFT_PROXY_MESH_HTTP1=http1), measured in the paired rounds below.
const clientPool = await weft('weft-client-pool', {
  name: CLIENT_ID, cert: clientCert.certPath, key: clientCert.keyPath, anchors: root.certPath, meshHttp1: 'http1',
  routes: [{ authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backendPort, identity: SERVER_ID, inboundPort: server.ports.inbound }],
});
if (WARMUP_SECONDS > 0) await throughput(clientPool.ports.outbound, WARMUP_SECONDS);
// HAProxy's mesh, the baseline for weft's: two HAProxy processes on the proxies' CPU, mTLS (TLS 1.3, the same
// certificates) between them, measured in the paired rounds and the latency rounds beside weft's mesh.
const haproxyMeshPaths = await haproxyMesh(dir, {
  cpu: PROXY_CPU, port: await freePort(), backendPort, client: clientCert, server: serverCert, anchors: root.certPath, serverName: SERVER_ID,
});
if (WARMUP_SECONDS > 0) await throughput(haproxyMeshPaths.port, WARMUP_SECONDS);
const grpcWeftMesh = await grpcScenario('weft_mesh', client.ports.outbound, [client.pid, server.pid]);

// The throughput ratios, side by side in time: HAProxy, the hop and the mesh measured in turn, PAIRED_ROUNDS times,
// the order reversed every other round. The scenarios above measure each path minutes apart, and on a shared machine
// the speed of all of them (HAProxy's too) drifts by 2x in that time; within a round it drifts alike for the three.
// ratio_*_vs_haproxy are the medians of the rounds' own ratios.
const PAIRED_ROUNDS = Number(process.env.WEFT_BENCH_PAIRED_ROUNDS ?? 5);
const PAIRED_SECONDS = Number(process.env.WEFT_BENCH_PAIRED_SECONDS ?? 4);
if (!(PAIRED_ROUNDS >= 1)) throw new Error(`WEFT_BENCH_PAIRED_ROUNDS must be at least 1, not ${process.env.WEFT_BENCH_PAIRED_ROUNDS}`);
const pairedPaths = [
  { key: 'haproxy', port: haproxyPort, pids: [haproxyPid] },
  { key: 'weft_hop', port: hop.ports.outbound, pids: [hop.pid] },
  { key: 'weft_mesh', port: client.ports.outbound, pids: [client.pid, server.pid] },
  { key: 'weft_mesh_pool', port: clientPool.ports.outbound, pids: [clientPool.pid, server.pid] },
  { key: 'haproxy_mesh', port: haproxyMeshPaths.port, pids: haproxyMeshPaths.pids },
];
const pairedRounds = [];
for (let r = 0; r < PAIRED_ROUNDS; r++) {
  log(`paired round ${r + 1}/${PAIRED_ROUNDS}: ${PAIRED_SECONDS}s max throughput each through HAProxy, the hop, the mesh, the mesh on pooled weft.tcp and HAProxy's mesh`);
  const row = {};
  for (const p of r % 2 === 0 ? pairedPaths : [...pairedPaths].reverse()) {
    const cpu = cpuCounter(p.pids);
    const { rps, requests } = await throughput(p.port, PAIRED_SECONDS);
    const used = cpu();
    const [user, sys] = [used.reduce((t, u) => t + u.user, 0) / requests, used.reduce((t, u) => t + u.sys, 0) / requests];
    row[p.key] = { rps: Math.round(rps), cpu_us_per_req: round(user + sys, 1), user_us_per_req: round(user, 1), sys_us_per_req: round(sys, 1) };
  }
  pairedRounds.push({
    ...row,
    ratio_hop_vs_haproxy: round(row.weft_hop.rps / row.haproxy.rps, 3),
    ratio_mesh_vs_haproxy: round(row.weft_mesh.rps / row.haproxy.rps, 3),
    cpu_ratio_hop_vs_haproxy: round(row.haproxy.cpu_us_per_req / row.weft_hop.cpu_us_per_req, 3),
    cpu_ratio_mesh_vs_haproxy: round(row.haproxy.cpu_us_per_req / row.weft_mesh.cpu_us_per_req, 3),
    ratio_mesh_pool_vs_haproxy: round(row.weft_mesh_pool.rps / row.haproxy.rps, 3),
    cpu_ratio_mesh_pool_vs_haproxy: round(row.haproxy.cpu_us_per_req / row.weft_mesh_pool.cpu_us_per_req, 3),
    ratio_mesh_vs_haproxy_mesh: round(row.weft_mesh.rps / row.haproxy_mesh.rps, 3),
    cpu_ratio_mesh_vs_haproxy_mesh: round(row.haproxy_mesh.cpu_us_per_req / row.weft_mesh.cpu_us_per_req, 3),
  });
  log(`paired round ${r + 1}: ${JSON.stringify(pairedRounds[r])}`);
}
const pairedMedian = (key) => median(pairedRounds.map((r) => r[key]));

// The added latency, side by side in time too: direct, weft's mesh and HAProxy's mesh at 1,000 rps, LATENCY_ROUNDS
// times, the order reversed every other round. Each path, in turn: LATENCY_SECONDS in bursts of 10 right after the
// others' turns (~2 x 3 x LATENCY_SECONDS idle: the `_after_idle` figures), LATENCY_SECONDS in bursts again (its
// steady state at 1,000 rps: the main figures), then spread out. A proxy that has been idle that long starts cold:
// full collections run while it idles (V8's memory reducer a few seconds after the allocations stop, and the proxy's
// own once it has been quiet after work), and they invalidate optimized code that embedded objects which died with the
// last load's connections; the next load re-optimizes those functions (docs/proxy.md, twenty-sixth pass). One stall of the machine in one window moves a p99
// by milliseconds (the direct path's p99 above it once, which made a mesh hop's "added" p99 negative);
// added_*_ms_per_mesh_hop are the medians of the rounds' own differences.
const LATENCY_ROUNDS = Number(process.env.WEFT_BENCH_LATENCY_ROUNDS ?? 3);
const LATENCY_SECONDS = Number(process.env.WEFT_BENCH_LATENCY_SECONDS ?? 6);
if (!(LATENCY_ROUNDS >= 1)) throw new Error(`WEFT_BENCH_LATENCY_ROUNDS must be at least 1, not ${process.env.WEFT_BENCH_LATENCY_ROUNDS}`);
const latencyPaths = [
  { key: 'direct', port: backendPort },
  { key: 'weft_mesh', port: client.ports.outbound },
  { key: 'haproxy_mesh', port: haproxyMeshPaths.port },
];
const latencyRounds = [];
for (let r = 0; r < LATENCY_ROUNDS; r++) {
  log(`paired latency round ${r + 1}/${LATENCY_ROUNDS}: ${LATENCY_SECONDS}s at 1000 rps in bursts after idle, again, then spread out, direct, through the mesh and through HAProxy's mesh`);
  const row = {};
  for (const p of r % 2 === 0 ? latencyPaths : [...latencyPaths].reverse()) {
    const at = (phase, spread = false) => fixedRate({ port: p.port, rate: 1000, seconds: LATENCY_SECONDS, authority: SERVICE, logFile: join(dir, `h2load-paired-${p.key}-${r}-${phase}.log`), spread });
    const afterIdle = await at('after-idle');
    const bursts = await at('bursts');
    const spread = await at('spread', true);
    row[p.key] = {
      p50_ms: bursts.p50_ms, p99_ms: bursts.p99_ms, p50_ms_spread: spread.p50_ms, p99_ms_spread: spread.p99_ms,
      p50_ms_after_idle: afterIdle.p50_ms, p99_ms_after_idle: afterIdle.p99_ms,
    };
  }
  const added = (k, mesh = 'weft_mesh') => round(row[mesh][k] - row.direct[k], 3);
  latencyRounds.push({
    ...row,
    added_p50_ms: added('p50_ms'), added_p99_ms: added('p99_ms'), added_p50_ms_spread: added('p50_ms_spread'), added_p99_ms_spread: added('p99_ms_spread'),
    added_p50_ms_after_idle: added('p50_ms_after_idle'), added_p99_ms_after_idle: added('p99_ms_after_idle'),
    haproxy_mesh_added_p50_ms: added('p50_ms', 'haproxy_mesh'), haproxy_mesh_added_p99_ms: added('p99_ms', 'haproxy_mesh'),
    haproxy_mesh_added_p50_ms_spread: added('p50_ms_spread', 'haproxy_mesh'), haproxy_mesh_added_p99_ms_spread: added('p99_ms_spread', 'haproxy_mesh'),
    haproxy_mesh_added_p50_ms_after_idle: added('p50_ms_after_idle', 'haproxy_mesh'), haproxy_mesh_added_p99_ms_after_idle: added('p99_ms_after_idle', 'haproxy_mesh'),
  });
  log(`paired latency round ${r + 1}: ${JSON.stringify(latencyRounds[r])}`);
}
const latencyMedian = (key) => median(latencyRounds.map((r) => r[key]));

// Opaque TCP: the sink's port is declared opaque (no detection), as config.weft.io/opaque-ports would.
const sink = await helper('tcp-sink', './tcp-load.mjs', ['sink']);
const tcpHaproxyPort = await freePort();
const tcpHaproxyCfg = join(dir, 'haproxy-tcp.cfg');
writeFileSync(tcpHaproxyCfg, `global\n  nbthread 1\ndefaults\n  mode tcp\n  timeout client 30s\n  timeout server 30s\n  timeout connect 5s\nfrontend tcp\n  bind 127.0.0.1:${tcpHaproxyPort}\n  default_backend sink\nbackend sink\n  server sink 127.0.0.1:${sink.port}\n`);
const tcpHaproxy = (await start('haproxy-tcp', onCpu(PROXY_CPU, ['haproxy', '-db', '-f', tcpHaproxyCfg]))).child;
await waitPort(tcpHaproxyPort, tcpHaproxy);
const sinkAuthority = `127.0.0.1:${sink.port}`;
const tcpOrigDst = { ip: '127.0.0.1', port: sink.port };
const tcpHop = await weft('weft-tcp-hop', {
  name: CLIENT_ID, cert: clientCert.certPath, key: clientCert.keyPath, anchors: root.certPath, origDst: tcpOrigDst, opaquePorts: [sink.port],
  routes: [{ authority: sinkAuthority, ip: '127.0.0.1', port: sink.port }],
});
const tcpServer = await weft('weft-tcp-server', { name: SERVER_ID, cert: serverCert.certPath, key: serverCert.keyPath, anchors: root.certPath, opaquePorts: [sink.port] });
const tcpClient = await weft('weft-tcp-client', {
  name: CLIENT_ID, cert: clientCert.certPath, key: clientCert.keyPath, anchors: root.certPath, origDst: tcpOrigDst, opaquePorts: [sink.port],
  routes: [{ authority: sinkAuthority, ip: '127.0.0.1', port: sink.port, identity: SERVER_ID, inboundPort: tcpServer.ports.inbound }],
});
// Paired rounds (TCP_ROUNDS, the order reversed every other round): one 4-s transfer swings with the machine's load,
// so each figure is the median of its rounds and each ratio the median of the rounds' ratios.
const tcpTargets = {
  direct: [sink.port, []],
  haproxy: [tcpHaproxyPort, [tcpHaproxy.pid]],
  weft_1_proxy: [tcpHop.ports.outbound, [tcpHop.pid]],
  weft_2_proxies: [tcpClient.ports.outbound, [tcpClient.pid, tcpServer.pid]],
};
const tcpRounds = [];
for (let r = 0; r < TCP_ROUNDS; r++) {
  const names = Object.keys(tcpTargets);
  if (r % 2 === 1) names.reverse();
  const got = {};
  for (const name of names) got[name] = await tcpScenario(name, ...tcpTargets[name]);
  tcpRounds.push(got);
}
const tcpMedian = (name) => {
  const of = (field) => (tcpRounds[0][name][field] === undefined ? {} : { [field]: median(tcpRounds.map((r) => r[name][field])) });
  return { ...of('mib_per_s'), ...of('cpu_us_per_mib') };
};
const tcpRatio = (name) => round(median(tcpRounds.map((r) => r[name].mib_per_s / r.haproxy.mib_per_s)), 3);
const tcp = Object.fromEntries(Object.keys(tcpTargets).map((name) => [name, tcpMedian(name)]));
for (const p of [tcpHop, tcpServer, tcpClient]) process.kill(p.pid, 'SIGTERM');

// Tracing cost (docs/tracing.md): the same mesh with tracing off, at 1 % and at 100 % sampling (wrk sends no trace
// context, so every request is a new trace at the client proxy's rate). Spans go to a collector stand-in: HAProxy
// answering 200 to every POST once its body is in, keeping its connections (lib.mjs collectorStandIn), on the load
// generator's CPU. The three meshes run side by side and are measured in
// turn, TRACING_ROUNDS times, so a change of load on a shared machine falls on all three alike.
const TRACING_ROUNDS = Number(process.env.WEFT_BENCH_TRACING_ROUNDS ?? 3);
const collectorPort = await freePort();
await collectorStandIn(dir, LOAD_CPU, collectorPort);
const tracingMeshes = [];
for (const [label, sampleRate] of [['off', undefined], ['sampled_1pct', 0.01], ['sampled_100pct', 1]]) {
  const tracing = sampleRate === undefined ? undefined : { collectorUrl: `http://127.0.0.1:${collectorPort}/v1/traces`, sampleRate, resource: { 'service.name': 'bench' }, maxQueue: 2048, flushIntervalMs: 1000 };
  const s = await weft(`weft-server-trace-${label}`, { name: SERVER_ID, cert: serverCert.certPath, key: serverCert.keyPath, anchors: root.certPath, appPort: backendPort, tracing });
  const c = await weft(`weft-client-trace-${label}`, {
    name: CLIENT_ID, cert: clientCert.certPath, key: clientCert.keyPath, anchors: root.certPath, tracing,
    routes: [{ authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backendPort, identity: SERVER_ID, inboundPort: s.ports.inbound }],
  });
  tracingMeshes.push({ label, c, s, rps: [], requests: 0, cpu: 0 });
}
const spanCount = async (m, name) => {
  let sum = 0;
  for (const p of [m.c, m.s]) {
    const text = await (await globalThis.fetch(`http://127.0.0.1:${p.ports.admin}/metrics`)).text();
    for (const line of text.split('\n')) if (line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
};
if (WARMUP_SECONDS > 0) for (const m of tracingMeshes) await throughput(m.c.ports.outbound, WARMUP_SECONDS);
for (let round = 1; round <= TRACING_ROUNDS; round++) {
  for (const m of tracingMeshes) {
    log(`tracing ${m.label} (round ${round}/${TRACING_ROUNDS}): ${THROUGHPUT_SECONDS}s max throughput through the mesh`);
    const cpu0 = cpuMicros(m.c.pid) + cpuMicros(m.s.pid);
    const { rps, requests } = await throughput(m.c.ports.outbound);
    m.cpu += cpuMicros(m.c.pid) + cpuMicros(m.s.pid) - cpu0;
    m.requests += requests;
    m.rps.push(Math.round(rps));
  }
}
await new Promise((r) => setTimeout(r, 1500)); // one flush interval: the last batches are sent
const tracingResult = {};
for (const m of tracingMeshes) {
  tracingResult[m.label] = {
    rps: Math.round(m.rps.reduce((a, b) => a + b, 0) / m.rps.length),
    rps_per_round: m.rps,
    cpu_us_per_req: round(m.cpu / m.requests, 1),
    spans_exported: await spanCount(m, 'trace_spans_exported_total'),
    spans_dropped: await spanCount(m, 'trace_spans_dropped_total'),
    // After the rounds: what each proxy holds once it has served (and, traced, exported) at full speed.
    rss_mib: { client: round(rssMiB(m.c.pid), 1), server: round(rssMiB(m.s.pid), 1) },
  };
  log(`tracing ${m.label}: ${JSON.stringify(tracingResult[m.label])}`);
  for (const p of [m.c, m.s]) process.kill(p.pid, 'SIGTERM');
}
pki.dispose();
// The hop again, idle since the paired rounds (the TCP and tracing scenarios ran on other proxies, minutes): what a
// proxy keeps once it has served HTTP/1, HTTP/2 and gRPC at full speed.
const rssIdleAfterLoad = rssMiB(hop.pid);
const rssAnonIdleAfterLoad = rssMiB(hop.pid, 'RssAnon');

const result = {
  direct,
  haproxy: viaHaproxy,
  weft_hop: weftHop,
  weft_mesh: weftMesh,
  weft_mesh_http2: weftMeshHttp2,
  h2: { direct: h2Direct, haproxy: h2Haproxy, weft_hop: h2WeftHop },
  grpc: {
    direct: grpcDirect,
    haproxy: grpcHaproxy,
    weft_hop: grpcWeftHop,
    weft_mesh: grpcWeftMesh,
    ratio_hop_vs_haproxy: round(grpcWeftHop.rps / grpcHaproxy.rps, 3),
    added_p50_ms_per_mesh_hop: round(grpcWeftMesh.p50_ms - grpcDirect.p50_ms, 3),
  },
  tcp: {
    ...tcp,
    ratio_1_proxy_vs_haproxy: tcpRatio('weft_1_proxy'),
    ratio_2_proxies_vs_haproxy: tcpRatio('weft_2_proxies'),
    rounds: tcpRounds,
  },
  weft_node_flags: NODE_FLAGS,
  // The runtime the proxies ran on: the image's (lib.mjs POD_NODE).
  weft_node: execFileSync(POD_NODE, ['--version'], { encoding: 'utf8' }).trim(),
  weft_rss_start_mib: round(rssStart, 1),
  weft_rss_idle_mib: round(rssIdle, 1),
  weft_rss_2000_rps_mib: rss2000.rss_peak_mib,
  weft_rss_2000_rps_end_mib: rss2000.rss_end_mib,
  weft_rss_load_mib: round(rssLoad, 1),
  weft_rss_idle_after_load_mib: round(rssIdleAfterLoad, 1),
  weft_rss_anon_idle_after_load_mib: round(rssAnonIdleAfterLoad, 1),
  weft_memory: { idle: memoryIdle, at_2000_rps: memory2000 },
  // Medians of the paired rounds (above); the same ratios from the scenarios' own windows, minutes apart, as _apart.
  ratio_hop_vs_haproxy: pairedMedian('ratio_hop_vs_haproxy'),
  ratio_mesh_vs_haproxy: pairedMedian('ratio_mesh_vs_haproxy'),
  ratio_h2_hop_vs_haproxy: round(h2WeftHop.rps / h2Haproxy.rps, 3),
  // The same comparisons by CPU time per request (HAProxy's over weft's, both proxies for the mesh): steadier than rps
  // on a shared machine, where the load generator and HAProxy's own rps swing with the neighbours.
  cpu_ratio_hop_vs_haproxy: pairedMedian('cpu_ratio_hop_vs_haproxy'),
  cpu_ratio_mesh_vs_haproxy: pairedMedian('cpu_ratio_mesh_vs_haproxy'),
  // The mesh on pooled weft.tcp connections (WEFT_PROXY_MESH_HTTP1=http1), from the same paired rounds.
  ratio_mesh_pool_vs_haproxy: pairedMedian('ratio_mesh_pool_vs_haproxy'),
  cpu_ratio_mesh_pool_vs_haproxy: pairedMedian('cpu_ratio_mesh_pool_vs_haproxy'),
  // Against HAProxy's own mesh (two HAProxy processes, mTLS between them), from the same paired rounds.
  ratio_mesh_vs_haproxy_mesh: pairedMedian('ratio_mesh_vs_haproxy_mesh'),
  cpu_ratio_mesh_vs_haproxy_mesh: pairedMedian('cpu_ratio_mesh_vs_haproxy_mesh'),
  // Where that CPU goes, per request: user space (the proxy's own code, its runtime, TLS) and the kernel (syscalls and
  // the loopback packets they send), medians of the paired rounds; the kernel's share is the part a proxy's code can
  // least change (docs/proxy.md, sixteenth pass).
  cpu_split_us_per_req: Object.fromEntries(
    pairedPaths.map(({ key }) => [key, { user: median(pairedRounds.map((r) => r[key].user_us_per_req)), sys: median(pairedRounds.map((r) => r[key].sys_us_per_req)) }]),
  ),
  paired_rounds: pairedRounds,
  ratio_hop_vs_haproxy_apart: round(weftHop.rps / viaHaproxy.rps, 3),
  ratio_mesh_vs_haproxy_apart: round(weftMesh.rps / viaHaproxy.rps, 3),
  cpu_ratio_hop_vs_haproxy_apart: round(viaHaproxy.cpu_us_per_req / weftHop.cpu_us_per_req, 3),
  cpu_ratio_mesh_vs_haproxy_apart: round(viaHaproxy.cpu_us_per_req / weftMesh.cpu_us_per_req, 3),
  ratio_mesh_http1_vs_http2: round(weftMesh.rps / weftMeshHttp2.rps, 3),
  // A mesh hop is one call through both proxies (client side and server side). Medians of the paired latency rounds;
  // the same from the scenarios' own windows, minutes apart, as _apart.
  added_p50_ms_per_mesh_hop: latencyMedian('added_p50_ms'),
  added_p99_ms_per_mesh_hop: latencyMedian('added_p99_ms'),
  added_p50_ms_per_mesh_hop_spread: latencyMedian('added_p50_ms_spread'),
  added_p99_ms_per_mesh_hop_spread: latencyMedian('added_p99_ms_spread'),
  // The same in bursts in the first window after the mesh sat idle through the other paths' turns.
  added_p50_ms_per_mesh_hop_after_idle: latencyMedian('added_p50_ms_after_idle'),
  added_p99_ms_per_mesh_hop_after_idle: latencyMedian('added_p99_ms_after_idle'),
  // What HAProxy's mesh adds in the same rounds: the latency two proxies and mTLS cost on this machine at the least.
  haproxy_mesh_added_p50_ms: latencyMedian('haproxy_mesh_added_p50_ms'),
  haproxy_mesh_added_p99_ms: latencyMedian('haproxy_mesh_added_p99_ms'),
  haproxy_mesh_added_p50_ms_spread: latencyMedian('haproxy_mesh_added_p50_ms_spread'),
  haproxy_mesh_added_p99_ms_spread: latencyMedian('haproxy_mesh_added_p99_ms_spread'),
  haproxy_mesh_added_p50_ms_after_idle: latencyMedian('haproxy_mesh_added_p50_ms_after_idle'),
  haproxy_mesh_added_p99_ms_after_idle: latencyMedian('haproxy_mesh_added_p99_ms_after_idle'),
  latency_rounds: latencyRounds,
  added_p50_ms_per_mesh_hop_apart: round(weftMesh.p50_ms - direct.p50_ms, 3),
  added_p99_ms_per_mesh_hop_apart: round(weftMesh.p99_ms - direct.p99_ms, 3),
  // Stalls of more than 3 ms seen by an idle process pinned to each CPU while the hop idled (the proxies ran on
  // proxy_cpu): a request that crosses a stalled CPU waits it out, whatever the proxy does.
  machine_stalls: { ...stalls, proxy_cpu: PROXY_CPU },
  tracing: {
    ...tracingResult,
    ratio_1pct_vs_off: round(tracingResult.sampled_1pct.rps / tracingResult.off.rps, 3),
    ratio_100pct_vs_off: round(tracingResult.sampled_100pct.rps / tracingResult.off.rps, 3),
    cpu_ratio_1pct_vs_off: round(tracingResult.sampled_1pct.cpu_us_per_req / tracingResult.off.cpu_us_per_req, 3),
    cpu_ratio_100pct_vs_off: round(tracingResult.sampled_100pct.cpu_us_per_req / tracingResult.off.cpu_us_per_req, 3),
  },
};
console.log(JSON.stringify(result));
process.exit(0);
