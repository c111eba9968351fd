#!/usr/bin/env node
// HTTP load from inside a pod's network (run under lib/pod-exec.mjs's
// prefix, so its requests leave through the pod's iptables into its proxy):
// `concurrency` workers, each sending GETs back to back on kept-alive
// connections, until `seconds` have passed or SIGTERM. Prints one JSON line:
// requests, failures (non-200 or errors, with the first few), and how many
// responses each serving pod gave (the echo app names its pod).
//
//   node load.mjs URL SECONDS CONCURRENCY
import http from 'node:http';
import { lookup } from 'node:dns/promises';

const [url, seconds, concurrency] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4] ?? 8)];
if (!url || !(seconds > 0)) {
  console.error('usage: load.mjs URL SECONDS [CONCURRENCY]');
  process.exit(2);
}
// Resolved once through the pod's resolv.conf (cluster DNS), then pinned: a reconnect after a pod goes
// away must not wait on the test DNS stand-in, which weft's data path never sees.
const { address } = await lookup(new URL(url).hostname, { family: 4 });
const pinned = (_host, opts, cb) => (opts?.all ? cb(null, [{ address, family: 4 }]) : cb(null, address, 4));
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, lookup: pinned });
const out = { requests: 0, failures: 0, errors: [], byPod: {} };
let stop = false;
const deadline = Date.now() + seconds * 1000;
process.on('SIGTERM', () => {
  stop = true;
});

/** One GET; resolves exactly once, whatever way the exchange ends (response, error, timeout, reset). */
function once() {
  return new Promise((resolve) => {
    let done = false;
    const finish = (failure) => {
      if (done) return;
      done = true;
      out.requests++;
      if (failure) {
        out.failures++;
        if (out.errors.length < 10) out.errors.push(`${new Date().toISOString()} ${failure}`);
      }
      resolve();
    };
    const req = http.get(url, { agent, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        if (res.statusCode !== 200) return finish(`HTTP ${res.statusCode} ${body.slice(0, 200)}`);
        try {
          const pod = JSON.parse(body).pod ?? 'unknown';
          out.byPod[pod] = (out.byPod[pod] ?? 0) + 1;
        } catch {
          out.byPod.unparsed = (out.byPod.unparsed ?? 0) + 1;
        }
        finish();
      });
      res.on('error', (err) => finish(`${err.code ?? ''} ${err.message} (response)`));
      res.on('close', () => finish('connection closed before the response ended'));
    });
    req.on('timeout', () => req.destroy(new Error('timeout after 10s')));
    req.on('error', (err) => finish(`${err.code ?? ''} ${err.message}`));
  });
}

async function worker() {
  while (!stop && Date.now() < deadline) await once();
}

const started = Date.now();
await Promise.all(Array.from({ length: concurrency }, worker));
agent.destroy();
console.log(JSON.stringify({ ...out, seconds: Math.round((Date.now() - started) / 100) / 10 }));
