/**
 * Running commands for the sandbox: to completion (`runCommand`, never
 * throws for an exit code) and must-succeed (`mustRun`, the error names the
 * command and its stderr).
 */
import { spawn } from 'node:child_process';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; never throws for a non-zero exit. */
export function runCommand(argv: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const hasInput = options.input !== undefined;
    // Own process group, so a timeout kills grandchildren that still hold the pipes open.
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [hasInput ? 'pipe' : 'ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = options.timeoutMs
      ? setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }, options.timeoutMs)
      : undefined;
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    if (hasInput) {
      // A command may exit without reading its input; that is its answer, not our error.
      child.stdin!.on('error', () => {});
      child.stdin!.end(options.input);
    }
  });
}

/** Runs a command that must succeed; the error names the command and its stderr. */
export async function mustRun(argv: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await runCommand(argv, options);
  if (r.code !== 0) throw new Error(`\`${argv.join(' ')}\` failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}
