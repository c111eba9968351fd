#!/usr/bin/env node
// How often this machine takes a CPU away, as context for the benches' tail latencies:
//   node bench/proxy/stall-probe.mjs <seconds>   (run it pinned: taskset -c <cpu>)
// A 1 ms timer on an otherwise idle event loop; a tick that comes more than 3 ms after the one before is a stall
// (the process was not running: the hypervisor or another task had the CPU). On a quiet machine each stall delays
// every request that crosses that CPU at the time, so a few stalls a second show up in a p99 at 1,000 rps.
// Prints one JSON line: ticks, stalls_over_3ms, stalls_per_s, stalled_ms_per_s (time lost beyond 1 ms in them),
// max_ms.
import { performance } from 'node:perf_hooks';

const seconds = Number(process.argv[2] ?? 10);
const STALL_MS = 3;
const gaps = [];
let ticks = 0;
let last = performance.now();
const timer = setInterval(() => {
  const now = performance.now();
  if (now - last > STALL_MS) gaps.push(now - last);
  last = now;
  ticks++;
}, 1);
setTimeout(() => {
  clearInterval(timer);
  const round = (x) => Math.round(x * 100) / 100;
  console.log(JSON.stringify({
    seconds,
    ticks,
    stalls_over_3ms: gaps.length,
    stalls_per_s: round(gaps.length / seconds),
    stalled_ms_per_s: round(gaps.reduce((s, g) => s + g - 1, 0) / seconds),
    max_ms: round(Math.max(0, ...gaps)),
  }));
}, seconds * 1000);
