// The `weft` binary's manners in a shell, run as a child process against real
// weft proxies (the proxy's in-process test mesh) with live traffic, a real
// Prometheus and viz: a closed pipe ends it quietly with exit 0, --watch
// redraws stat and top, colours and progress appear only on a terminal (a real
// pseudo-terminal from util-linux `script`) and never with NO_COLOR, and the
// completion scripts are valid and complete verbs in real shells.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startRealProxyMesh, CLIENT_ID, type RealProxyMesh } from '@weft/viz/testing/real-proxy-mesh';

const WEFT = fileURLToPath(new URL('../bin/weft.js', import.meta.url));
const run = promisify(execFile);
let real: RealProxyMesh;
let stop = false;
let traffic: Promise<void> | undefined;
const ESC = '\x1b[';
/** ESC [ as a regular expression. */
const SGR = '\\x1b\\[';

/** `weft <args> --api-addr … --tap-addr …` as a shell word list. */
const weftCmd = (args: string) => `'${process.execPath}' '${WEFT}' ${args} --api-addr ${real.viz.apiUrl} --tap-addr ${real.viz.tapUrl}`;

/** Runs a bash command line; resolves with its output and status whatever it is. */
async function sh(line: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('bash', ['-c', line], { env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The command on a real pseudo-terminal (util-linux `script`): what a user at a terminal sees, stdout and stderr together. */
function onTerminal(args: string, env: NodeJS.ProcessEnv = {}) {
  return sh(`script -qefc ${JSON.stringify(weftCmd(args))} /dev/null`, { TERM: 'xterm-256color', ...env });
}

/** Starts `weft <args>` with piped output; `until` sees the output so far and says when to interrupt it. */
function interruptWhen(
  args: string[],
  until: (stdout: string) => boolean,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WEFT, ...args, '--api-addr', real.viz.apiUrl, '--tap-addr', real.viz.tapUrl], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let sent = false;
    const safety = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!sent && until(stdout)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(safety);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

before(async () => {
  real = await startRealProxyMesh({ appDelayMs: 5 });
  traffic = (async () => {
    for (let i = 0; !stop; i++) await real.send(i % 10 === 0 ? `/books/fail/${i}` : `/books/${i}`);
  })();
  await real.prometheus.scrapedAfter(new Date());
});

after(async () => {
  stop = true;
  await traffic;
  await real?.close();
});

test('weft viz tap | head -3 exits 0 without a stack trace when head closes the pipe', async () => {
  const r = await sh(`set -o pipefail; ${weftCmd('viz tap deploy/server -n test')} | head -3; echo "status=\${PIPESTATUS[*]}" >&2`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 3, r.stdout);
  assert.match(r.stdout, /^req id=/);
  // Only bash's status line on stderr: no "weft:" message, no stack trace.
  assert.equal(r.stderr.trim(), 'status=0 0');
});

test('weft viz top --watch | head and weft viz stat --watch | head end quietly too', async () => {
  for (const args of ['viz top deploy/server -n test --watch --interval 200ms', 'viz stat deploy -n test --watch --interval 200ms']) {
    const r = await sh(`set -o pipefail; ${weftCmd(args)} | head -2; echo "status=\${PIPESTATUS[*]}" >&2`);
    assert.equal(r.code, 0, `${args}: ${r.stderr}`);
    assert.equal(r.stderr.trim(), 'status=0 0', args);
  }
});

test('weft viz stat --watch draws a frame every interval until Ctrl-C, then exits 0', async () => {
  const frames = (s: string) => s.split('Every 0.3s: weft viz stat deploy -n test').length - 1;
  const r = await interruptWhen(['viz', 'stat', 'deploy', '-n', 'test', '--watch', '--interval', '300ms'], (out) => frames(out) >= 3);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(frames(r.stdout) >= 3, r.stdout);
  // Piped: frames are appended (no screen clearing), each with the server's row.
  assert.ok(!r.stdout.includes(`${ESC}2J`), 'no clear-screen into a pipe');
  for (const frame of r.stdout.split(/^Every /m).slice(1)) assert.match(frame, /^server\s+1\/1\s+\d+\.\d\d%/m, frame);
});

test('weft viz top --watch redraws the most requested paths while the tap runs', async () => {
  const r = await interruptWhen(
    ['viz', 'top', 'deploy/server', '-n', 'test', '--watch', '--interval', '300ms'],
    (out) => /\/books\/\d+\s+1\s/.test(out) && out.split('Every 0.3s').length > 3,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(CLIENT_ID), r.stdout);
  assert.match(r.stdout, /SOURCE\s+DESTINATION\s+METHOD\s+PATH\s+COUNT/);
});

test('colours only on a terminal: ANSI on a pty, none into a pipe, none with NO_COLOR', async (t) => {
  if (!existsSync('/usr/bin/script')) return t.skip('util-linux script is not installed');
  const tty = await onTerminal('viz stat deploy -n test');
  assert.equal(tty.code, 0, tty.stderr);
  assert.ok(tty.stdout.includes(`${ESC}1mNAME`), `bold header on a terminal: ${JSON.stringify(tty.stdout)}`);
  // 1 in 10 fails: the server's success rate is yellow (≥ 90 %) or red.
  assert.match(tty.stdout, new RegExp(`${SGR}3[13]m *\\d+\\.\\d\\d%${SGR}39m`));
  const noColor = await onTerminal('viz stat deploy -n test', { NO_COLOR: '1' });
  assert.equal(noColor.code, 0);
  assert.ok(!noColor.stdout.includes(ESC), JSON.stringify(noColor.stdout));
  assert.match(noColor.stdout, /server\s+1\/1/);
  const piped = await sh(weftCmd('viz stat deploy -n test'));
  assert.ok(!piped.stdout.includes(ESC));
  // Columns line up whether coloured or not: the right-aligned success rate ends under its header.
  const strip = (x: string) => x.replace(new RegExp(`${SGR}\\d+m`, 'g'), '').replace(/\r/g, '');
  for (const out of [strip(tty.stdout), piped.stdout]) {
    const [header, ...rows] = out.split('\n');
    const server = rows.find((r) => r.startsWith('server'))!;
    assert.equal(server.indexOf('%') + 1, header!.indexOf('SUCCESS') + 'SUCCESS'.length, out);
  }
});

test('long operations show progress on a terminal only', async (t) => {
  if (!existsSync('/usr/bin/script')) return t.skip('util-linux script is not installed');
  const tty = await onTerminal('viz top deploy/server -n test --duration 1s');
  assert.equal(tty.code, 0, tty.stderr);
  assert.match(tty.stdout, /tapping deploy\/server for 1s/);
  const piped = await sh(weftCmd('viz top deploy/server -n test --duration 1s'));
  assert.equal(piped.code, 0);
  assert.equal(piped.stderr, '', 'no progress into a pipe');
  assert.match(piped.stdout, /SOURCE\s+DESTINATION/);
  // weft check against a cluster that is not there: the spinner on a terminal, a clean report into a pipe.
  const kubeconfig = `--kubeconfig /nonexistent/weft-kubeconfig`;
  const check = await sh(`script -qefc ${JSON.stringify(`'${process.execPath}' '${WEFT}' check ${kubeconfig}`)} /dev/null`, {
    TERM: 'xterm-256color',
  });
  assert.match(check.stdout, /checking the cluster/);
  const checkPiped = await sh(`'${process.execPath}' '${WEFT}' check ${kubeconfig}`);
  assert.equal(checkPiped.code, 1, 'the unreachable API is a failed check');
  assert.doesNotMatch(checkPiped.stdout + checkPiped.stderr, /checking the cluster/);
});

test('weft completion bash is valid bash and completes verbs, subcommands, flags and choices', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-completion-'));
  const script = join(dir, 'weft.bash');
  writeFileSync(script, (await run(process.execPath, [WEFT, 'completion', 'bash'])).stdout);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal((await sh(`bash -n ${script}`)).code, 0);
  const complete = async (...words: string[]) => {
    const r = await sh(
      `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _weft_complete; echo "\${COMPREPLY[*]}"`,
    );
    assert.equal(r.stderr, '');
    return r.stdout.trim();
  };
  assert.equal(await complete('weft', 'vi'), 'viz');
  assert.equal(await complete('weft', 'com'), 'completion');
  // An option's value is not taken for a verb ("demo" is a verb and a namespace here).
  assert.equal(await complete('weft', '-n', 'demo', 'viz', 'st'), 'stat');
  assert.equal(await complete('weft', 'viz', 'stat', ''), 'ns deploy sts ds po svc');
  assert.equal(await complete('weft', 'viz', 'stat', 'deploy', '--wa'), '--watch');
  assert.equal(await complete('weft', '-o', ''), 'table wide json yaml');
  assert.equal(await complete('weft', 'completion', ''), 'bash zsh fish');
  // The same through bash's own completion machinery: complete -p names the function.
  assert.match((await sh(`source ${script}; complete -p weft`)).stdout, /complete -o default -F _weft_complete weft/);
});

test('weft completion zsh and fish are valid in those shells and complete verbs', async (t) => {
  const zsh = existsSync('/usr/bin/zsh');
  const fish = existsSync('/usr/bin/fish');
  if (!zsh && !fish) return t.skip('neither zsh nor fish is installed (Debian packages zsh, fish)');
  if (zsh) {
    const file = `<(${process.execPath} ${WEFT} completion zsh)`;
    assert.equal((await sh(`zsh -n ${file}`)).code, 0);
    // zsh's bashcompinit filters by prefix itself; the function yields the words of the position.
    const r = await sh(`zsh -f -c 'source ${file}; COMP_WORDS=(weft -o ""); COMP_CWORD=2; _weft_complete; print -r -- "\${COMPREPLY[@]}"'`);
    assert.equal(r.stdout.trim(), 'table wide json yaml', r.stderr);
  } else t.diagnostic('zsh is not installed: its script was not run');
  if (fish) {
    const script = `${process.execPath} ${WEFT} completion fish`;
    assert.equal((await sh(`${script} | fish -n`)).code, 0);
    const r = await sh(`fish -N -c '${script} | source; complete -C "weft viz st"'`);
    assert.match(r.stdout, /^stat\t/m, r.stderr);
  } else t.diagnostic('fish is not installed: its script was not run');
});
