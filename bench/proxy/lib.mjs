// What the proxy benches (run.mjs, ab.mjs, ceiling.mjs) share: child processes pinned to a
// CPU, ports, load-generator runs, /proc readings, and the weft proxy started
// the way a pod starts it — bundled into one file as the image ships it, on the
// image's Node (POD_NODE) with the Node flags the injector writes (POD_NODE_FLAGS).
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { TestPki } from '@weft/common/testing/pki';
import { proxyCommand } from '@weft/injector/proxy-spec';
import { nodeRuntime } from '../../images/lib/sources.mjs';

/**
 * The Node flags of an injected proxy under the chart's default memory limit (proxy.memoryLimit 256Mi): the sidecar
 * flags and the old-generation cap. Both shape the RSS under load (without the cap the old generation grows to ~35
 * MiB before its first full collection).
 */
export const POD_NODE_FLAGS = proxyCommand('256Mi').slice(1, -1);

/**
 * The Node a pod's proxy runs on: the images' pinned runtime (images/pins.json), fetched and checked against its
 * integrity once, into the images' cache. The benches run weft and Node's least proxies on it, so their speed and
 * memory are the shipped runtime's, whichever Node runs the bench itself.
 */
export const POD_NODE = nodeRuntime(JSON.parse(readFileSync(new URL('../../images/pins.json', import.meta.url), 'utf8')).node, (m) => process.stderr.write(m)).node;

/** Every process a bench starts; killed when the bench exits. */
export const children = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

// WEFT_BENCH_PIN=0 leaves every process free to run on any CPU (a pod without a CPU limit on a busy node, roughly).
const pinCpu = cpus().length > 1 && process.env.WEFT_BENCH_PIN !== '0';
/** `argv` pinned to `cpu` (a CPU or a list, e.g. '0,1') when the benches pin (two CPUs or more, WEFT_BENCH_PIN unset). */
export const onCpu = (cpu, argv) => (pinCpu ? ['taskset', '-c', String(cpu), ...argv] : argv);

/** The authorities the benches route (HTTP/1, HTTP/2 and gRPC backends) and the two proxies' mesh identities. */
export const SERVICE = 'bench.svc';
export const H2_SERVICE = 'h2.bench.svc';
export const GRPC_SERVICE = 'grpc.bench.svc';
export const CLIENT_ID = 'client.bench.serviceaccount.identity.weft.cluster.local';
export const SERVER_ID = 'server.bench.serviceaccount.identity.weft.cluster.local';

/**
 * The bench's PKI: a root, and the client's and server's certificates under it, named by their mesh identities.
 * `pki.dispose()` once the proxies have read them.
 */
export function benchPki() {
  const pki = new TestPki();
  const root = pki.cert({ subject: '/CN=weft bench root', ca: true });
  const leaf = (id) => pki.cert({ subject: `/CN=${id}`, dns: [id], issuer: root });
  return { pki, root, clientCert: leaf(CLIENT_ID), serverCert: leaf(SERVER_ID) };
}

export const round = (x, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Starts a long-running process (`env` added to this one's); resolves once its stdout matches `readyLine` (at once without one). */
export function start(name, argv, readyLine, env = {}) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${out}`)), 30_000);
    child.on('exit', (code) => reject(new Error(`${name} exited ${code}:\n${out}`)));
    const check = () => {
      const m = readyLine ? out.match(readyLine) : [''];
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        resolve({ child, match: m });
      }
    };
    child.stdout.on('data', check);
    if (!readyLine) check();
  });
}

export async function waitPort(port, child) {
  for (let i = 0; i < 300; i++) {
    if (child && child.exitCode !== null) throw new Error(`process for port ${port} exited with ${child.exitCode}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listening on ${port}`);
}

/** Runs a load generator to completion without blocking the event loop (RSS samplers keep ticking); resolves with its stdout. */
export function run(argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${argv.join(' ')} failed (${code}): ${stderr || stdout}`))));
  });
}

