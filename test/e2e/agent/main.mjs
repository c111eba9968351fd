// The e2e node agent: a kubelet stand-in for a machine without a container
// runtime. It registers a Node (as system:node:<name>, so the Node authorizer
// and NodeRestriction apply to it as to a kubelet), renews its Lease, runs
// each Pod the scheduler binds to it in a PodSandbox, deletes Pods whose
// deletion was requested once their processes are gone, and keeps every
// pod's /etc/netns/<ns>/hosts in sync with the cluster's Services.
import { parseArgs } from 'node:util';
import { mkdirSync, rmSync, rmdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kube } from '../lib/kube.mjs';
import { PodSandbox, VOLUME_ROOT } from './pod-sandbox.mjs';
import * as net from '../lib/node-net.mjs';

const { values: opts } = parseArgs({ options: { kubeconfig: { type: 'string' }, node: { type: 'string' }, state: { type: 'string' } } });
if (!opts.kubeconfig || !opts.node || !opts.state) {
  console.error('usage: agent --kubeconfig=PATH --node=NAME --state=DIR');
  process.exit(2);
}
const nodeName = opts.node;
const kube = Kube.fromKubeconfig(opts.kubeconfig);
mkdirSync(opts.state, { recursive: true });
const log = (m) => console.log(`${new Date().toISOString()} ${m}`);
const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const k8sVersion = (await kube.get('/version')).gitVersion;

/** uid → { sandbox, chain } */
const pods = new Map();
const usedIndexes = new Set();
/** Mount-point directories pods needed on the host's file system; removed at shutdown. */
const createdDirs = new Set();
let services = [];
let stopping = false;

function nodeStatus() {
  const cond = (type, status, reason) => ({ type, status, reason, message: reason, lastHeartbeatTime: now(), lastTransitionTime: startedAt });
  const resources = { cpu: '8', memory: '16Gi', pods: '110', 'ephemeral-storage': '50Gi' };
  return {
    capacity: resources,
    allocatable: resources,
    addresses: [
      { type: 'InternalIP', address: net.NODE_IP },
      { type: 'Hostname', address: nodeName },
    ],
    conditions: [
      cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
      cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
      cond('PIDPressure', 'False', 'KubeletHasSufficientPID'),
      cond('Ready', 'True', 'KubeletReady'),
    ],
    nodeInfo: {
      kubeletVersion: k8sVersion,
      kubeProxyVersion: k8sVersion,
      operatingSystem: 'linux',
      architecture: process.arch === 'x64' ? 'amd64' : process.arch,
      containerRuntimeVersion: 'weft-e2e://netns',
      osImage: 'weft-e2e node agent',
      kernelVersion: '',
      machineID: '',
      systemUUID: '',
      bootID: '',
    },
    daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
  };
}
const startedAt = now();

