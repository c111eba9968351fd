// A real node for the e2e environment: kubelet v1.33.x (built from the same
// k8s.io/kubernetes module as the control plane), Debian's containerd (CRI
// plugin) + runc + CNI plugins, and an OCI registry (CNCF distribution) on
// loopback that the images are pushed to and pulled from.
//
// Where things live:
//   host netns     registry 127.0.0.1:<port>, containerd (it pulls from the
//                  registry), the shims and the containers' cgroups
//   weft-e2e-node  the node's netns (lib/node-net.mjs): kubelet (node IP
//                  198.18.0.2, probes, :10250), kube-proxy, the cluster DNS on
//                  198.18.1.1:53 (lib/cluster-dns.mjs), and every CNI plugin:
//                  containerd runs them through wrappers that `nsenter` this
//                  netns, so the bridge (weft0), the pods' veths, the CNI-*
//                  chains and kube-proxy's rules never touch the host's tables
//   pods           netns made by containerd under its state dir, addresses
//                  198.18.1.10-250 on weft0 (host-local IPAM)
// Everything runs in the host mount namespace (nsenter --net only), so the
// volumes the kubelet mounts are what containerd bind-mounts into containers.
//
// The one obstacle on these machines: root lacks CAP_SYS_RESOURCE, so no
// process may lower its oom_score_adj; containerd's `restrict_oom_score_adj`
// keeps runc from trying (see shared/notes/real-node.md).
/* global fetch */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync, statSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, freePort } from './cluster.mjs';
import { cacheRoot, goBin } from './build.mjs';
import { writeKubeconfig } from './kube.mjs';
import { waitFor, sleep } from './procs.mjs';
import { buildImage, pushImage } from './oci.mjs';
import * as net from './node-net.mjs';

export const REAL_NODE = 'weft-e2e-real';
/** containerd's root (content, snapshots) and the kubelet's root dir. */
export const RN_LIB = '/var/lib/weft-e2e-real';
/** containerd's state dir (sockets, task bundles, pod netns). */
export const RN_RUN = '/run/weft-e2e-real';
export const KUBELET_ROOT = join(RN_LIB, 'kubelet');
export const CONTAINERD_SOCK = join(RN_RUN, 'containerd', 'containerd.sock');
/** The kubelet's cgroupRoot: every pod cgroup lives below it, in every v1 hierarchy. */
export const CGROUP_ROOT = 'weft-e2e-real';
const CNI_DIR = '/usr/lib/cni';
const clusterDnsMain = new URL('./cluster-dns.mjs', import.meta.url).pathname;
const CNI_PLUGINS = ['bridge', 'host-local', 'loopback', 'portmap'];
/** Global sysctls the kubelet sets at start (protectKernelDefaults=false); restored at teardown. */
const SYSCTL_FILE = '/var/tmp/weft-e2e-real.sysctls.json';
const KUBELET_SYSCTLS = ['vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops', 'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes'];

const k8sModuleDir = () => execFileSync(goBin, ['list', '-m', '-f', '{{.Dir}}', 'k8s.io/kubernetes'], {
  cwd: new URL('../tools/kubernetes/', import.meta.url).pathname,
  encoding: 'utf8',
  env: { ...process.env, GOFLAGS: '-mod=mod' },
}).trim();

const digestOf = (...files) => {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(f));
  return h.digest('hex').slice(0, 16);
};

/** Why a real node cannot run here (undefined when it can). */
export function realNodeUnavailable() {
  const base = net.nodeUnavailable();
  if (base) return base;
  for (const [bin, pkg] of [['/usr/bin/containerd', 'containerd'], ['/usr/sbin/runc', 'runc'], [`${CNI_DIR}/bridge`, 'containernetworking-plugins'], ['/usr/bin/nsenter', 'util-linux'], ['/usr/bin/gcc', 'gcc']]) {
    if (!existsSync(bin)) return `${bin} missing (Debian package ${pkg}; ci/system-deps.sh installs it)`;
  }
  if (!existsSync('/sys/fs/cgroup/memory')) return 'cgroup v1 memory hierarchy missing at /sys/fs/cgroup/memory';
  return undefined;
}