/**
 * Which CPU the proxies under test get (PROXY_CPU: HAProxy's and weft's) and which the load generators and backends
 * get (LOAD_CPU): 1 and 0, or the other way round with WEFT_BENCH_PROXY_CPU=0. A virtual machine's CPUs are not
 * equally quiet, and not for long: on the benches' machine the hypervisor takes one of them away for ~3.7 ms about
 * once a second (a C loop reading the clock there sees the gaps, and `perf` on that CPU finds nothing of the guest's
 * running in them), and which one it is changes from one hour to the next (docs/proxy.md, twenty-sixth pass). HAProxy
 * and weft always share a CPU, so the ratios between them do not depend on the choice.
 */
const proxyCpuSetting = process.env.WEFT_BENCH_PROXY_CPU ?? '1';
if (proxyCpuSetting !== '0' && proxyCpuSetting !== '1') {
  throw new Error(`WEFT_BENCH_PROXY_CPU must be 0 or 1, not ${proxyCpuSetting}`);
}
export const PROXY_CPU = Number(proxyCpuSetting);
export const LOAD_CPU = 1 - PROXY_CPU;

const STALL_PROBE = new URL('./stall-probe.mjs', import.meta.url).pathname;

/** The machine's stalls on CPUs 0 and 1 over `seconds` (stall-probe.mjs on both at once). */
export async function probeStalls(seconds) {
  const [cpu0, cpu1] = await Promise.all(
    [0, 1].map(async (cpu) => JSON.parse(await run(onCpu(cpu, [process.execPath, STALL_PROBE, String(seconds)])))),
  );
  return { cpu0, cpu1 };
}

/** CPU time (user + system) a process has used, in microseconds. */
export function cpuMicros(pid) {
  const { user, sys } = cpuSplitMicros(pid);
  return user + sys;
}

/** The CPU time of `pid` so far in user space and in the kernel (syscalls, and the loopback's packets it sends), in µs. */
export function cpuSplitMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of stat, in clock ticks (USER_HZ = 100 on Linux).
  return { user: Number(fields[11]) * 10_000, sys: Number(fields[12]) * 10_000 };
}

export function rssMiB(pid, field = 'VmRSS') {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * Samples the RSS of `pid` every 200 ms while `work` runs; resolves with work's result, the peak and the RSS at the
 * end in MiB (the peak is often a start-of-load transient: the first requests' JIT compilation and heap growth).
 */
export async function peakRss(pid, work) {
  let peak = rssMiB(pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 200);
  try {
    const result = await work();
    const end = rssMiB(pid);
    return { result, peak: Math.max(peak, end), end };
  } finally {
    clearInterval(sampler);
  }
}

/**
 * Latency, and with `pid` the RSS (peak and at the end) of that process, at a fixed rate: h2load over HTTP/1.1, 10
 * clients sharing `rate`, per-request log; the first second (connections, JIT) is left out of the latencies. Throws
 * when fewer than 99 % of the requests succeeded.
 *
 * One h2load's clients fire together: its 10 clients send their requests within ~10 µs of each other, so 1,000 rps
 * arrives as a burst of 10 every 10 ms, and a request's latency includes the time the proxy spends on the nine
 * beside it. `spread` runs the 10 clients as 10 independent h2load processes started 1/`rate` s apart instead: each
 * client keeps its own phase, so the requests arrive spread over the period (process start-up jitters the phases:
 * measured at 1,000 rps, the median gap between arrivals was 0.88 ms, and about 1 in 5 came within 0.1 ms of
 * another), as from independent callers, not in lockstep.
 */
export async function fixedRate({ port, rate, seconds, authority, logFile, pid, spread = false }) {
  const clients = 10;
  const n = rate * seconds;
  const h2load = (c, file) => onCpu(LOAD_CPU, ['h2load', '--h1', '-c', String(c), '--rps', String(rate / clients), '-n', String((n / clients) * c), '-H', `:authority: ${authority}`, `--log-file=${file}`, `http://127.0.0.1:${port}/`]);
  const logFiles = spread ? Array.from({ length: clients }, (_, i) => `${logFile}.${i}`) : [logFile];
  for (const f of logFiles) rmSync(f, { force: true });
  const load = spread
    ? async () => {
        const runs = [];
        for (const f of logFiles) {
          runs.push(run(h2load(1, f)));
          await new Promise((resolve) => setTimeout(resolve, 1000 / rate));
        }
        return Promise.all(runs);
      }
    : () => run(h2load(clients, logFile));
  const { peak, end } = pid ? await peakRss(pid, load) : { result: await load() };
  const ok = logFiles.flatMap((f) => readFileSync(f, 'utf8').trim().split('\n')).map((l) => l.split('\t')).filter((r) => r[1] === '200');
  if (ok.length < n * 0.99) throw new Error(`h2load: only ${ok.length}/${n} requests succeeded`);
  const t0 = Math.min(...ok.map((r) => Number(r[0])));
  const lat = ok.filter((r) => Number(r[0]) - t0 > 1e6).map((r) => Number(r[2]) / 1000).sort((a, b) => a - b);
  const at = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))];
  return { p50_ms: round(at(0.5)), p99_ms: round(at(0.99)), ...(pid ? { rss_peak_mib: round(peak, 1), rss_end_mib: round(end, 1) } : {}) };
}

