// The node's network: a network namespace standing for the node, so that
// kube-proxy's iptables rules, the pod bridge and its sysctls never touch the
// shared host's tables. The host reaches it over one veth pair and routes the
// pod and service ranges through it; deleting the node namespace (and so the
// veth) removes every rule and route again.
//
//   host  weft-e2e-h0 198.18.0.1/30 ── eth0 198.18.0.2/30  node netns `weft-e2e-node`
//                                      weft0 198.18.1.1/24  bridge, pods' gateway
//   pods  weft-e2e-p<n>  eth0 198.18.1.<n>/24 (veth, bridge side `vp<n>`)
//   services 198.19.0.0/24 (kube-proxy DNATs them inside the node netns)
//
// 198.18.0.0/15 is the range set aside for network test labs (RFC 2544): no
// real host lives there, and none of this leaves the machine.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, readdirSync, existsSync } from 'node:fs';

export const PREFIX = 'weft-e2e-';
export const NODE_NS = `${PREFIX}node`;
export const HOST_VETH = `${PREFIX}h0`;
export const HOST_IP = '198.18.0.1';
export const NODE_IP = '198.18.0.2';
export const BRIDGE = 'weft0';
export const POD_GATEWAY = '198.18.1.1';
export const POD_CIDR = '198.18.1.0/24';
export const SERVICE_CIDR = '198.19.0.0/24';
/** The first address of the service range, which the API server gives the `kubernetes` Service. */
export const KUBERNETES_SERVICE_IP = '198.19.0.1';

export function sh(argv, { allowFail = false } = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`\`${argv.join(' ')}\` failed (exit ${r.status}): ${(r.stderr || r.stdout || r.error?.message || '').trim()}`);
  return r;
}

const inNode = (...argv) => sh(['ip', 'netns', 'exec', NODE_NS, ...argv]);

/** Why pods cannot run here (undefined when they can). */
export function nodeUnavailable() {
  if (process.getuid?.() !== 0) return 'pods need root (network namespaces, iptables); CI runs as root';
  for (const tool of ['ip', 'iptables']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (r.error) return `${tool} is not installed`;
  }
  return undefined;
}

/** Creates the node namespace, its bridge and the host routes. */
export function createNodeNetwork() {
  sh(['ip', 'netns', 'add', NODE_NS]);
  sh(['ip', 'link', 'add', HOST_VETH, 'type', 'veth', 'peer', 'name', `${PREFIX}n0`]);
  sh(['ip', 'link', 'set', `${PREFIX}n0`, 'netns', NODE_NS]);
  sh(['ip', 'addr', 'add', `${HOST_IP}/30`, 'dev', HOST_VETH]);
  sh(['ip', 'link', 'set', HOST_VETH, 'up']);
  inNode('ip', 'link', 'set', 'lo', 'up');
  inNode('ip', 'link', 'set', `${PREFIX}n0`, 'name', 'eth0');
  inNode('ip', 'addr', 'add', `${NODE_IP}/30`, 'dev', 'eth0');
  inNode('ip', 'link', 'set', 'eth0', 'up');
  inNode('ip', 'route', 'add', 'default', 'via', HOST_IP);
  inNode('ip', 'link', 'add', BRIDGE, 'type', 'bridge');
  inNode('ip', 'addr', 'add', `${POD_GATEWAY}/24`, 'dev', BRIDGE);
  inNode('ip', 'link', 'set', BRIDGE, 'up');
  // Routing between pods and to services happens in the node namespace only.
  inNode('sysctl', '-qw', 'net.ipv4.ip_forward=1');
  // Pod → service IP → pod on the same bridge: replies must pass conntrack to be un-DNATed.
  inNode('sh', '-c', 'test ! -e /proc/sys/net/bridge/bridge-nf-call-iptables || echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables');
  sh(['ip', 'route', 'add', POD_CIDR, 'via', NODE_IP]);
  sh(['ip', 'route', 'add', SERVICE_CIDR, 'via', NODE_IP]);
}

/** Adds a pod namespace on the bridge; `index` picks its address 198.18.1.<index>. */
export function addPodNetwork(netns, index, hosts) {
  const podIp = `198.18.1.${index}`;
  const outer = `vp${index}`;
  sh(['ip', 'netns', 'add', netns]);
  inNode('ip', 'link', 'add', outer, 'type', 'veth', 'peer', 'name', `pp${index}`);
  inNode('ip', 'link', 'set', `pp${index}`, 'netns', netns);
  inNode('ip', 'link', 'set', outer, 'master', BRIDGE);
  inNode('ip', 'link', 'set', outer, 'up');
  // A pod reaching itself through its own service IP (hairpin).
  inNode('bridge', 'link', 'set', 'dev', outer, 'hairpin', 'on');
  const inPod = (...argv) => sh(['ip', 'netns', 'exec', netns, ...argv]);
  inPod('ip', 'link', 'set', 'lo', 'up');
  inPod('ip', 'link', 'set', `pp${index}`, 'name', 'eth0');
  inPod('ip', 'addr', 'add', `${podIp}/24`, 'dev', 'eth0');
  inPod('ip', 'link', 'set', 'eth0', 'up');
  inPod('ip', 'route', 'add', 'default', 'via', POD_GATEWAY);
  writeHosts(netns, hosts);
  return podIp;
}

/** `ip netns exec` bind-mounts /etc/netns/<ns>/hosts over /etc/hosts for what it starts. */
export function writeHosts(netns, text) {
  mkdirSync(`/etc/netns/${netns}`, { recursive: true });
  writeFileSync(`/etc/netns/${netns}/hosts.tmp`, text);
  // rename keeps readers from seeing a half-written file; the bind mount follows the path per exec.
  execFileSync('mv', ['-f', `/etc/netns/${netns}/hosts.tmp`, `/etc/netns/${netns}/hosts`]);
}

/** Kills what runs inside `netns`, then deletes it and its /etc/netns directory. */
export function removeNamespace(netns) {
  for (let round = 0; round < 30; round++) {
    const r = sh(['ip', 'netns', 'pids', netns], { allowFail: true });
    const pids = r.status === 0 ? r.stdout.split(/\s+/).filter(Boolean).map(Number) : [];
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, round < 3 ? 'SIGTERM' : 'SIGKILL');
      } catch {
        // gone
      }
    }
    spawnSync('sleep', ['0.1']);
  }
  sh(['ip', 'netns', 'del', netns], { allowFail: true });
  rmSync(`/etc/netns/${netns}`, { recursive: true, force: true });
}

/** Lists this harness's namespaces (weft-e2e-*). */
export function listNamespaces() {
  if (!existsSync('/run/netns')) return [];
  return readdirSync('/run/netns').filter((n) => n.startsWith(PREFIX));
}

/**
 * Removes every weft-e2e namespace (pods first, the node last, which takes the
 * veth, the bridge, kube-proxy's rules and the host routes with it).
 */
export function sweepNetwork() {
  const all = listNamespaces();
  const pods = all.filter((n) => n !== NODE_NS);
  for (const ns of pods) removeNamespace(ns);
  if (all.includes(NODE_NS)) removeNamespace(NODE_NS);
  sh(['ip', 'link', 'del', HOST_VETH], { allowFail: true });
  for (const dir of existsSync('/etc/netns') ? readdirSync('/etc/netns') : []) {
    if (dir.startsWith(PREFIX)) rmSync(`/etc/netns/${dir}`, { recursive: true, force: true });
  }
  return all;
}