/** The versions the log names. */
export function realNodeVersions(kubeletBin, registryBin) {
  const first = (argv) => {
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    return `${r.stdout}${r.stderr}`.trim().split('\n')[0];
  };
  const dpkg = (p) => spawnSync('dpkg-query', ['-W', '-f=${Version}', p], { encoding: 'utf8' }).stdout.trim() || 'unknown';
  return {
    kubelet: first([kubeletBin, '--version']).replace(/^Kubernetes /, ''),
    containerd: first(['/usr/bin/containerd', '--version']).split(' ')[2] ?? 'unknown',
    runc: first(['/usr/sbin/runc', '--version']).replace(/^runc version /, ''),
    cni: dpkg('containernetworking-plugins'),
    registry: first([registryBin, '--version']).split(' ').slice(1).join(' '),
  };
}

/** pause (from k8s.io/kubernetes's build/pause/linux/pause.c, gcc -static) and probe (Go, static): cached by source digest. */
export function buildStaticBinaries(log) {
  const out = {};
  const pauseSrc = join(k8sModuleDir(), 'build', 'pause', 'linux', 'pause.c');
  const pauseDir = join(cacheRoot, `pause-${digestOf(pauseSrc)}`);
  out.pause = join(pauseDir, 'pause');
  if (!existsSync(out.pause)) {
    mkdirSync(pauseDir, { recursive: true });
    execFileSync('gcc', ['-Os', '-Wall', '-Werror', '-static', '-DVERSION=v3.10-weft-e2e', '-o', `${out.pause}.tmp`, pauseSrc]);
    execFileSync('strip', [`${out.pause}.tmp`]);
    execFileSync('mv', [`${out.pause}.tmp`, out.pause]);
    log(`e2e real node: built pause from ${pauseSrc} (gcc -static)`);
  }
  const probeSrc = new URL('../images/probe/', import.meta.url).pathname;
  const probeDir = join(cacheRoot, `probe-${digestOf(join(probeSrc, 'go.mod'), join(probeSrc, 'main.go'))}`);
  out.probe = join(probeDir, 'probe');
  if (!existsSync(out.probe)) {
    mkdirSync(probeDir, { recursive: true });
    execFileSync(goBin, ['build', '-trimpath', '-ldflags=-s -w', '-o', `${out.probe}.tmp`, '.'], { cwd: probeSrc, env: { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local' } });
    execFileSync('mv', [`${out.probe}.tmp`, out.probe]);
    log('e2e real node: built probe (test/e2e/images/probe, static Go)');
  }
  return out;
}

/** An image whose root holds one static binary (plus the empty dirs a non-root, read-only container needs). */
function binaryImage(dir, bin, name, user) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  for (const d of ['etc', 'proc', 'sys', 'dev', 'var/run/secrets']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'etc', 'passwd'), `root:x:0:0:root:/:/${name}\nnonroot:x:65532:65532:nonroot:/:/${name}\nnobody:x:65535:65535:nobody:/:/${name}\n`);
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\nnonroot:x:65532:\nnobody:x:65535:\n');
  copyFileSync(bin, join(dir, name));
  chmodSync(join(dir, name), 0o755);
  return buildImage({ rootDir: dir, entrypoint: [`/${name}`], user, labels: { 'org.opencontainers.image.source': 'weft test/e2e' } });
}

/**
 * The real-node environment: the control plane of lib/cluster.mjs, but instead
 * of the node agent a registry, containerd and a kubelet, then kube-proxy for
 * that node. `down()` tears it all down; `leftovers()` says what is left.
 */
export class RealNodeCluster extends Cluster {
  constructor(opts) {
    super({ ...opts, node: true });
    this.rnBins = opts.rnBins;
    this.rnDir = join(this.dir, 'real-node');
    this.before = snapshotHost();
  }

  async startNode(creds) {
    mkdirSync(this.rnDir, { recursive: true });
    // Kept outside the run so that a run killed before its teardown still has them restored by the next one's sweep.
    this.savedSysctls = Object.fromEntries(KUBELET_SYSCTLS.map((k) => [k, readFileSync(`/proc/sys/${k}`, 'utf8').trim()]));
    writeFileSync(SYSCTL_FILE, JSON.stringify(this.savedSysctls));
    await this.startRegistry();
    await this.pushImages();
    await this.startContainerd();
    await this.startClusterDns();
    await this.startKubelet(creds);
    await this.startKubeProxy(creds, REAL_NODE);
  }

  async startRegistry() {
    const port = await freePort('127.0.0.1');
    this.registry = `127.0.0.1:${port}`;
    const storage = join(this.rnDir, 'registry-storage');
    mkdirSync(storage, { recursive: true });
    const cfg = join(this.rnDir, 'registry.yml');
    writeFileSync(cfg, [
      'version: 0.1',
      'log:',
      '  level: info',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${storage}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${this.registry}`,
      '',
    ].join('\n'));
    const reg = this.sup.start('registry', this.rnBins.registry, ['serve', cfg], { env: { ...process.env, OTEL_TRACES_EXPORTER: 'none', OTEL_SDK_DISABLED: 'true' } });
    await waitFor(`registry ${this.registry}/v2/`, async () => {
      this.sup.assertAlive(reg);
      return (await fetch(`http://${this.registry}/v2/`)).status === 200;
    }, { timeoutMs: 30_000 });
    this.log(`e2e real node: registry (distribution) on ${this.registry}, storage ${storage}`);
  }

  async pushImages() {
    const bins = buildStaticBinaries(this.log);
    const pause = binaryImage(join(this.rnDir, 'image-pause'), bins.pause, 'pause', '65535:65535');
    const probe = binaryImage(join(this.rnDir, 'image-probe'), bins.probe, 'probe', '65532:65532');
    this.images = {
      pause: `${this.registry}/weft-e2e/pause:3.10`,
      probe: `${this.registry}/weft-e2e/probe:1`,
    };
    this.imageDigests = {
      pause: await pushImage(this.registry, 'weft-e2e/pause', '3.10', pause),
      probe: await pushImage(this.registry, 'weft-e2e/probe', '1', probe),
    };
    this.log(`e2e real node: pushed ${this.images.pause}@${this.imageDigests.pause} and ${this.images.probe}@${this.imageDigests.probe}`);
  }

  async startContainerd() {
    const d = this.rnDir;
    // CNI plugins run in the node's netns: containerd (in the host netns, to reach the registry) calls these wrappers.
    const cniBin = join(d, 'cni-bin');
    mkdirSync(cniBin, { recursive: true });
    for (const p of CNI_PLUGINS) {
      writeFileSync(join(cniBin, p), `#!/bin/sh\nexec /usr/bin/nsenter --net=/run/netns/${net.NODE_NS} ${CNI_DIR}/${p} "$@"\n`, { mode: 0o755 });
    }
    const cniConf = join(d, 'cni-conf');
    mkdirSync(cniConf, { recursive: true });
    writeFileSync(join(cniConf, '10-weft-e2e.conflist'), JSON.stringify({
      cniVersion: '0.4.0',
      name: 'weft-e2e-real',
      plugins: [
        {
          type: 'bridge',
          bridge: net.BRIDGE,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: net.POD_CIDR, rangeStart: '198.18.1.10', rangeEnd: '198.18.1.250', gateway: net.POD_GATEWAY }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: join(d, 'cni-ipam'),
          },
        },
        { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      ],
    }, null, 2));
    // Registry hosts: the loopback registry over plain HTTP; docker.io pointed at a closed local port so nothing ever leaves.
    const certsD = join(d, 'certs.d');
    for (const host of [this.registry, this.registry.replace('127.0.0.1', 'localhost')]) {
      mkdirSync(join(certsD, host), { recursive: true });
      writeFileSync(join(certsD, host, 'hosts.toml'), `server = "http://${this.registry}"\n\n[host."http://${this.registry}"]\n  capabilities = ["pull", "resolve"]\n  skip_verify = true\n`);
    }
    mkdirSync(join(certsD, 'docker.io'), { recursive: true });
    writeFileSync(join(certsD, 'docker.io', 'hosts.toml'), 'server = "http://127.0.0.1:1"\n\n[host."http://127.0.0.1:1"]\n  capabilities = ["pull", "resolve"]\n');
    const cfg = join(d, 'containerd.toml');
    writeFileSync(cfg, `version = 2
root = "${join(RN_LIB, 'containerd')}"
state = "${join(RN_RUN, 'containerd')}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "${CONTAINERD_SOCK}"

[ttrpc]
  address = "${CONTAINERD_SOCK}.ttrpc"

[debug]
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${this.images.pause}"
  # root here lacks CAP_SYS_RESOURCE: never ask runc to lower oom_score_adj
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${cniBin}"
    conf_dir = "${cniConf}"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${certsD}"
`);
    mkdirSync(join(RN_RUN, 'containerd'), { recursive: true });
    const ctrd = this.sup.start('containerd', '/usr/bin/containerd', ['--config', cfg]);
    this.containerd = ctrd;
    await waitFor('containerd CRI', () => {
      this.sup.assertAlive(ctrd);
      return /io\.containerd\.grpc\.v1\s+cri\s.*\sok/.test(ctr(['plugins', 'ls']));
    }, { timeoutMs: 60_000, intervalMs: 500 });
    this.log(`e2e real node: containerd on ${CONTAINERD_SOCK} (CNI via ${net.NODE_NS}, registry ${this.registry} mirrored over HTTP)`);
  }

  /** Service names for the pods (lib/cluster-dns.mjs) on the pods' gateway in the node netns; the kubelet's clusterDNS. */
  async startClusterDns() {
    const dns = this.sup.start('cluster-dns', '/usr/bin/nsenter', [`--net=/run/netns/${net.NODE_NS}`, process.execPath, clusterDnsMain, `--kubeconfig=${this.adminKubeconfig}`, `--listen=${net.POD_GATEWAY}`]);
    await waitFor('cluster DNS', () => {
      this.sup.assertAlive(dns);
      return readFileSync(dns.logPath, 'utf8').includes('cluster-dns: serving');
    }, { timeoutMs: 30_000 });
  }

  async startKubelet(creds) {
    const pki = this.pki;
    const d = this.rnDir;
    const kc = writeKubeconfig(join(d, 'kubelet.kubeconfig'), 'kubelet', creds(pki.issue('kubelet', `/O=system:nodes/CN=system:node:${REAL_NODE}`)));
    const serving = pki.issue('kubelet-serving', `/CN=${REAL_NODE}`, { usage: 'serverAuth', sans: [`DNS:${REAL_NODE}`, `IP:${net.NODE_IP}`] });
    // cgroupRoot must exist in every hierarchy the kubelet uses.
    for (const h of cgroupHierarchies()) mkdirSync(join(h, CGROUP_ROOT), { recursive: true });
    mkdirSync(KUBELET_ROOT, { recursive: true });
    const logsDir = join(d, 'pod-logs');
    mkdirSync(logsDir, { recursive: true });
    const cfg = join(d, 'kubelet.yaml');
    writeFileSync(cfg, JSON.stringify({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address: net.NODE_IP,
      port: 10250,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort: 10248,
      tlsCertFile: serving.cert,
      tlsPrivateKeyFile: serving.key,
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: pki.caCert } },
      authorization: { mode: 'Webhook' },
      containerRuntimeEndpoint: `unix://${CONTAINERD_SOCK}`,
      cgroupDriver: 'cgroupfs',
      cgroupRoot: `/${CGROUP_ROOT}`,
      failCgroupV1: false,
      failSwapOn: false,
      podLogsDir: logsDir,
      clusterDomain: 'cluster.local',
      clusterDNS: [net.POD_GATEWAY],
      resolvConf: '/etc/resolv.conf',
      // A shared test machine: only the pods' own limits, no evictions for the host's disk or memory use.
      evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      serializeImagePulls: false,
      nodeStatusUpdateFrequency: '10s',
      syncFrequency: '10s',
      rotateCertificates: false,
      serverTLSBootstrap: false,
      protectKernelDefaults: false,
      shutdownGracePeriod: '0s',
    }, null, 2));
    const kubelet = this.sup.start('kubelet', '/usr/bin/nsenter', [`--net=/run/netns/${net.NODE_NS}`, this.rnBins.kubelet,
      `--config=${cfg}`,
      `--kubeconfig=${kc}`,
      `--root-dir=${KUBELET_ROOT}`,
      `--hostname-override=${REAL_NODE}`,
      `--node-ip=${net.NODE_IP}`,
      '--v=2',
    ]);
    this.kubelet = kubelet;
    await waitFor(`node ${REAL_NODE} Ready`, async () => {
      this.sup.assertAlive(kubelet);
      const node = await this.kube.getOrNull(`/api/v1/nodes/${REAL_NODE}`);
      return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    }, { timeoutMs: 120_000, intervalMs: 500 });
    const info = (await this.kube.get(`/api/v1/nodes/${REAL_NODE}`)).status.nodeInfo;
    this.log(`e2e real node: node ${REAL_NODE} Ready: kubelet ${info.kubeletVersion}, ${info.containerRuntimeVersion}, kernel ${info.kernelVersion}`);
  }

  writeState() {
    super.writeState();
    const state = JSON.parse(readFileSync(this.statePath, 'utf8'));
    Object.assign(state, {
      node: this.withNode ? REAL_NODE : null,
      charts: this.charts ?? null,
      // The previous release (test/e2e/previous-release.json) as published next to this one: { version, registry, tag, images, charts } or why it is missing.
      previousRelease: this.previousRelease ?? null,
      realNode: this.withNode ? { name: REAL_NODE, registry: this.registry, images: this.images, imageDigests: this.imageDigests, weftImages: this.weftImages, versions: this.rnVersions, podLogsDir: join(this.rnDir, 'pod-logs'), containerdSock: CONTAINERD_SOCK } : null,
    });
    writeFileSync(this.statePath, JSON.stringify(state, null, 2));
  }

  /**
   * Pods first (the kubelet stops their containers, calls CNI DEL, unmounts
   * their volumes), then the kubelet, whatever containerd still runs, containerd,
   * its shims, every mount, the cgroups, the networks, the sysctls.
   */
  async down() {
    this.steps = [];
    if (this.withNode && this.kubelet && !this.kubelet.exited) {
      try {
        await this.drainNode();
      } catch (err) {
        this.steps.push(`drain: ${err.message}`);
      }
    }
    if (this.withNode) {
      // Before the node netns goes: what the pods' networking left in it.
      this.nodeNetLeft = nodeNetLeftovers();
    }
    // The kubelet before containerd, containerd before the control plane.
    await this.stopOne('kubelet');
    if (this.withNode) removeAllCriContainers();
    await this.stopOne('containerd');
    await super.down();
    if (this.withNode) {
      const swept = sweepRealNode();
      this.steps.push(`swept after containerd stopped: ${swept.processes} processes, ${swept.mounts} mounts (kubelet root dir bind mount and containerd's), cgroup root in ${swept.cgroups} hierarchies; sysctls restored: ${swept.sysctls}`);
    }
  }

  async stopOne(name) {
    const e = this.sup.procs.find((p) => p.name === name);
    if (!e || e.exited) return;
    process.kill(-e.child.pid, 'SIGTERM');
    for (let i = 0; i < 100 && !e.exited; i++) await sleep(100);
    if (!e.exited) {
      process.kill(-e.child.pid, 'SIGKILL');
      this.steps.push(`${name} needed SIGKILL`);
      for (let i = 0; i < 50 && !e.exited; i++) await sleep(100);
    }
  }

  /** Deletes every pod bound to the node and waits until the kubelet has removed them. */
  async drainNode() {
    const list = await this.kube.get(`/api/v1/pods?fieldSelector=spec.nodeName%3D${REAL_NODE}`);
    for (const p of list.items) {
      await this.kube.delete(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`, { gracePeriodSeconds: 1 }).catch(() => {});
    }
    await waitFor('pods on the real node gone', async () => {
      const l = await this.kube.get(`/api/v1/pods?fieldSelector=spec.nodeName%3D${REAL_NODE}`);
      return l.items.length === 0;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    // The kubelet removes the pods' sandboxes (CNI DEL) as it finishes them; wait for none left running.
    await waitFor('pod sandboxes stopped', () => criRunningTasks() === 0, { timeoutMs: 30_000, intervalMs: 500 }).catch((err) => this.steps.push(err.message));
  }

  /** What the teardown left (empty when clean), beyond what run.mjs checks for the environment. */
  leftovers() {
    const left = [...(this.nodeNetLeft ?? [])];
    left.push(...ourProcesses().map((p) => `process ${p.pid} ${p.cmd}`));
    left.push(...cgroupPids().map((p) => `process ${p} in the node's cgroups`));
    left.push(...ourMounts().map((m) => `mount ${m}`));
    for (const h of cgroupHierarchies()) if (existsSync(join(h, CGROUP_ROOT))) left.push(`cgroup ${join(h, CGROUP_ROOT)}`);
    for (const p of [RN_LIB, RN_RUN, SYSCTL_FILE]) if (existsSync(p)) left.push(p);
    for (const [k, v] of Object.entries(this.savedSysctls ?? {})) {
      const now = readFileSync(`/proc/sys/${k}`, 'utf8').trim();
      if (now !== v) left.push(`sysctl ${k.replace(/\//g, '.')}=${now} (was ${v})`);
    }
    const after = snapshotHost();
    for (const c of after.chains) if (!this.before.chains.includes(c)) left.push(`host iptables chain ${c}`);
    // Only names this node's parts make (CNI veths and bridge, containerd's cni-* netns): the machine is
    // shared, and other harnesses (the proxy's netns tests, `npm start`) make links and netns of their own.
    for (const l of after.links) if (!this.before.links.includes(l) && NODE_MADE_LINK.test(l)) left.push(`host link ${l}`);
    for (const n of after.netns) if (!this.before.netns.includes(n) && NODE_MADE_NETNS.test(n)) left.push(`netns ${n}`);
    for (const s of after.shimSockets) if (!this.before.shimSockets.includes(s)) left.push(`shim socket ${s}`);
    return left;
  }
}

/** Links and netns a misrouted CNI plugin or containerd would leave in the host's namespaces. */
const NODE_MADE_LINK = new RegExp(`^(veth|cni|${net.BRIDGE}$|weft-e2e)`);
const NODE_MADE_NETNS = /^(cni-|weft-e2e)/;

function ctr(args) {
  return execFileSync('/usr/bin/ctr', ['--address', CONTAINERD_SOCK, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
}

function criRunningTasks() {
  return ctr(['-n', 'k8s.io', 'tasks', 'ls', '-q']).split('\n').filter(Boolean).length;
}

/** Kills and deletes every task and container containerd still has in the CRI namespace (what the kubelet did not finish). */
function removeAllCriContainers() {
  if (!existsSync(CONTAINERD_SOCK)) return;
  try {
    const tasks = ctr(['-n', 'k8s.io', 'tasks', 'ls', '-q']).split('\n').filter(Boolean);
    for (const t of tasks) spawnSync('/usr/bin/ctr', ['--address', CONTAINERD_SOCK, '-n', 'k8s.io', 'tasks', 'kill', '-s', 'SIGKILL', t]);
    for (const t of tasks) spawnSync('/usr/bin/ctr', ['--address', CONTAINERD_SOCK, '-n', 'k8s.io', 'tasks', 'delete', '-f', t], { timeout: 15_000 });
    for (const c of ctr(['-n', 'k8s.io', 'containers', 'ls', '-q']).split('\n').filter(Boolean)) {
      spawnSync('/usr/bin/ctr', ['--address', CONTAINERD_SOCK, '-n', 'k8s.io', 'containers', 'delete', c], { timeout: 15_000 });
    }
  } catch {
    // containerd gone: the sweep below kills shims and unmounts
  }
}

/** cgroup v1 hierarchies (one per mounted controller set). */
function cgroupHierarchies() {
  return readdirSync('/sys/fs/cgroup')
    .map((n) => join('/sys/fs/cgroup', n))
    .filter((p) => p !== '/sys/fs/cgroup/unified' && existsSync(join(p, 'cgroup.procs')));
}

/** Processes of this node: containerd, the kubelet and the shims, told apart by the paths only this harness uses. */
export function ourProcesses() {
  const found = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    if (Number(pid) === process.pid) continue;
    let cmd;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      continue;
    }
    if (cmd.includes(RN_RUN) || cmd.includes(`--root-dir=${KUBELET_ROOT}`) || cmd.includes('/real-node/containerd.toml') || cmd.includes('/real-node/registry.yml')) found.push({ pid: Number(pid), cmd: cmd.slice(0, 120) });
  }
  return found;
}

/** Mount points under the node's directories, deepest first. */
export function ourMounts() {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4].replace(/\\040/g, ' '))
    .filter((m) => m === RN_LIB || m.startsWith(`${RN_LIB}/`) || m === RN_RUN || m.startsWith(`${RN_RUN}/`))
    .sort((a, b) => b.length - a.length);
}