const WEFT_PROXY = new URL('./weft-proxy.mjs', import.meta.url).pathname;

/** The proxy's native addon, as built by `npm ci` (proxy/native/build.mjs). */
const NATIVE_ADDON = 'proxy/native/build/Release/weft_original_dst.node';

/**
 * The file a bench runs for one weft proxy build: weft-proxy.mjs bundled by the image build's own bundler
 * (images/lib/bundle.mjs) into `dir`, next to a copy of the native addon as the image lays them out. `dist` names another build's proxy/dist (an A/B baseline; its imports resolve
 * through the node_modules next to it); `bundled: false` runs weft-proxy.mjs as compiled instead.
 */
export async function weftProxyEntry(dir, { dist, bundled = true } = {}) {
  let source = WEFT_PROXY;
  if (dist) {
    // The same harness with its literal imports pointed at the other build, so the bundler follows them.
    source = join(dist, '..', 'bench-weft-proxy.mjs');
    writeFileSync(
      source,
      readFileSync(WEFT_PROXY, 'utf8')
        .replace("import('@weft/proxy/testing/mesh')", `import(${JSON.stringify(join(dist, 'testing/mesh.js'))})`)
        .replace("import('@weft/proxy')", `import(${JSON.stringify(join(dist, 'index.js'))})`),
    );
  }
  if (!bundled) return source;
  const { bundle } = await import('../../images/lib/bundle.mjs');
  // Laid out as in the image: the bundle in app/proxy/dist, the native addon where it looks for it from there.
  const app = join(dir, dist ? 'base' : 'new');
  mkdirSync(join(app, 'proxy', 'dist'), { recursive: true });
  mkdirSync(join(app, 'native', 'build', 'Release'), { recursive: true });
  copyFileSync(new URL(`../../${NATIVE_ADDON}`, import.meta.url), join(app, NATIVE_ADDON.replace(/^proxy\//, '')));
  const path = join(app, 'proxy', 'dist', 'weft-proxy.bundle.mjs');
  writeFileSync(path, (await bundle(source)).code);
  return path;
}

/**
 * Starts one bench proxy (weft-proxy.mjs `spec`) from `entry`, pinned to PROXY_CPU (or the `cpu` list, e.g. '0,1'), with
 * `flags` before the script (default: the injector's) and `env` added to the environment. Resolves with its pid and
 * ports once it printed READY. `node`: the runtime (default: the image's, POD_NODE).
 */
export async function startWeft(name, entry, spec, flags = POD_NODE_FLAGS, env = {}, cpu = PROXY_CPU, node = POD_NODE) {
  const argv = [node, ...flags, '--import', MEMORY_PROBE, entry, JSON.stringify(spec)];
  const { child, match } = await start(name, onCpu(cpu, argv), /READY (\{.*\})/, env);
  return { pid: child.pid, ports: JSON.parse(match[1]), memory: () => memoryOf(child) };
}

/** `node --import` this into a measured proxy: SIGUSR2 then prints its memory (memoryOf). */
export const MEMORY_PROBE = new URL('./memory-probe.mjs', import.meta.url).pathname;

const mib = (bytes) => round(bytes / 2 ** 20, 1);

/** A proxy's process.memoryUsage() in MiB (SIGUSR2 → MEMORY_PROBE's line), and after a full GC with --expose-gc. */
export function memoryOf(child) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the proxy printed no MEMORY line')), 10_000);
    const onData = (d) => {
      out += d;
      const m = /MEMORY (\{.*\})\n/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      const u = JSON.parse(m[1]);
      const inMiB = (x) => ({ rss: mib(x.rss), heap_total: mib(x.heapTotal), heap_used: mib(x.heapUsed), external: mib(x.external), array_buffers: mib(x.arrayBuffers) });
      // The RSS split: anonymous pages are the process's own (heap, V8's spaces, buffers); file pages are mostly the
      // node binary's, read-only and shared with every process that maps the same file.
      const split = { rss_anon: round(rssMiB(child.pid, 'RssAnon'), 1), rss_file: round(rssMiB(child.pid, 'RssFile'), 1) };
      resolve({ ...inMiB(u), ...split, ...(u.afterGc ? { after_gc: inMiB(u.afterGc) } : {}) });
    };
    child.stdout.on('data', onData);
    child.kill('SIGUSR2');
  });
}

