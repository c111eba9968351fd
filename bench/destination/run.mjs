#!/usr/bin/env node
// `npm run bench:destination`: 500 services × 10 endpoints in the in-memory
// source, 100 subscribed Get streams over real gRPC + mTLS; 1,000 endpoint
// changes one at a time. Prints JSON: rss_mib and the p99 update-to-stream
// latency (change applied to the cache → update decoded by the client), and,
// in the same run, the full-resend baseline (every change re-sends the whole
// endpoint set) next to weft's diffs, both measured in-process on the same
// cache so the comparison isolates the translation strategy.
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers';
import { create, toBinary } from '@bufbuild/protobuf';
import { pino } from 'pino';
import { destination as api } from '@weft/api';
import { createGrpcClient } from '@weft/common';
import { TestPki } from '@weft/common/testing/pki';
import { startDestination, MemorySource, DEFAULT_SETTINGS } from '@weft/destination';
import { pod, service, slice } from '@weft/destination/testing/fixtures';
import { SubscriptionIndex } from '@weft/destination/watchers/subscriptions';
import { resolveEndpoints } from '@weft/destination/resolve/endpoints';
import { parseAuthority } from '@weft/destination/resolve/authority';
import { EndpointTranslator, toWeightedAddr } from '@weft/destination/translators/endpoint-translator';

const SERVICES = 500;
const ENDPOINTS = 10;
const STREAMS = 100;
const CHANGES = 1000;
const log = pino({ level: 'silent' });
const mib = (b) => Math.round((b / 1048576) * 10) / 10;
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 1000) / 1000;
};
const ipOf = (svc, ep, gen = 0) => `10.${(svc >> 8) & 255}.${svc & 255}.${ep + gen * ENDPOINTS + 1}`;

// --- control plane with the in-memory source --------------------------------
const pki = new TestPki();
const anchor = pki.cert({ subject: '/CN=root', ca: true });
const serverName = 'destination.weft.serviceaccount.identity.weft.cluster.local';
const server = pki.cert({ subject: '/CN=destination', issuer: anchor, dns: [serverName] });
const client = pki.cert({ subject: '/CN=bench', issuer: anchor, dns: ['bench.default.serviceaccount.identity.weft.cluster.local'] });
const source = new MemorySource();
const rssBefore = process.memoryUsage().rss;
function sliceOf(s) {
  const eps = [];
  for (let e = 0; e < ENDPOINTS; e++) eps.push({ ip: ipOf(s, e), pod: `svc-${s}-${e}` });
  return slice(`svc-${s}-a`, `svc-${s}`, [{ name: 'http', port: 8080 }], eps, 'bench');
}
for (let s = 0; s < SERVICES; s++) {
  source.apply('Service', service(`svc-${s}`, { namespace: 'bench', clusterIP: `10.96.${s >> 8}.${s & 255}`, ports: [{ name: 'http', port: 80, targetPort: 8080 }] }));
  // Pods for both generations of IPs the churn toggles between.
  for (let e = 0; e < ENDPOINTS * 2; e++) {
    source.apply('Pod', pod(`svc-${s}-${e}`, { namespace: 'bench', ip: ipOf(s, e % ENDPOINTS, Math.floor(e / ENDPOINTS)), meshed: e % 2 === 0, serviceAccount: `svc-${s}`, owner: `deployment/svc-${s}` }));
  }
  source.apply('EndpointSlice', sliceOf(s));
}
const controller = await startDestination({ source, log, tls: { ca: anchor.cert, cert: server.cert, key: server.key }, destinationPort: 0, policyPort: 0 });
const cache = controller.discovery.cache;

