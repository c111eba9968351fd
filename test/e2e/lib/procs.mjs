// Supervises the environment's long-running processes. Each one gets its own
// process group (detached) so teardown can kill it with everything it forked,
// its log goes to a file in the run directory, and its pid is recorded in the
// run's pid file so the next run can sweep what a crashed run left behind.
import { spawn } from 'node:child_process';
import { appendFileSync, openSync, closeSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export class Supervisor {
  /** @param {string} dir run directory (logs, pid file) */
  constructor(dir) {
    this.dir = dir;
    this.pidFile = join(dir, 'pids');
    /** @type {{name: string, child: import('node:child_process').ChildProcess, exited: boolean}[]} */
    this.procs = [];
  }

  /** Starts `cmd args` in its own process group, logging to <dir>/<name>.log. */
  start(name, cmd, args, opts = {}) {
    const logPath = join(this.dir, `${name}.log`);
    const fd = openSync(logPath, 'a');
    const child = spawn(cmd, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    closeSync(fd);
    const entry = { name, child, exited: false, logPath, code: null };
    child.on('exit', (code, signal) => {
      entry.exited = true;
      entry.code = code ?? signal;
    });
    child.on('error', (err) => {
      entry.exited = true;
      entry.code = err.message;
    });
    if (child.pid) appendFileSync(this.pidFile, `${child.pid} ${cmd}\n`);
    this.procs.push(entry);
    return entry;
  }

  /** Throws with the tail of its log if a supervised process has died. */
  assertAlive(entry) {
    if (entry.exited) throw new Error(`${entry.name} exited (${entry.code}); log tail:\n${tail(entry.logPath)}`);
  }

  /**
   * Kills every process group: SIGTERM, then SIGKILL after a grace period.
   * Those named in `last` go in a second round (etcd: the API server shuts
   * down gracefully only while its store still answers).
   */
  async stopAll(graceMs = 5000, last = []) {
    const firstRound = this.procs.filter((p) => !last.includes(p.name));
    const secondRound = this.procs.filter((p) => last.includes(p.name));
    this.killed = [...(await stopRound(firstRound, graceMs)), ...(await stopRound(secondRound, graceMs))];
    this.procs = [];
    // Everything is gone: nothing for the next run to sweep.
    rmSync(this.pidFile, { force: true });
  }
}

/** SIGTERM to each group, SIGKILL after `graceMs`; resolves the names that needed SIGKILL once all are reaped. */
async function stopRound(procs, graceMs) {
  for (const p of [...procs].reverse()) {
    if (!p.exited) signalGroup(p.child.pid, 'SIGTERM');
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && procs.some((p) => !p.exited)) await sleep(100);
  const stubborn = procs.filter((p) => !p.exited).map((p) => p.name);
  for (const p of procs) {
    // The group may hold grandchildren even after the leader exited.
    signalGroup(p.child.pid, 'SIGKILL');
  }
  // Wait until the killed leaders are reaped, so a check right after sees them gone.
  const reapDeadline = Date.now() + 5000;
  while (Date.now() < reapDeadline && procs.some((p) => !p.exited)) await sleep(50);
  return stubborn;
}

export function signalGroup(pid, signal) {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Kills the process groups listed in the pid file of a run that died before
 * its teardown, but only those whose leader still runs the recorded program
 * (a pid may have been reused by someone else's process since).
 */
export function sweepPidFile(pidFile) {
  if (!existsSync(pidFile)) return 0;
  let n = 0;
  for (const line of readFileSync(pidFile, 'utf8').split('\n')) {
    const [pidText, cmd] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
    const pid = Number(pidText);
    if (!(pid > 1) || !cmd) continue;
    let argv0;
    try {
      argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    } catch {
      continue; // gone
    }
    if (argv0 !== cmd) continue;
    signalGroup(pid, 'SIGKILL');
    n++;
  }
  rmSync(pidFile, { force: true });
  return n;
}

export function tail(path, lines = 30) {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; throws `what` with the last error on timeout. */
export async function waitFor(what, fn, { timeoutMs = 120_000, intervalMs = 250 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message ?? last}` : ''}`);
    await sleep(intervalMs);
  }
}