async function register() {
  const labels = { 'kubernetes.io/hostname': nodeName, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' };
  await kube.ensure('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName, labels }, spec: {} });
  await kube.patch(`/api/v1/nodes/${nodeName}/status`, { status: nodeStatus() });
  log(`registered node ${nodeName} (${k8sVersion})`);
}

/** Lease renewal plus status heartbeat, as a kubelet does, so the node lifecycle controller keeps the node Ready. */
async function heartbeat() {
  const leasePath = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${nodeName}`;
  while (!stopping) {
    try {
      const renewTime = new Date().toISOString().replace('Z', '000Z').replace(/(\.\d{6})\d*Z$/, '$1Z');
      const lease = await kube.getOrNull(leasePath);
      if (!lease) {
        await kube.create('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: nodeName, namespace: 'kube-node-lease' },
          spec: { holderIdentity: nodeName, leaseDurationSeconds: 40, renewTime },
        });
      } else await kube.patch(leasePath, { spec: { renewTime } });
      await kube.patch(`/api/v1/nodes/${nodeName}/status`, { status: { conditions: nodeStatus().conditions } });
    } catch (err) {
      log(`heartbeat: ${err.message}`);
    }
    await sleep(10_000);
  }
}

function hostsFor(ns) {
  const lines = ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback'];
  for (const s of services) {
    const ip = s.spec?.clusterIP;
    if (!ip || ip === 'None') continue;
    const { name, namespace } = s.metadata;
    const names = [`${name}.${namespace}.svc.cluster.local`, `${name}.${namespace}.svc`, `${name}.${namespace}`];
    if (namespace === ns) names.push(name);
    lines.push(`${ip} ${names.join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

async function syncServices() {
  let last = '';
  while (!stopping) {
    try {
      const list = await kube.get('/api/v1/services');
      services = list.items;
      const sig = services.map((s) => `${s.metadata.namespace}/${s.metadata.name}=${s.spec.clusterIP}`).sort().join(',');
      if (sig !== last) {
        last = sig;
        for (const { sandbox } of pods.values()) if (sandbox.ip && !sandbox.stopped) net.writeHosts(sandbox.netns, hostsFor(sandbox.ns));
      }
    } catch (err) {
      log(`services: ${err.message}`);
    }
    await sleep(1000);
  }
}

function allocateIndex() {
  for (let i = 2; i < 255; i++) {
    if (!usedIndexes.has(i)) {
      usedIndexes.add(i);
      return i;
    }
  }
  throw new Error('pod address range 198.18.1.0/24 exhausted');
}

/** Runs pod operations one at a time per pod. */
function enqueue(entry, op) {
  entry.chain = entry.chain.then(op).catch((err) => log(`${entry.sandbox.ns}/${entry.sandbox.name}: ${err.stack ?? err.message}`));
}

function onPod(type, pod) {
  if (pod.spec?.nodeName !== nodeName) return;
  const uid = pod.metadata.uid;
  let entry = pods.get(uid);
  const finished = ['Succeeded', 'Failed'].includes(pod.status?.phase);
  if (type === 'DELETED' || pod.metadata.deletionTimestamp) {
    if (!entry) {
      if (type !== 'DELETED') void finalDelete(pod);
      return;
    }
    if (entry.deleting) return;
    entry.deleting = true;
    const grace = Math.min((pod.metadata.deletionGracePeriodSeconds ?? 30) * 1000, 5000);
    // Not queued behind start(): a pod still waiting (for a volume, an init container) must stop now.
    void (async () => {
      await entry.sandbox.stop(grace);
      await entry.chain;
      // start() may have made more (a namespace, a process) while it was winding down.
      await entry.sandbox.stop(0);
      usedIndexes.delete(entry.sandbox.index);
      pods.delete(uid);
      if (type !== 'DELETED') await finalDelete(pod);
      log(`${pod.metadata.namespace}/${pod.metadata.name}: stopped and removed`);
    })().catch((err) => log(`${pod.metadata.namespace}/${pod.metadata.name}: stop: ${err.message}`));
    return;
  }
  if (entry || finished) {
    if (entry) entry.sandbox.pod = pod;
    return;
  }
  const index = allocateIndex();
  const sandbox = new PodSandbox({ kube, pod, index, stateDir: opts.state, hosts: () => hostsFor(pod.metadata.namespace), log, createdDirs });
  entry = { sandbox, chain: Promise.resolve(), deleting: false };
  pods.set(uid, entry);
  log(`${pod.metadata.namespace}/${pod.metadata.name}: starting`);
  enqueue(entry, () => sandbox.start());
}

/** The kubelet's last word on a pod: delete it for good once its processes are gone. */
async function finalDelete(pod) {
  try {
    await kube.delete(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      gracePeriodSeconds: 0,
      preconditions: { uid: pod.metadata.uid },
    });
  } catch (err) {
    if (err.status !== 404 && err.status !== 409) log(`delete ${pod.metadata.name}: ${err.message}`);
  }
}

async function watchPods() {
  const selector = `fieldSelector=${encodeURIComponent(`spec.nodeName=${nodeName}`)}`;
  while (!stopping) {
    try {
      const list = await kube.get(`/api/v1/pods?${selector}`);
      const seen = new Set(list.items.map((p) => p.metadata.uid));
      for (const p of list.items) onPod('ADDED', p);
      for (const [uid, entry] of pods) if (!seen.has(uid)) onPod('DELETED', entry.sandbox.pod);
      let rv = list.metadata.resourceVersion;
      let expired = false;
      const w = kube.watch(`/api/v1/pods?${selector}&resourceVersion=${rv}&timeoutSeconds=300`, (ev) => {
        if (ev.type === 'ERROR') {
          expired = true;
          return;
        }
        rv = ev.object.metadata.resourceVersion;
        if (ev.type !== 'BOOKMARK') onPod(ev.type, ev.object);
      });
      stopWatch = w.stop;
      await w.done;
      if (expired) log('pod watch expired; re-listing');
    } catch (err) {
      if (!stopping) log(`pod watch: ${err.message}`);
      await sleep(1000);
    }
  }
}
let stopWatch = () => {};

async function shutdown() {
  if (stopping) return;
  stopping = true;
  stopWatch();
  log('stopping all pods');
  await Promise.all([...pods.values()].map((e) => e.sandbox.stop(3000).catch(() => {})));
  // Only now: removing a directory another pod's mount namespace mounts on would detach that mount.
  for (const dir of createdDirs) rmSync(dir, { recursive: true, force: true });
  rmSync(VOLUME_ROOT, { recursive: true, force: true });
  try {
    rmdirSync(dirname(VOLUME_ROOT));
  } catch {
    // not empty or gone
  }
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

await register();
void heartbeat();
void syncServices();
await watchPods();
