// A meshed traffic loop: from inside a pod (lib/pod-exec.mjs prefix), one
// curl at a time every `intervalS`, each HTTP status (000 = no response)
// appended to a file; the scenarios count the statuses that are not 200.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

/** Starts the loop; `stop()` kills it (once) and returns every status seen. */
export function trafficLoop(podNet, url, statusFile, { intervalS = 0.2, maxTimeS = 5 } = {}) {
  writeFileSync(statusFile, '');
  const script = `while :; do curl -s -o /dev/null -w '%{http_code}\\n' --max-time ${maxTimeS} '${url}' >> '${statusFile}'; sleep ${intervalS}; done`;
  const loop = spawn(podNet[0], [...podNet.slice(1), 'sh', '-c', script], { stdio: 'ignore', detached: true });
  const statuses = () => readFileSync(statusFile, 'utf8').split('\n').filter(Boolean);
  let stopped;
  return {
    statuses,
    stop() {
      if (!stopped) {
        try {
          process.kill(-loop.pid, 'SIGKILL');
        } catch {
          // gone
        }
        stopped = statuses();
      }
      return stopped;
    },
  };
}