/** In the node netns: CNI chains and veths the pods' networking should have removed. */
function nodeNetLeftovers() {
  const left = [];
  const inNode = (...a) => spawnSync('ip', ['netns', 'exec', net.NODE_NS, ...a], { encoding: 'utf8' });
  for (const table of ['nat', 'filter']) {
    for (const l of inNode('iptables-save', '-t', table).stdout.split('\n')) {
      // CNI-HOSTPORT-*/CNI-FORWARD are the plugins' shared chains; per-pod chains are CNI-<hash> and CNI-DN-<hash>.
      const m = l.match(/^:(CNI-(?:DN-)?[0-9a-f]{12,})\s/);
      if (m) left.push(`node netns chain ${table}/${m[1]}`);
    }
  }
  for (const l of inNode('ip', '-o', 'link', 'show', 'master', net.BRIDGE).stdout.split('\n').filter(Boolean)) left.push(`veth on ${net.BRIDGE}: ${l.split(':')[1].trim()}`);
  return left;
}

/** What of the host's own state this node could touch: iptables chains, links, netns, shim sockets. */
export function snapshotHost() {
  const chains = [];
  for (const table of ['nat', 'filter', 'mangle']) {
    const r = spawnSync('iptables-save', ['-t', table], { encoding: 'utf8' });
    for (const l of (r.stdout ?? '').split('\n')) if (/^:(CNI-|KUBE-)/.test(l)) chains.push(`${table}/${l.slice(1).split(' ')[0]}`);
  }
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map((l) => l.split(':')[1].trim().split('@')[0]);
  const netns = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
  const shimSockets = existsSync('/run/containerd/s') ? readdirSync('/run/containerd/s') : [];
  return { chains, links, netns, shimSockets };
}

