/**
 * weft-init against real iptables / ip6tables inside throwaway network
 * namespaces (root only; skipped with the reason otherwise).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { PodNetwork, netnsUnavailable, runCommand, waitFor, type Pod } from '../testing/netns.js';
import { applyInterception, removeInterception, spawnRunner, InterceptionError, type IptablesRunner } from './iptables.js';
import { interceptionPlan, type InterceptionConfig } from './rules.js';

const INIT_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const skip = await netnsUnavailable();

const config: InterceptionConfig = {
  inboundProxyPort: 4143,
  outboundProxyPort: 4140,
  proxyUid: 2102,
  inboundPortsToIgnore: [{ from: 4190, to: 4191 }],
  outboundPortsToIgnore: [{ from: 5432, to: 5432 }],
  families: ['ipv4', 'ipv6'],
};
const plan = interceptionPlan(config);

let network: PodNetwork | undefined;
let app: Pod;
let peer: Pod;

before(async () => {
  if (skip) return;
  network = await PodNetwork.create({ ipv6: true });
  app = await network.addPod('app');
  peer = await network.addPod('peer');
});

after(async () => {
  await network?.teardown();
});

/** The nat table as iptables-save prints it, without the timestamp comments and counters. */
async function natTable(pod: Pod, save = 'iptables-save'): Promise<string> {
  const out = await pod.mustRun([save, '-t', 'nat']);
  return out
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/, ''))
    .join('\n');
}

function inPod(pod: Pod): IptablesRunner {
  return spawnRunner(undefined, pod.prefix());
}

test('applying twice leaves exactly the rules of applying once (IPv4 and IPv6)', async (t) => {
  if (skip) return t.skip(skip);
  await applyInterception(plan, inPod(app));
  const once4 = await natTable(app);
  const once6 = await natTable(app, 'ip6tables-save');
  await applyInterception(plan, inPod(app));
  assert.equal(await natTable(app), once4);
  assert.equal(await natTable(app, 'ip6tables-save'), once6);
  for (const table of [once4, once6]) {
    assert.match(table, /-A PREROUTING -p tcp .*-j WEFT_PROXY_INBOUND/);
    assert.match(table, /-A OUTPUT -p tcp .*-j WEFT_PROXY_OUTBOUND/);
    assert.match(table, /-A WEFT_PROXY_INBOUND -p tcp -m tcp --dport 4190:4191 .*-j RETURN/);
    assert.match(table, /-A WEFT_PROXY_INBOUND -p tcp .*-j REDIRECT --to-ports 4143/);
    assert.match(table, /-A WEFT_PROXY_OUTBOUND -m owner --uid-owner 2102 .*-j RETURN/);
    assert.match(table, /-A WEFT_PROXY_OUTBOUND -o lo .*-j RETURN/);
    assert.match(table, /-A WEFT_PROXY_OUTBOUND -p tcp -m tcp --dport 5432 .*-j RETURN/);
    assert.match(table, /-A WEFT_PROXY_OUTBOUND -p tcp .*-j REDIRECT --to-ports 4140/);
    assert.equal(table.match(/-j WEFT_PROXY_INBOUND/g)?.length, 1);
  }
  await removeInterception(plan, inPod(app));
});

