#!/usr/bin/env node
// A/B of two proxy builds in one run: `node bench/proxy/ab.mjs <baseline proxy/dist>`.
// Copy a baseline aside first (its imports resolve through a node_modules link):
//   mkdir -p /tmp/weft-base/proxy && cp -r proxy/dist proxy/package.json /tmp/weft-base/proxy/ \
//     && ln -sfn "$PWD/node_modules" /tmp/weft-base/node_modules
// Both builds run side by side on the same backend (HAProxy's static 200, CPU 0), pinned to CPU 1; each round puts
// the same wrk load (1 thread, 32 connections) on the baseline then on the new build, for the one-proxy hop and the
// two-proxy mesh (mTLS HTTP/2 between the proxies). On a busy shared machine absolute numbers swing; the ratios of
// rps and of CPU time per request (/proc/<pid>/stat) within a round are what to compare. Idle RSS is read after
// start-up with one forced GC. Last line: JSON.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { TestPki } from '@weft/common/testing/pki';

const baseline = process.argv[2] ? resolve(process.argv[2]) : undefined;
if (!baseline) {
  console.error('usage: node bench/proxy/ab.mjs <baseline proxy/dist>');
  process.exit(2);
}
const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.WEFT_BENCH_SECONDS ?? 5);
const SERVICE = 'bench.svc';
const CLIENT_ID = 'client.bench.serviceaccount.identity.weft.cluster.local';
const SERVER_ID = 'server.bench.serviceaccount.identity.weft.cluster.local';

const dir = mkdtempSync(join(tmpdir(), 'weft-ab-'));
const children = [];
const pinCpu = cpus().length > 1;
const onCpu = (cpu, argv) => (pinCpu ? ['taskset', '-c', String(cpu), ...argv] : argv);
const log = (msg) => process.stderr.write(`ab: ${msg}\n`);
const round = (x, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

function start(name, argv, readyLine) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${name} did not start:\n${out}`)), 30_000);
    child.on('exit', (code) => rej(new Error(`${name} exited ${code}:\n${out}`)));
    const check = () => {
      const m = out.match(readyLine);
      if (m) {
        clearTimeout(timer);
        res({ child, match: m });
      }
    };
    child.stdout.on('data', check);
  });
}

function run(argv) {
  return new Promise((res, rej) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stdout += d));
    child.on('close', (code) => (code === 0 ? res(stdout) : rej(new Error(`${argv.join(' ')} failed (${code}): ${stdout}`))));
  });
}

async function waitPort(port) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((res) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), res(true)));
      s.on('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listening on ${port}`);
}

function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function weft(name, spec) {
  const argv = [process.execPath, '--expose-gc', new URL('./weft-proxy.mjs', import.meta.url).pathname, JSON.stringify(spec)];
  const { child, match } = await start(name, onCpu(1, argv), /READY (\{.*\})/);
  return { pid: child.pid, ports: JSON.parse(match[1]) };
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

/** Latency at 1,000 rps (h2load over HTTP/1.1, 10 clients): p50/p99 in ms, the first second left out. */
async function latency(port) {
  const logFile = join(dir, `lat-${port}.log`);
  const seconds = Math.max(3, SECONDS);
  await run(onCpu(0, ['h2load', '--h1', '-c', '10', '--rps', '100', '-n', String(1000 * seconds), '-H', `:authority: ${SERVICE}`, `--log-file=${logFile}`, `http://127.0.0.1:${port}/`]));
  const rows = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => l.split('\t')).filter((r) => r[1] === '200');
  const t0 = Math.min(...rows.map((r) => Number(r[0])));
  const lat = rows.filter((r) => Number(r[0]) - t0 > 1e6).map((r) => Number(r[2]) / 1000).sort((a, b) => a - b);
  return { p50_ms: round(lat[Math.floor(lat.length / 2)]), p99_ms: round(lat[Math.floor(lat.length * 0.99)]) };
}

process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));

const pki = new TestPki();
const root = pki.cert({ subject: '/CN=weft bench root', ca: true });
const leaf = (id) => pki.cert({ subject: `/CN=${id}`, dns: [id], issuer: root });
const clientCert = leaf(CLIENT_ID);
const serverCert = leaf(SERVER_ID);

const backendPort = await freePort();
const cfg = join(dir, 'backend.cfg');
writeFileSync(cfg, `global\n  nbthread 1\n  maxconn 4096\ndefaults\n  mode http\n  timeout client 30s\n  timeout server 30s\n  timeout connect 5s\nfrontend backend\n  bind 127.0.0.1:${backendPort}\n  http-request return status 200 content-type text/plain string "ok"\n`);
const haproxy = spawn(...(([cmd, ...args]) => [cmd, args])(onCpu(0, ['haproxy', '-db', '-f', cfg])), { stdio: 'ignore' });
children.push(haproxy);
await waitPort(backendPort);

const builds = { base: baseline, new: undefined };
const procs = {};
for (const [b, dist] of Object.entries(builds)) {
  const certs = (c, name) => ({ name, cert: c.certPath, key: c.keyPath, anchors: root.certPath, ...(dist ? { dist } : {}) });
  const hop = await weft(`${b}-hop`, { ...certs(clientCert, CLIENT_ID), routes: [{ authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backendPort }] });
  const server = await weft(`${b}-server`, { ...certs(serverCert, SERVER_ID), appPort: backendPort });
  const client = await weft(`${b}-client`, {
    ...certs(clientCert, CLIENT_ID),
    routes: [{ authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backendPort, identity: SERVER_ID, inboundPort: server.ports.inbound }],
  });
  procs[b] = { hop, server, client, rss_idle_mib: round(rssMiB(hop.pid), 1) };
}
pki.dispose();

// Warm-up (JIT, connection pools), not counted.
for (const b of ['base', 'new']) {
  await load(procs[b].hop.ports.outbound, [procs[b].hop.pid]);
  await load(procs[b].client.ports.outbound, [procs[b].client.pid]);
}
const rounds = { hop: { base: [], new: [] }, mesh: { base: [], new: [] } };
for (let i = 0; i < ROUNDS; i++) {
  // ABBA order, so a drift in machine load does not favour the build that always goes first.
  for (const b of i % 2 === 0 ? ['base', 'new'] : ['new', 'base']) {
    const p = procs[b];
    rounds.hop[b].push(await load(p.hop.ports.outbound, [p.hop.pid]));
    rounds.mesh[b].push(await load(p.client.ports.outbound, [p.client.pid, p.server.pid]));
  }
  log(`round ${i + 1}: ${JSON.stringify({ hop: { base: rounds.hop.base[i], new: rounds.hop.new[i] }, mesh: { base: rounds.mesh.base[i], new: rounds.mesh.new[i] } })}`);
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
    latency_at_1000_rps: lat,
    rss_idle_mib: { base: procs.base.rss_idle_mib, new: procs.new.rss_idle_mib },
    rss_after_load_mib: { base: round(rssMiB(procs.base.hop.pid), 1), new: round(rssMiB(procs.new.hop.pid), 1) },
  }),
);
process.exit(0);