/** wrk at full speed (1 thread, 32 keep-alive connections) for `seconds` with `Host: authority`; rps, requests, and CPU µs per request of `pids` (perRequest). */
export async function wrkLoad(port, pids, { seconds, authority }) {
  const cpu = cpuCounter(pids);
  const out = await run(onCpu(LOAD_CPU, ['wrk', '-t1', '-c32', `-d${seconds}s`, '-H', `Host: ${authority}`, `http://127.0.0.1:${port}/`]));
  const used = cpu();
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (errors) throw new Error(`wrk saw ${errors[1]} error responses:\n${out}`);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]), requests, ...perRequest(used, requests) };
}

const TCP_LOAD = new URL('./tcp-load.mjs', import.meta.url).pathname;

/** The opaque TCP sink (tcp-load.mjs) on the load's CPU: counts what each connection sends. Resolves with its port. */
export async function tcpSink() {
  const { match } = await start('tcp-sink', onCpu(LOAD_CPU, [process.execPath, TCP_LOAD, 'sink']), /READY (\d+)/);
  return Number(match[1]);
}

/**
 * One connection (tcp-load.mjs on the load's CPU) writing 64 KiB buffers through `port` to the sink for `seconds`: MiB/s as
 * the sink counted them, and the CPU per MiB of `pids` when there are any.
 */
export async function tcpLoad(port, pids, seconds) {
  const cpu0 = pids.reduce((sum, pid) => sum + cpuMicros(pid), 0);
  const out = JSON.parse(await run(onCpu(LOAD_CPU, [process.execPath, TCP_LOAD, 'send', String(port), String(seconds)])));
  const cpu = pids.reduce((sum, pid) => sum + cpuMicros(pid), 0) - cpu0;
  if (!(out.bytes > 0)) throw new Error(`tcp through ${port}: the sink counted nothing`);
  return { mib_per_s: round(out.mib_per_s, 1), ...(pids.length ? { cpu_us_per_mib: round(cpu / (out.bytes / 1048576), 1) } : {}) };
}

/** Starts counting the CPU time of `pids`; the returned function gives each one's user and kernel µs since then. */
export function cpuCounter(pids) {
  const before = pids.map(cpuSplitMicros);
  return () =>
    pids.map((pid, i) => {
      const now = cpuSplitMicros(pid);
      return { user: now.user - before[i].user, sys: now.sys - before[i].sys };
    });
}

