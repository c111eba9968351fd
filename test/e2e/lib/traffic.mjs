// A meshed traffic loop: from inside a pod (lib/pod-exec.mjs prefix), one
// curl at a time every `intervalS`, each HTTP status (000 = no response)
// appended to a file with the time it was sent; the scenarios count the
// statuses that are not 200.
// The Service name is resolved once, at the start, through the pod's
// resolv.conf and the cluster DNS, then pinned (`curl --resolve`): every
// counted request goes to the same cluster IP with the same Host header as
// before, but a UDP query the test DNS stand-in answered late cannot count
// as a failure of weft's data path (the proxy never sees DNS).
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

/** Starts the loop; `stop()` kills it (once) and returns every status seen. */
export function trafficLoop(podNet, url, statusFile, { intervalS = 0.2, maxTimeS = 5 } = {}) {
  writeFileSync(statusFile, '');
  // A failure line also says why (curl's exit code and message: DNS, connect, timeout …).
  const { hostname, port } = new URL(url);
  const pin = `${hostname}:${port || 80}`;
  const script = [
    `ip=$(getent ahostsv4 '${hostname}' | head -n 1 | cut -d ' ' -f 1)`,
    `[ -n "$ip" ] || { echo "000 6 could not resolve ${hostname}" >> '${statusFile}'; exit 1; }`,
    // Each line ends with the time the request was sent (UTC), to match a failure with the node's and pods' logs.
    `while :; do t=$(date -u +%T.%3N); curl -s -o /dev/null -w "%{http_code} %{exitcode} %{errormsg} (sent $t)\\n" --resolve "${pin}:$ip" --max-time ${maxTimeS} '${url}' >> '${statusFile}'; sleep ${intervalS}; done`,
  ].join('\n');
  const loop = spawn(podNet[0], [...podNet.slice(1), 'sh', '-c', script], { stdio: 'ignore', detached: true });
  // '200' for a success; '000 28 Operation timed out … (sent 01:27:56.812)' for a failure.
  const statuses = () => readFileSync(statusFile, 'utf8').split('\n').filter(Boolean).map((l) => (l.startsWith('200 0') ? '200' : l.trim()));
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
