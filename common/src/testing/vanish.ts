/**
 * A peer that vanishes for real, as when its node goes away: iptables rules drop every packet to and from a local
 * port on this host, so no FIN and no RST reaches either end, and both kernels see what they see when a node dies
 * (unanswered retransmissions and keepalive probes). Root only; `vanishUnavailable()` says why not.
 */
import { mustRun, runCommand } from '../sandbox/commands.js';

/** Why the rules cannot be set here, or undefined when they can. */
export async function vanishUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'iptables is Linux only';
  if (process.getuid?.() !== 0) return 'needs root (iptables rules on the loopback)';
  const r = await runCommand(['iptables', '-w', '-L', 'INPUT', '-n']);
  return r.code === 0 ? undefined : `iptables cannot list INPUT: ${r.stderr.trim()}`;
}

/** Drops every TCP packet to or from `port` until `restore` (marked with this process's id, so they are told apart). */
export async function vanish(port: number): Promise<{ restore(): Promise<void> }> {
  const comment = `weft-vanish-${process.pid}-${port}`;
  const rules = ['--dport', '--sport'].map((dir) => ['INPUT', '-p', 'tcp', dir, String(port), '-m', 'comment', '--comment', comment, '-j', 'DROP']);
  for (const r of rules) await mustRun(['iptables', '-w', '-I', ...r]);
  return {
    async restore() {
      for (const r of rules) await runCommand(['iptables', '-w', '-D', ...r]);
    },
  };
}
