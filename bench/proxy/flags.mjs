#!/usr/bin/env node
// Node options for the hop, several sets side by side in one run:
//   node bench/proxy/flags.mjs '{"pod": "", "pod again": "", "maglev": "--maglev", "no arenas": "| MALLOC_ARENA_MAX=1"}'
// Each value is Node options added after the pod's (lib.mjs POD_NODE_FLAGS; a value starting with `=` replaces them),
// then optionally `|` and space-separated NAME=value added to that proxy's environment. The first set is the baseline;
// name it twice to see what the run resolves (the second copy's ratios are the null's). A word `@<dist>` among the
// options runs that build instead of this one (another checkout's proxy/dist, as ab.mjs takes its baseline), so
// two builds compare the same way: '{"before": "@/tmp/base/proxy/dist", "before again": "@/tmp/base/proxy/dist", "after": ""}'.
// Every set gets its own hop proxy of its build (bundled, on the image's Node, pinned to the proxies' CPU), all
// started together. Then, as run.mjs measures the issue's memory: each hop's RSS after IDLE_SECONDS without traffic,
// then its peak RSS at 2,000 rps for 10 s (h2load, before any full-speed load), one hop after another. Then
// WEFT_BENCH_ROUNDS rounds (default 12) of wrk at full speed for WEFT_BENCH_SECONDS (default 5) through each hop,
// the order rotated every round so that no set always goes first: requests/s and CPU µs per request (/proc).
// ab.mjs compares two builds or two sets over every protocol in a few rounds; this compares many sets on the
// HTTP/1 hop in many rounds, which is what resolves effects of ~5 % on a shared machine.
// Last line: JSON, per set: rss_idle_mib, rss_at_2000_rps_mib (peak, end), rps and cpu_us_per_req per round,
// rps_ratio and cpu_ratio (median over rounds of the round's ratio to the first set), rss_after_load_mib.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLIENT_ID, POD_NODE, POD_NODE_FLAGS, SERVICE, backends, benchPki, fixedRate, median, round, rssMiB, startWeft, weftProxyEntry, wrkLoad } from './lib.mjs';

const USAGE = `usage: node bench/proxy/flags.mjs '{"<name>": "<Node options>[ | NAME=value ...]", ...}' (two sets or more)`;
let sets;
try {
  sets = Object.entries(JSON.parse(process.argv[2] ?? ''));
} catch (err) {
  console.error(`${USAGE}\n${err.message}`);
  process.exit(2);
}
if (sets.length < 2 || !sets.every(([, v]) => typeof v === 'string')) {
  console.error(USAGE);
  process.exit(2);
}
const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 12);
const SECONDS = Number(process.env.WEFT_BENCH_SECONDS ?? 5);
const IDLE_SECONDS = 16;
const RSS_RATE = 2000;

/** "--a --b @/other/proxy/dist | X=1 Y=2" → { flags, env, dist }. */
function parseSet(value) {
  const [options, environment = ''] = value.split('|');
  const words = (s) => s.split(/\s+/).filter(Boolean);
  const builds = words(options).filter((w) => w.startsWith('@'));
  if (builds.length > 1) throw new Error(`more than one build in a set: ${builds.join(' ')}`);
  const dist = builds[0]?.slice(1);
  const own = options.replace(/(^|\s)@\S+/g, ' ').trim();
  const flags = own.startsWith('=') ? words(own.slice(1)) : [...POD_NODE_FLAGS, ...words(own)];
  const env = Object.fromEntries(words(environment).map((kv) => {
    const eq = kv.indexOf('=');
    if (eq < 1) throw new Error(`not NAME=value: ${kv}`);
    return [kv.slice(0, eq), kv.slice(eq + 1)];
  }));
  return { flags, env, dist };
}

const dir = mkdtempSync(join(tmpdir(), 'weft-flags-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
process.on('SIGINT', () => process.exit(130));
const log = (msg) => process.stderr.write(`flags: ${msg}\n`);

const { pki, root, clientCert } = benchPki();
const backend = await backends(dir);
/** One bundle per build: this one, and each other proxy/dist a set names (in a directory of its own). */
const entries = new Map();
const entryFor = async (dist) => {
  const key = dist ?? '';
  if (!entries.has(key)) {
    const at = join(dir, `build-${entries.size}`);
    mkdirSync(at);
    entries.set(key, await weftProxyEntry(at, dist === undefined ? {} : { dist }));
  }
  return entries.get(key);
};
const hops = [];
for (const [name, value] of sets) {
  const { flags, env, dist } = parseSet(value);
  const entry = await entryFor(dist);
  const spec = { name: CLIENT_ID, cert: clientCert.certPath, key: clientCert.keyPath, anchors: root.certPath, routes: [{ authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backend.http1 }] };
  // --expose-gc: the harness collects once before READY, as ab.mjs and run.mjs start theirs.
  hops.push({ name, flags, env, dist, proxy: await startWeft(name, entry, spec, ['--expose-gc', ...flags], env), rps: [], cpu: [] });
}
pki.dispose();

log(`${IDLE_SECONDS}s idle`);
await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
for (const h of hops) h.rssIdle = round(rssMiB(h.proxy.pid), 1);
for (const h of hops) {
  h.rss2000 = await fixedRate({ port: h.proxy.ports.outbound, rate: RSS_RATE, seconds: 10, authority: SERVICE, logFile: join(dir, 'rss.log'), pid: h.proxy.pid });
  log(`${h.name}: idle ${h.rssIdle} MiB, at ${RSS_RATE} rps ${JSON.stringify(h.rss2000)}`);
}

const load = (h, seconds) => wrkLoad(h.proxy.ports.outbound, [h.proxy.pid], { seconds, authority: SERVICE });
for (const h of hops) await load(h, 3); // warm-up, not counted
for (let i = 0; i < ROUNDS; i++) {
  for (let k = 0; k < hops.length; k++) {
    const h = hops[(i + k) % hops.length];
    const r = await load(h, SECONDS);
    h.rps.push(Math.round(r.rps));
    h.cpu.push(round(r.cpu_us_per_req, 1));
  }
  log(`round ${i + 1}: ${hops.map((h) => `${h.name} ${h.rps[i]}`).join(', ')}`);
}

const base = hops[0];
const ratio = (xs, of) => round(median(xs.map((x, i) => x / of[i])));
console.log(JSON.stringify({
  node: POD_NODE,
  rounds: ROUNDS,
  seconds: SECONDS,
  sets: Object.fromEntries(hops.map((h) => [h.name, {
    build: h.dist ?? "this checkout",
    flags: h.flags,
    env: h.env,
    rss_idle_mib: h.rssIdle,
    rss_at_2000_rps_mib: { peak: h.rss2000.rss_peak_mib, end: h.rss2000.rss_end_mib },
    rps: h.rps,
    cpu_us_per_req: h.cpu,
    rps_ratio: ratio(h.rps, base.rps),
    cpu_ratio: ratio(h.cpu, base.cpu),
    rss_after_load_mib: round(rssMiB(h.proxy.pid), 1),
  }])),
}));
process.exit(0);