/**
 * CPU µs per request, all `pids` together (`cpu_us_per_req`) and each one's split into user space and the kernel
 * (`per_process`, in the order of `pids`).
 */
function perRequest(used, requests) {
  const per_process = used.map((u) => ({ user: round(u.user / requests, 2), sys: round(u.sys / requests, 2) }));
  return { cpu_us_per_req: used.reduce((s, u) => s + u.user + u.sys, 0) / requests, per_process };
}

/**
 * h2load at full speed (prior knowledge, 10 connections x 10 streams) for `seconds`, `args` ending with the URL; rps
 * and CPU µs per request of `pids` (perRequest). Throws when a request failed or errored.
 */
export async function h2Load(pids, { seconds, args }) {
  const cpu = cpuCounter(pids);
  const out = await run(onCpu(LOAD_CPU, ['h2load', '-c', '10', '-m', '10', '-D', String(seconds), ...args]));
  const used = cpu();
  const m = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const done = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  if (!m || !done) throw new Error(`h2load output not understood:\n${out}`);
  if (Number(done[3]) > 0 || Number(done[4]) > 0) throw new Error(`h2load: ${done[3]} failed, ${done[4]} errored:\n${out}`);
  return { rps: Number(m[1]), ...perRequest(used, Number(done[2])) };
}

/** Writes the gRPC request h2load sends into `dir`: one length-prefixed message (not compressed, 4 bytes: protobuf field 1 = "hi"). */
export function grpcRequestFile(dir) {
  const path = join(dir, 'grpc-request.bin');
  writeFileSync(path, Buffer.from([0, 0, 0, 0, 4, 0x0a, 0x02, 0x68, 0x69]));
  return path;
}