/** Pids in the node's cgroups (its containers), from every hierarchy. */
export function cgroupPids() {
  const pids = new Set();
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    try {
      for (const l of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (l) pids.add(Number(l));
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
    } catch {
      // removed meanwhile
    }
  };
  for (const h of cgroupHierarchies()) walk(join(h, CGROUP_ROOT));
  return [...pids];
}

function rmCgroupTree(dir) {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmCgroupTree(join(dir, e.name));
  for (let i = 0; i < 20; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch {
      // a task still exiting: try again shortly
      spawnSync('sleep', ['0.1']);
    }
  }
}

/**
 * Removes what this node may have left, also after a run that died: kills its
 * processes (by pid, matched on this harness's own paths), unmounts the kubelet
 * root dir (`umount -R`) and containerd's mounts, removes its cgroups, pod
 * netns mounts and directories. The node netns itself goes with sweepNetwork.
 */
export function sweepRealNode() {
  const swept = { processes: 0, mounts: ourMounts().length, cgroups: 0 };
  for (let round = 0; round < 3; round++) {
    const procs = ourProcesses();
    if (procs.length === 0) break;
    swept.processes += procs.length;
    for (const p of procs) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    spawnSync('sleep', ['0.3']);
  }
  // Containers outlive a killed shim: whatever still runs in the node's cgroups is one of its containers.
  for (let round = 0; round < 20; round++) {
    const pids = cgroupPids();
    if (pids.length === 0) break;
    swept.processes += round === 0 ? pids.length : 0;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    spawnSync('sleep', ['0.2']);
  }
  if (existsSync(KUBELET_ROOT)) spawnSync('umount', ['-R', KUBELET_ROOT]);
  for (const m of ourMounts()) {
    if (spawnSync('umount', [m]).status !== 0) spawnSync('umount', ['-l', m]);
  }
  for (const h of cgroupHierarchies()) {
    if (!existsSync(join(h, CGROUP_ROOT))) continue;
    swept.cgroups++;
    rmCgroupTree(join(h, CGROUP_ROOT));
  }
  if (ourMounts().length === 0) {
    rmSync(RN_LIB, { recursive: true, force: true });
    rmSync(RN_RUN, { recursive: true, force: true });
  }
  // Shim sockets whose shim is gone (a killed shim cannot remove its own).
  if (existsSync('/run/containerd/s')) {
    const live = new Set(readFileSync('/proc/net/unix', 'utf8').split('\n').map((l) => l.split(' ').pop()));
    for (const s of readdirSync('/run/containerd/s')) {
      const p = join('/run/containerd/s', s);
      try {
        if (!live.has(p) && statSync(p).isSocket()) rmSync(p, { force: true });
      } catch {
        // gone
      }
    }
  }
  // The values found before the kubelet set its own.
  swept.sysctls = 'none saved';
  if (existsSync(SYSCTL_FILE)) {
    const saved = JSON.parse(readFileSync(SYSCTL_FILE, 'utf8'));
    for (const [k, v] of Object.entries(saved)) {
      try {
        writeFileSync(`/proc/sys/${k}`, v);
      } catch {
        // not writable here
      }
    }
    swept.sysctls = Object.entries(saved).map(([k, v]) => `${k.replace(/\//g, '.')}=${v}`).join(' ');
    rmSync(SYSCTL_FILE, { force: true });
  }
  return swept;
}
