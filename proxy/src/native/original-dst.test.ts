/**
 * originalDst() against real iptables REDIRECT rules inside network
 * namespaces (root only; skipped with the reason otherwise). The addresses
 * are never sent anywhere: REDIRECT rewrites them inside the namespace.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { PodNetwork, netnsUnavailable, type Pod, type PodProcess, waitFor } from '../testing/netns.js';
import { originalDst, nativeAddonProblem } from './original-dst.js';

const PROBE = fileURLToPath(new URL('../testing/original-dst-probe.js', import.meta.url));
const skip = process.platform === 'linux' ? await netnsUnavailable() : 'SO_ORIGINAL_DST is Linux only';

let network: PodNetwork | undefined;
let app: Pod;
let peer: Pod;
let v6: { app: string; target: string };

before(async () => {
  if (skip) return;
  network = await PodNetwork.create({ ipv6: true });
  app = await network.addPod('app');
  peer = await network.addPod('peer');
  v6 = { app: app.ip6!, target: `${network.ipv6Prefix}fa` };
});

after(async () => {
  await network?.teardown();
});

interface ProbeResult {
  originalDst: { address: string; port: number } | null;
  local: { address: string; port: number };
  error?: string;
}

async function probeResult(proc: PodProcess): Promise<ProbeResult> {
  const line = await waitFor(`probe ${proc.name} result`, () => proc.output().split('\n').find((l) => l.startsWith('{')), 60_000);
  await proc.exited();
  const result = JSON.parse(line) as ProbeResult;
  assert.equal(result.error, undefined, `probe failed: ${proc.output()}`);
  return result;
}

test('the addon is built and loads (npm ci builds it; see proxy/native/build.mjs)', (t) => {
  if (process.platform !== 'linux') return t.skip('Linux only');
  assert.equal(nativeAddonProblem(), undefined);
});

test('a socket with no file descriptor has no original destination', () => {
  if (process.platform !== 'linux') return;
  assert.equal(originalDst(new Socket()), undefined);
});

test('outbound IPv4 connection redirected by OUTPUT REDIRECT reports the address the app dialled', async (t) => {
  if (skip) return t.skip(skip);
  const target = `${network!.subnet}.250`;
  await app.mustRun(['iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', target, '--dport', '80', '-j', 'REDIRECT', '--to-ports', '15001']);
  const result = await probeResult(app.spawn('probe-v4', [process.execPath, PROBE, '0.0.0.0', '15001', target, '80']));
  assert.deepEqual(result.originalDst, { address: target, port: 80 });
  assert.equal(result.local.port, 15001, 'the connection really landed on the redirect port');
});

test('IPv4 connection on a dual-stack listener (v4-mapped local address) reports the IPv4 destination', async (t) => {
  if (skip) return t.skip(skip);
  const target = `${network!.subnet}.251`;
  await app.mustRun(['iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', target, '--dport', '8080', '-j', 'REDIRECT', '--to-ports', '15002']);
  const result = await probeResult(app.spawn('probe-mapped', [process.execPath, PROBE, '::', '15002', target, '8080']));
  assert.match(result.local.address, /^::ffff:/);
  assert.deepEqual(result.originalDst, { address: target, port: 8080 });
});

test('outbound IPv6 connection redirected by ip6tables reports the IPv6 destination', async (t) => {
  if (skip) return t.skip(skip);
  await app.mustRun(['ip6tables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', v6.target, '--dport', '443', '-j', 'REDIRECT', '--to-ports', '15003']);
  const result = await probeResult(app.spawn('probe-v6', [process.execPath, PROBE, '::', '15003', v6.target, '443']));
  assert.deepEqual(result.originalDst, { address: v6.target, port: 443 });
});

test('inbound connection from another pod redirected by PREROUTING reports the pod address and app port', async (t) => {
  if (skip) return t.skip(skip);
  await app.mustRun(['iptables', '-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '9090', '-j', 'REDIRECT', '--to-ports', '15004']);
  const probe = app.spawn('probe-inbound', [process.execPath, PROBE, '0.0.0.0', '15004']);
  await waitFor('inbound probe listening', () => probe.output().includes('listening'));
  const client = await peer.run(['curl', '-s', '-m', '10', `http://${app.ip}:9090/`]);
  assert.notEqual(client.code, 7, `curl could not connect: ${client.stderr}`);
  const result = await probeResult(probe);
  assert.deepEqual(result.originalDst, { address: app.ip, port: 9090 });
});
