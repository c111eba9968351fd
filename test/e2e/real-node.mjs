#!/usr/bin/env node
// The real node is the e2e environment now (run.mjs): this name stays for
// scripts that still call it. `--weft` (weft's images and scenarios) is what
// run.mjs always does, so it is accepted and dropped. Signals are passed on,
// so the environment's teardown runs.
import { spawn } from 'node:child_process';

const run = new URL('./run.mjs', import.meta.url).pathname;
const child = spawn(process.execPath, [run, ...process.argv.slice(2).filter((a) => a !== '--weft')], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, sig) => process.exit(code ?? (sig ? 1 : 0)));