test('teardown removes exactly what setup added and leaves foreign rules alone', async (t) => {
  if (skip) return t.skip(skip);
  // Someone else's rules (a CNI, kube-proxy) in the same hooks must survive.
  await app.mustRun(['iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'udp', '--dport', '53', '-j', 'RETURN']);
  await app.mustRun(['ip6tables', '-t', 'nat', '-A', 'PREROUTING', '-p', 'udp', '-j', 'RETURN']);
  const before4 = await natTable(app);
  const before6 = await natTable(app, 'ip6tables-save');
  await applyInterception(plan, inPod(app));
  assert.notEqual(await natTable(app), before4);
  await removeInterception(plan, inPod(app));
  assert.equal(await natTable(app), before4);
  assert.equal(await natTable(app, 'ip6tables-save'), before6);
  // A second teardown finds nothing to do and succeeds.
  await removeInterception(plan, inPod(app));
  assert.equal(await natTable(app), before4);
  await app.mustRun(['iptables', '-t', 'nat', '-D', 'OUTPUT', '-p', 'udp', '--dport', '53', '-j', 'RETURN']);
  await app.mustRun(['ip6tables', '-t', 'nat', '-D', 'PREROUTING', '-p', 'udp', '-j', 'RETURN']);
});

/** A TCP server that answers every connection with its name, started in `pod`. */
function nameServer(pod: Pod, name: string, port: number, uid?: number) {
  // `::` is dual-stack: one server answers IPv4 and IPv6 clients.
  const js = `require('net').createServer((s) => s.end(${JSON.stringify(name)})).listen(${port}, '::')`;
  return pod.spawn(name, [process.execPath, '-e', js], { uid });
}

async function listening(pod: Pod, port: number): Promise<boolean> {
  const r = await pod.run(['ss', '-Hltn', `sport = :${port}`]);
  return r.stdout.trim().length > 0;
}

/** Connects from `pod` (optionally as `uid`) and returns what the server said. */
async function ask(pod: Pod, host: string, port: number, uid?: number): Promise<string> {
  const js = `const s=require('net').connect(${port},${JSON.stringify(host)});let d='';s.on('data',(b)=>d+=b);s.on('end',()=>process.stdout.write(d));s.on('error',(e)=>{console.error(e.message);process.exit(3)})`;
  const r = await pod.run([process.execPath, '-e', js], { uid, timeoutMs: 20_000 });
  assert.equal(r.code, 0, `client in ${pod.name} -> ${host}:${port} failed: ${r.stderr}`);
  return r.stdout;
}

test('weft-init CLI redirects real IPv4 and IPv6 traffic: outbound to 4140, inbound to 4143, with its exclusions', async (t) => {
  if (skip) return t.skip(skip);
  const servers = [
    nameServer(app, 'app-outbound-proxy', 4140),
    nameServer(app, 'app-inbound-proxy', 4143),
    nameServer(app, 'app-admin', 4191),
    nameServer(app, 'app-service', 8080),
    nameServer(peer, 'peer-service', 8080),
    nameServer(peer, 'peer-postgres', 5432),
  ];
  await waitFor('servers listening', async () => (await listening(app, 4140)) && (await listening(app, 4143)) && (await listening(app, 4191)) && (await listening(app, 8080)) && (await listening(peer, 8080)) && (await listening(peer, 5432)));
  const init = await app.run([process.execPath, INIT_MAIN, '--incoming-proxy-port', '4143', '--outgoing-proxy-port', '4140', '--proxy-uid', '2102', '--inbound-ports-to-ignore', '4190,4191', '--outbound-ports-to-ignore', '5432']);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /interception set up/);

  // Outbound from the app: redirected to the proxy, except ignored ports, loopback and the proxy's uid.
  assert.equal(await ask(app, peer.ip, 8080), 'app-outbound-proxy');
  assert.equal(await ask(app, peer.ip, 5432), 'peer-postgres');
  assert.equal(await ask(app, '127.0.0.1', 8080), 'app-service');
  assert.equal(await ask(app, peer.ip, 8080, 2102), 'peer-service');
  // Inbound to the app: redirected to the proxy's inbound port, except ignored ports.
  assert.equal(await ask(peer, app.ip, 8080), 'app-inbound-proxy');
  assert.equal(await ask(peer, app.ip, 4191), 'app-admin');
  // The same over IPv6 (ip6tables).
  assert.equal(await ask(app, peer.ip6!, 8080), 'app-outbound-proxy');
  assert.equal(await ask(app, peer.ip6!, 8080, 2102), 'peer-service');
  assert.equal(await ask(peer, app.ip6!, 8080), 'app-inbound-proxy');
  assert.equal(await ask(peer, app.ip6!, 4191), 'app-admin');

  const teardown = await app.run([process.execPath, INIT_MAIN, '--teardown']);
  assert.equal(teardown.code, 0, teardown.stderr);
  assert.equal(await ask(app, peer.ip, 8080), 'peer-service');
  assert.equal(await ask(peer, app.ip, 8080), 'app-service');
  assert.equal(await ask(peer, app.ip6!, 8080), 'app-service');
  await Promise.all(servers.map((s) => s.stop()));
});

test('weft-init CLI leaves skipped subnets alone: from an inbound source, to an outbound destination, per family', async (t) => {
  if (skip) return t.skip(skip);
  const servers = [nameServer(app, 'app-outbound-proxy', 4140), nameServer(app, 'app-inbound-proxy', 4143), nameServer(app, 'app-service', 8080), nameServer(peer, 'peer-service', 8080)];
  await waitFor('servers listening', async () => (await listening(app, 4140)) && (await listening(app, 4143)) && (await listening(app, 8080)) && (await listening(peer, 8080)));
  // The peer's IPv4 address is skipped inbound, its IPv6 address outbound: the other family still goes through the proxy.
  const init = await app.run([process.execPath, INIT_MAIN, '--inbound-subnets-to-ignore', `${peer.ip}/32`, '--outbound-subnets-to-ignore', `${peer.ip6!}/128`]);
  assert.equal(init.code, 0, init.stderr);
  assert.equal(await ask(peer, app.ip, 8080), 'app-service');
  assert.equal(await ask(peer, app.ip6!, 8080), 'app-inbound-proxy');
  assert.equal(await ask(app, peer.ip6!, 8080), 'peer-service');
  assert.equal(await ask(app, peer.ip, 8080), 'app-outbound-proxy');
  const teardown = await app.run([process.execPath, INIT_MAIN, '--teardown']);
  assert.equal(teardown.code, 0, teardown.stderr);
  await Promise.all(servers.map((s) => s.stop()));
});

test('without NET_ADMIN weft-init exits 1 and says which capability it needs', async (t) => {
  if (skip) return t.skip(skip);
  const r = await app.run(['setpriv', '--inh-caps=-net_admin,-net_raw', '--bounding-set=-net_admin,-net_raw', '--', process.execPath, INIT_MAIN]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /NET_ADMIN/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
});

test('without iptables on PATH weft-init exits 1 naming the missing binary', async (t) => {
  if (process.platform !== 'linux') return t.skip('Linux only');
  const r = await runCommand(['env', 'PATH=/nonexistent', process.execPath, INIT_MAIN]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /iptables not found on PATH/);
  await assert.rejects(
    applyInterception(plan, spawnRunner({ ipv4: 'weft-no-such-iptables', ipv6: 'weft-no-such-ip6tables' })),
    (err: unknown) => err instanceof InterceptionError && err.reason === 'iptables-missing',
  );
});

test('bad flags exit 2 with the usage text', async () => {
  const r = await runCommand([process.execPath, INIT_MAIN, '--proxy-uid', 'nobody']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--proxy-uid: "nobody" is not an integer/);
  assert.match(r.stderr, /usage: weft-init/);
});
