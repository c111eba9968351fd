#!/usr/bin/env node
// The HTTP/1 hop when requests do not all carry the same header fields: `node bench/proxy/header-shapes.mjs`.
// The other benches send one request head over and over (wrk's, h2load's); a pod's callers send many (browsers, SDKs,
// tracing headers present or not, in their own order). The proxy keeps a request's fields in a plain object, and V8
// gives such objects one hidden class per sequence of field names, so code that reads them sees more than one class.
// This measures what that costs: wrk (a Lua script on the load's CPU) sends either one request head again and again
// ("one") or cycles through SHAPES heads of 3 to 10 common fields in varied sets and orders ("many"; the same field
// values, so the bytes per request are about the same). weft's hop and HAProxy's (one thread, the proxies' CPU) each
// take both, in WEFT_BENCH_ROUNDS rounds (default 6) of WEFT_BENCH_SECONDS (default 5) alternating the order. HAProxy
// does not care about field order: its many / one is the load generator's own difference, the baseline for weft's.
// Last line: JSON, per proxy: rps and CPU µs per request (user, kernel) per round for each load, and
// `rps_ratio_many_vs_one`, `cpu_ratio_many_vs_one` (medians over rounds of each round's ratio).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLIENT_ID, LOAD_CPU, PROXY_CPU, SERVICE, backends, benchPki, cpuCounter, freePort, haproxy, median, onCpu, round, run, startWeft, weftProxyEntry } from './lib.mjs';

const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 6);
const SECONDS = Number(process.env.WEFT_BENCH_SECONDS ?? 5);
const SHAPES = 64;

const FIELDS = [
  ['user-agent', 'curl/8.5.0'],
  ['accept', '*/*'],
  ['accept-encoding', 'gzip'],
  ['x-request-id', '6f1c0e2a-9d3b-4c55-8a61-2b7e0f4d9c13'],
  ['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
  ['content-type', 'application/json'],
  ['authorization', 'Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln'],
  ['x-forwarded-for', '10.0.0.1'],
  ['cookie', 'session=abc'],
  ['accept-language', 'en'],
];

/** SHAPES distinct field lists: shape i takes a scattered subset of FIELDS (3 or more), rotated by i. */
function shapes() {
  const out = [];
  const seen = new Set();
  for (let i = 0; out.length < SHAPES; i++) {
    const mask = ((i * 2654435761) >>> 22) & 0x3ff;
    const rotated = FIELDS.map((_, j) => FIELDS[(j + i) % FIELDS.length]);
    const fields = rotated.filter((_, j) => mask & (1 << j));
    const key = fields.map(([name]) => name).join(',');
    if (fields.length >= 3 && !seen.has(key)) {
      seen.add(key);
      out.push(fields);
    }
  }
  return out;
}

/** A wrk script that sends the given request heads in turn (raw, so that each keeps its field order). */
function script(heads) {
  const lua = (s) => s.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\r', '\\r').replaceAll('\n', '\\n');
  const list = heads.map((fields) => `  "${lua(`GET / HTTP/1.1\r\nHost: ${SERVICE}\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`)}"`);
  return `local heads = {\n${list.join(',\n')}\n}\nlocal n = 0\nrequest = function()\n  n = n + 1\n  return heads[(n % #heads) + 1]\nend\n`;
}

const dir = mkdtempSync(join(tmpdir(), 'weft-header-shapes-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const many = shapes();
// The one shape: one of the many, with their median number of fields.
const sizes = many.map((f) => f.length).sort((a, b) => a - b);
const one = many.find((f) => f.length === sizes[Math.floor(sizes.length / 2)]);
const scripts = { one: join(dir, 'one.lua'), many: join(dir, 'many.lua') };
writeFileSync(scripts.one, script([one]));
writeFileSync(scripts.many, script(many));

const backend = await backends(dir);
const { pki, root, clientCert } = benchPki();
const hop = await startWeft('weft-hop', await weftProxyEntry(dir), {
  name: CLIENT_ID,
  cert: clientCert.certPath,
  key: clientCert.keyPath,
  anchors: root.certPath,
  routes: [{ authority: `${SERVICE}:80`, ip: '127.0.0.1', port: backend.http1 }],
});
pki.dispose();
const haproxyHop = await haproxy(dir, 'haproxy-hop', PROXY_CPU, await freePort(), backend.http1);
const proxies = { weft: { port: hop.ports.outbound, pid: hop.pid }, haproxy: haproxyHop };

async function load(proxy, which) {
  const cpu = cpuCounter([proxy.pid]);
  const out = await run(onCpu(LOAD_CPU, ['wrk', '-t1', '-c32', `-d${SECONDS}s`, '-s', scripts[which], `http://127.0.0.1:${proxy.port}/`]));
  const [used] = cpu();
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (errors) throw new Error(`wrk saw ${errors[1]} error responses:\n${out}`);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]), user_us_per_req: round(used.user / requests, 2), sys_us_per_req: round(used.sys / requests, 2) };
}

// Warm-up (JIT, connection pools, every shape seen once), not counted.
for (const p of Object.values(proxies)) for (const which of ['one', 'many']) await load(p, which);

const result = { shapes: many.length, fields_one: one.length, rounds: ROUNDS, seconds: SECONDS };
const runs = Object.fromEntries(Object.keys(proxies).map((k) => [k, { one: [], many: [] }]));
for (let i = 0; i < ROUNDS; i++) {
  for (const [name, p] of Object.entries(proxies)) {
    for (const which of i % 2 === 0 ? ['one', 'many'] : ['many', 'one']) runs[name][which].push(await load(p, which));
  }
  process.stderr.write(`round ${i + 1}/${ROUNDS}: ${JSON.stringify(Object.fromEntries(Object.entries(runs).map(([k, r]) => [k, round(r.many[i].rps / r.one[i].rps)])))}\n`);
}
const cpu = (r) => r.user_us_per_req + r.sys_us_per_req;
for (const [name, r] of Object.entries(runs)) {
  result[name] = {
    ...r,
    rps_ratio_many_vs_one: round(median(r.one.map((o, i) => r.many[i].rps / o.rps))),
    cpu_ratio_many_vs_one: round(median(r.one.map((o, i) => cpu(r.many[i]) / cpu(o)))),
    user_ratio_many_vs_one: round(median(r.one.map((o, i) => r.many[i].user_us_per_req / o.user_us_per_req))),
  };
}
console.log(JSON.stringify(result));
process.exit(0);
