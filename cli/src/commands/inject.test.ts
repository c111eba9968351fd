import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const TESTDATA = fileURLToPath(new URL('../../../injector/testdata/', import.meta.url));
const CLI_DIR = fileURLToPath(new URL('../../', import.meta.url));
const COMMAND = new URL('./inject.js', import.meta.url).href;

// A real `weft`-like process with just these verbs registered (program.ts wires them into the real one).
const HARNESS = `
import { Command } from 'commander';
import { registerInject } from '${COMMAND}';
const program = new Command('weft').option('--weft-namespace <ns>', 'control plane namespace', 'weft').exitOverride();
registerInject(program);
await program.parseAsync(process.argv.slice(1), { from: 'user' });
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function weft(args: readonly string[], stdin = ''): Promise<Run> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', HARNESS, '--', ...args], { cwd: CLI_DIR });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c));
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  child.stdin.on('error', () => undefined); // the command may exit without reading stdin
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const MESH = ['--trust-anchors-file', `${TESTDATA}trust-anchors.pem`, '--proxy-version', 'v0.0.0-test', '--kubernetes-version', '1.30'];

test('weft inject FILE prints the injected manifest and a summary per object', async () => {
  const r = await weft(['inject', `${TESTDATA}stream.in.yaml`, ...MESH]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, readFileSync(`${TESTDATA}stream.out.yaml`, 'utf8'));
  assert.equal(r.stderr, readFileSync(`${TESTDATA}stream.summary.txt`, 'utf8'));
});

test('weft inject - then weft uninject - gives the input back exactly', async () => {
  const input = readFileSync(`${TESTDATA}deployment.in.yaml`, 'utf8');
  const injected = await weft(['inject', '-', ...MESH], input);
  assert.equal(injected.code, 0, injected.stderr);
  assert.match(injected.stdout, /name: weft-proxy/);
  assert.equal(injected.stderr, 'deployment/web: injected (native sidecar)\n');
  const back = await weft(['uninject', '-'], injected.stdout);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(back.stdout, input);
  assert.equal(back.stderr, 'deployment/web: uninjected\n');
});

test('flags reach the injected proxy', async () => {
  const r = await weft(['--weft-namespace', 'mesh', 'inject', `${TESTDATA}pod.in.yaml`, ...MESH, '--proxy-image', 'registry.local/proxy', '--cni', '--ingress']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /image: registry\.local\/proxy:v0\.0\.0-test/);
  assert.match(r.stdout, /value: web\.shop\.serviceaccount\.identity\.mesh\.cluster\.local/);
  assert.match(r.stdout, /name: WEFT_PROXY_INGRESS_MODE/);
  assert.doesNotMatch(r.stdout, /weft-init/);
});

test('broken YAML fails with the document number, exit code 1 and no output', async () => {
  const r = await weft(['inject', '-', ...MESH], 'kind: Service\nmetadata:\n  name: ok\n---\nkind: Pod\nspec: [unclosed\n');
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^weft inject: document 2: invalid YAML/);
});

test('weft inject without trust anchors says how to get them', async () => {
  const r = await weft(['inject', `${TESTDATA}pod.in.yaml`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--trust-anchors-file is required/);
  assert.equal(r.stdout, '');
});

test('an invalid flag value is a clear error', async () => {
  const r = await weft(['inject', `${TESTDATA}pod.in.yaml`, ...MESH, '--proxy-log-level', 'loud']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /WEFT_INJECTOR_PROXY_LOG_LEVEL="loud" is not one of/);
});