/** h2load's arguments for unary gRPC calls (POSTs of one gRPC message) to `authority` through `port`. */
export const grpcArgs = (requestFile, authority, port) => ['-d', requestFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-H', `:authority: ${authority}`, `http://127.0.0.1:${port}/bench.Echo/Unary`];

function haproxyConfig(port, backendPort, h2, threads = 1) {
  const common = `global\n  nbthread ${threads}\n` + '  maxconn 4096\ndefaults\n  mode http\n  timeout client 30s\n  timeout server 30s\n  timeout connect 5s\n  option http-keep-alive\n';
  const proto = h2 ? ' proto h2' : '';
  if (backendPort === undefined) {
    // A backend: a static 200 answered by HAProxy itself — fast enough never to be the bottleneck.
    return `${common}frontend backend\n  bind 127.0.0.1:${port}${proto}\n  http-request return status 200 content-type text/plain string "ok"\n`;
  }
  return `${common}frontend hop\n  bind 127.0.0.1:${port}${proto}\n  default_backend app\nbackend app\n  http-reuse always\n  server app 127.0.0.1:${backendPort}${proto}\n`;
}

/**
 * HAProxy (HTTP mode, `threads` threads, default one) on `cpu` (a CPU list for more), listening on `port` (its config written into `dir` as `<name>.cfg`): a hop
 * to `backendPort`, or without one a backend answering a static 200 itself; `h2`: HTTP/2 with prior knowledge on both
 * sides. Resolves with its pid and port once it accepts connections.
 */
export async function haproxy(dir, name, cpu, port, backendPort, h2 = false, threads = 1) {
  const cfg = join(dir, `${name}.cfg`);
  writeFileSync(cfg, haproxyConfig(port, backendPort, h2, threads));
  const { child } = await start(name, onCpu(cpu, ['haproxy', '-db', '-f', cfg]));
  await waitPort(port, child);
  return { pid: child.pid, port };
}

/**
 * The benches' OTLP/HTTP collector stand-in: HAProxy on `cpu` answering 200 (no body) to every POST on `port`. It reads
 * each request's whole body before answering (`http-buffer-request`, buffers sized for a batch of 512 spans): an answer
 * given before the body is in makes HAProxy close the connection, and every export would then open a new one, where a
 * real collector keeps it.
 */
export async function collectorStandIn(dir, cpu, port) {
  const cfg = join(dir, 'collector.cfg');
  writeFileSync(cfg, 'global\n  maxconn 256\n  tune.bufsize 1048576\ndefaults\n  mode http\n  timeout client 30s\n  timeout server 30s\n  timeout connect 5s\n  option http-keep-alive\n' +
    `frontend collector\n  bind 127.0.0.1:${port}\n  option http-buffer-request\n  http-request return status 200\n`);
  const { child } = await start('collector', onCpu(cpu, ['haproxy', '-db', '-f', cfg]));
  await waitPort(port, child);
  return { pid: child.pid, port };
}

/**
 * A mesh of HAProxy's, the baseline for weft's mesh: two HAProxy processes (HTTP mode, one thread each) on `cpu`, the
 * client side taking plaintext HTTP/1 on `port` and forwarding it over mTLS (TLS 1.3, `client`'s certificate, the
 * server's name verified against `serverName`, connections kept and reused) to the server side, which requires a
 * client certificate from `anchors` and forwards in plaintext to `backendPort`. `client`/`server`: `{ certPath,
 * keyPath }` (PEM); their configs are written into `dir`. Resolves with both pids and `port` once both accept.
 */
export async function haproxyMesh(dir, { cpu, port, backendPort, client, server, anchors, serverName }) {
  const pem = (name, c) => {
    const path = join(dir, `${name}.pem`);
    writeFileSync(path, readFileSync(c.certPath, 'utf8') + readFileSync(c.keyPath, 'utf8'));
    return path;
  };
  const common = 'global\n  nbthread 1\n  maxconn 4096\n  ssl-default-bind-options ssl-min-ver TLSv1.3\n  ssl-default-server-options ssl-min-ver TLSv1.3\n' +
    'defaults\n  mode http\n  timeout client 30s\n  timeout server 30s\n  timeout connect 5s\n  option http-keep-alive\n';
  const innerPort = await freePort();
  const serverCfg = join(dir, 'haproxy-mesh-server.cfg');
  writeFileSync(serverCfg, `${common}frontend inbound\n  bind 127.0.0.1:${innerPort} ssl crt ${pem('haproxy-mesh-server', server)} ca-file ${anchors} verify required alpn http/1.1\n  default_backend app\n` +
    `backend app\n  http-reuse always\n  server app 127.0.0.1:${backendPort}\n`);
  const clientCfg = join(dir, 'haproxy-mesh-client.cfg');
  writeFileSync(clientCfg, `${common}frontend outbound\n  bind 127.0.0.1:${port}\n  default_backend peer\n` +
    `backend peer\n  http-reuse always\n  server peer 127.0.0.1:${innerPort} ssl crt ${pem('haproxy-mesh-client', client)} ca-file ${anchors} verify required verifyhost ${serverName} sni str(${serverName}) alpn http/1.1\n`);
  const s = await start('haproxy-mesh-server', onCpu(cpu, ['haproxy', '-db', '-f', serverCfg]));
  await waitPort(innerPort, s.child);
  const c = await start('haproxy-mesh-client', onCpu(cpu, ['haproxy', '-db', '-f', clientCfg]));
  await waitPort(port, c.child);
  return { pids: [c.child.pid, s.child.pid], port };
}

/**
 * The backends on the load's CPU: HAProxy answering a static 200 itself over HTTP/1 (`http1`) and over h2c (`h2`), and
 * grpc-backend.mjs (`grpc`); `grpcRequest` is a file with one gRPC request message for h2load.
 */
export async function backends(dir) {
  const backend = async (name, h2) => (await haproxy(dir, name, LOAD_CPU, await freePort(), undefined, h2)).port;
  const http1 = await backend('backend', false);
  const h2 = await backend('backend-h2', true);
  const { match } = await start('backend-grpc', onCpu(LOAD_CPU, [process.execPath, new URL('./grpc-backend.mjs', import.meta.url).pathname]), /READY (\d+)/);
  return { http1, h2, grpc: Number(match[1]), grpcRequest: grpcRequestFile(dir) };
}
