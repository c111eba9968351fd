/**
 * traffic: the demo's load generator, a steady request rate against web.
 * Prints a one-line summary every 10 s so the demo log shows it working.
 */
import { httpGet, type Upstream } from './upstream.js';

export interface TrafficOptions {
  readonly web: Upstream;
  readonly rps: number;
}

export function startTraffic(opts: TrafficOptions): () => void {
  let sent = 0;
  let ok = 0;
  let n = 0;
  const tick = setInterval(() => {
    sent++;
    httpGet(opts.web, `/authors/${(n++ % 4) + 1}`, 10_000).then(
      (r) => {
        if (r.status === 200) ok++;
      },
      () => undefined,
    );
  }, 1000 / opts.rps);
  const report = setInterval(() => {
    process.stdout.write(`traffic: ${sent} requests, ${ok} succeeded\n`);
  }, 10_000);
  return () => {
    clearInterval(tick);
    clearInterval(report);
  };
}
