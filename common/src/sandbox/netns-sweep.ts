#!/usr/bin/env node
/**
 * `node common/dist/sandbox/netns-sweep.js [--all]`: removes network namespaces,
 * bridges, veths and processes left by PodNetwork harnesses whose process died
 * (a killed demo, a crashed test). `--all` also removes live harnesses'.
 */
import { sweep, netnsUnavailable } from './netns.js';

const problem = await netnsUnavailable();
if (problem) {
  process.stderr.write(`weft netns sweep: ${problem}\n`);
  process.exit(1);
}
const removed = await sweep({ all: process.argv.includes('--all') });
process.stdout.write(`weft netns sweep: removed ${removed.namespaces.length} namespace(s), ${removed.links.length} link(s)\n`);
for (const name of [...removed.namespaces, ...removed.links]) process.stdout.write(`  ${name}\n`);