// --- 100 gRPC streams ---------------------------------------------------------
const dst = createGrpcClient(api.Destination, { baseUrl: `https://127.0.0.1:${controller.destinationPort}`, ca: anchor.cert, cert: client.cert, key: client.key, serverName });
const ac = new globalThis.AbortController();
setMaxListeners(STREAMS * 2, ac.signal); // one listener per stream on the shared signal
const waiters = new Map(); // service index → resolve(time)
const streamed = [];
for (let i = 0; i < STREAMS; i++) {
  const s = i * (SERVICES / STREAMS);
  const it = dst.get({ path: `svc-${s}.bench.svc.cluster.local:80` }, { signal: ac.signal })[Symbol.asyncIterator]();
  await it.next(); // snapshot
  streamed.push(s);
  void (async () => {
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        const w = waiters.get(s);
        if (w) w(performance.now());
      }
    } catch {
      /* aborted at the end */
    }
  })();
}
globalThis.gc?.();
const rss = process.memoryUsage().rss;

// One change replaces ONE endpoint of a service (a pod rescheduled): its slot
// toggles between two generations of IPs, so every change really changes the
// set (1 remove + 1 add for diffs).
const gens = new Map();
const turns = new Map();
function churn(s) {
  const g = gens.get(s) ?? new Array(ENDPOINTS).fill(0);
  const t = turns.get(s) ?? 0;
  g[t % ENDPOINTS] ^= 1;
  gens.set(s, g);
  turns.set(s, t + 1);
  const eps = g.map((gen, e) => ({ ip: ipOf(s, e, gen), pod: `svc-${s}-${e + gen * ENDPOINTS}` }));
  source.apply('EndpointSlice', slice(`svc-${s}-a`, `svc-${s}`, [{ name: 'http', port: 8080 }], eps, 'bench'));
}

const grpcLatency = [];
for (let n = 0; n < CHANGES; n++) {
  const s = streamed[n % STREAMS];
  const got = new Promise((r) => waiters.set(s, r));
  const t0 = performance.now();
  churn(s);
  grpcLatency.push((await got) - t0);
  waiters.delete(s);
}
ac.abort();

// --- side by side, in-process: weft's diffs vs full resend ---------------------
async function inProcess(mode) {
  const subs = new SubscriptionIndex(cache);
  const latency = [];
  let bytes = 0;
  let messages = 0;
  let pending;
  for (const s of streamed) {
    const target = parseAuthority(`svc-${s}.bench.svc.cluster.local:80`, DEFAULT_SETTINGS.clusterDomain);
    const send = (u) => {
      bytes += toBinary(api.UpdateSchema, u).length;
      messages++;
      pending?.(performance.now());
    };
    const translator = new EndpointTranslator(send);
    subs.add({
      refresh() {
        const r = resolveEndpoints(cache, target, DEFAULT_SETTINGS);
        if (mode === 'diff') translator.update(r.state);
        else if (r.state.kind === 'endpoints') {
          send(create(api.UpdateSchema, { update: { case: 'add', value: { addrs: [...r.state.endpoints.values()].map(toWeightedAddr), metricLabels: { ...r.state.setLabels } } } }));
        }
        return r.deps;
      },
    });
  }
  bytes = 0;
  messages = 0;
  for (let n = 0; n < CHANGES; n++) {
    const s = streamed[n % STREAMS];
    const got = new Promise((r) => (pending = r));
    const t0 = performance.now();
    churn(s);
    latency.push((await got) - t0);
    await new Promise((r) => setImmediate(r)); // let the second message of a diff (remove+add) land
  }
  subs.close();
  return { p50_ms: pct(latency, 50), p99_ms: pct(latency, 99), bytes_per_change: Math.round(bytes / CHANGES), messages_per_change: messages / CHANGES };
}
const diff = await inProcess('diff');
const full = await inProcess('full-resend');

await controller.close();
pki.dispose();
console.log(
  JSON.stringify(
    {
      bench: 'destination',
      services: SERVICES,
      endpoints_per_service: ENDPOINTS,
      streams: STREAMS,
      changes: CHANGES,
      rss_mib: mib(rss),
      rss_growth_mib: mib(rss - rssBefore),
      p50_update_to_stream_ms: pct(grpcLatency, 50),
      p99_update_to_stream_ms: pct(grpcLatency, 99),
      in_process: { diff, full_resend_baseline: full },
    },
    null,
    2,
  ),
);
process.exit(0);
