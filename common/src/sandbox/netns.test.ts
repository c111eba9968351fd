/**
 * The netns pod harness against the real kernel (root only; skipped with the
 * reason otherwise): connectivity, hosts files, UIDs, and that teardown and
 * sweep leave nothing behind.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../poll.js';
import { PodNetwork, netnsUnavailable, runCommand, sweep } from './netns.js';

const skip = await netnsUnavailable();
const HARNESS = fileURLToPath(new URL('./netns.js', import.meta.url));
const networks: PodNetwork[] = [];

after(async () => {
  for (const n of networks) await n.teardown();
});

async function namespaces(): Promise<string[]> {
  const r = await runCommand(['ip', 'netns', 'list']);
  return r.stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

async function linkExists(name: string): Promise<boolean> {
  return (await runCommand(['ip', 'link', 'show', name])).code === 0;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const echoServer = (port: number) => `require('net').createServer((s) => s.once('data', (d) => s.end(d))).listen(${port})`;

test('pods on the bridge reach each other by IP and by hosts-file name, and the host reaches them', async (t) => {
  if (skip) return t.skip(skip);
  const net = await PodNetwork.create({ hosts: { 'backend.demo.svc': '10.231.254.254' } });
  networks.push(net);
  const a = await net.addPod('alpha');
  const b = await net.addPod('beta');
  assert.notEqual(a.ip, b.ip);
  b.spawn('echo', [process.execPath, '-e', echoServer(7000)]);
  await waitFor('echo server in beta', async () => (await b.run(['ss', '-Hltn', 'sport = :7000'])).stdout.trim() !== '');
  for (const host of [b.ip, 'beta']) {
    const r = await a.run(['bash', '-c', `exec 3<>/dev/tcp/${host}/7000 && echo hello-${host} >&3 && cat <&3`], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`hello-${host}`));
  }
  const hosts = await a.mustRun(['cat', '/etc/hosts']);
  assert.match(hosts, new RegExp(`${b.ip.replaceAll('.', '\\.')} beta`));
  assert.match(hosts, /10\.231\.254\.254 backend\.demo\.svc/);
  net.addHost('late.demo.svc', b.ip);
  assert.match(await a.mustRun(['getent', 'hosts', 'late.demo.svc']), new RegExp(b.ip.replaceAll('.', '\\.')));
  const fromHost = await runCommand(['bash', '-c', `exec 3<>/dev/tcp/${b.ip}/7000 && echo -n from-host >&3 && cat <&3`], { timeoutMs: 10_000 });
  assert.equal(fromHost.stdout, 'from-host');
});

test('a pod process can run as another uid (the proxy uid)', async (t) => {
  if (skip) return t.skip(skip);
  const net = await PodNetwork.create();
  networks.push(net);
  const pod = await net.addPod('uid');
  assert.equal((await pod.mustRun(['id', '-u'], { uid: 2102 })).trim(), '2102');
  const proc = pod.spawn('id', ['id', '-u'], { uid: 2102 });
  assert.equal(await proc.exited(), 0);
  assert.equal(proc.output().trim(), '2102');
  // …and can still read a checkout that only root may traverse.
  const dir = mkdtempSync(join(tmpdir(), 'weft-private-'));
  try {
    writeFileSync(join(dir, 'main.js'), 'readable');
    assert.equal(await pod.mustRun(['cat', join(dir, 'main.js')], { uid: 2102 }), 'readable');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('teardown removes namespaces, links, hosts files and every process, even untracked ones', async (t) => {
  if (skip) return t.skip(skip);
  const net = await PodNetwork.create();
  const pod = await net.addPod('doomed');
  const tracked = pod.spawn('sleeper', ['sleep', '300']);
  // A daemonised process the harness never saw must go too.
  const stray = Number((await pod.mustRun(['bash', '-c', 'setsid sleep 300 >/dev/null 2>&1 < /dev/null & echo $!'])).trim());
  assert.ok(alive(stray));
  await net.teardown();
  assert.ok(!(await namespaces()).includes(pod.netns));
  assert.equal(await linkExists(net.bridge), false);
  assert.equal(await linkExists(pod.hostVeth), false);
  assert.equal(existsSync(`/etc/netns/${pod.netns}`), false);
  assert.notEqual(tracked.child.exitCode ?? tracked.child.signalCode, null);
  await waitFor('stray process gone', () => !alive(stray), { timeoutMs: 10_000 });
  await net.teardown(); // twice is fine
});

test('a failed create leaves nothing behind', async (t) => {
  if (skip) return t.skip(skip);
  const before = await runCommand(['ip', '-o', 'link', 'show']);
  await assert.rejects(PodNetwork.create({ subnet: 300 }), /failed/);
  const afterLinks = await runCommand(['ip', '-o', 'link', 'show']);
  const names = (out: string) => new Set([...out.matchAll(/^\d+: ([^:@\s]+)/gm)].map((m) => m[1]).filter((n) => n!.startsWith('weft')));
  const leaked = [...names(afterLinks.stdout)].filter((n) => !names(before.stdout).has(n) && n!.startsWith(`weft${process.pid.toString(36).padStart(5, '0')}`));
  assert.deepEqual(leaked, []);
  const net = await PodNetwork.create();
  networks.push(net);
  await assert.rejects(net.addPod('Bad Name'), /lowercase/);
});

test('sweep removes what a killed harness left and spares live ones', async (t) => {
  if (skip) return t.skip(skip);
  const live = await PodNetwork.create();
  networks.push(live);
  const livePod = await live.addPod('live');
  const script = `
    import { PodNetwork } from ${JSON.stringify(HARNESS)};
    const net = await PodNetwork.create();
    const pod = await net.addPod('orphan');
    const p = pod.spawn('sleeper', ['sleep', '300']);
    console.log(JSON.stringify({ netns: pod.netns, bridge: net.bridge, veth: pod.hostVeth, pid: p.child.pid }));
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const left = await waitFor('orphan harness ready', () => (out.includes('}') ? (JSON.parse(out) as { netns: string; bridge: string; veth: string; pid: number }) : undefined), { timeoutMs: 60_000 });
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('close', resolve));
  assert.ok((await namespaces()).includes(left.netns), 'the killed harness left its namespace');
  assert.ok(alive(left.pid), 'and its process');

  const removed = await sweep();
  assert.ok(removed.namespaces.includes(left.netns));
  assert.ok(removed.links.includes(left.bridge));
  assert.ok(!(await namespaces()).includes(left.netns));
  assert.equal(await linkExists(left.bridge), false);
  assert.equal(await linkExists(left.veth), false);
  await waitFor('orphan process gone', () => !alive(left.pid), { timeoutMs: 10_000 });
  assert.ok((await namespaces()).includes(livePod.netns), 'a live harness is untouched');
  assert.ok(await linkExists(live.bridge));
});
