// One pod on this node: a network namespace on the node's bridge, its
// volumes as directories bind-mounted inside the pod's processes' private
// mount namespace, init containers run to completion in order, then the
// containers as processes (restarted per restartPolicy), readiness probes
// polled against the real sockets, and the resulting status written to the
// Pod so the controller-manager builds EndpointSlices from it.
/* global fetch, AbortSignal */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, openSync, closeSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveContainer } from './images.mjs';
import * as net from '../lib/node-net.mjs';

/** The checkout the pods' processes run from (the harness's "images"). */
const IMAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');

/** Where pods' volume contents are kept on the host (removed with each pod). */
export const VOLUME_ROOT = '/var/lib/weft-e2e/volumes';

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class PodSandbox {
  /**
   * @param {object} o
   * @param {import('../lib/kube.mjs').Kube} o.kube node credentials
   * @param {object} o.pod the Pod
   * @param {number} o.index address index (198.18.1.<index>)
   * @param {string} o.stateDir per-node state dir
   * @param {() => string} o.hosts current hosts file text for this pod
   * @param {(msg: string) => void} o.log
   * @param {Set<string>} [o.createdDirs] mount points made on the host, removed by the agent at shutdown
   */
  constructor({ kube, pod, index, stateDir, hosts, log, createdDirs }) {
    this.kube = kube;
    this.pod = pod;
    this.index = index;
    this.uid = pod.metadata.uid;
    this.ns = pod.metadata.namespace;
    this.name = pod.metadata.name;
    this.netns = `${net.PREFIX}p${index}-${this.name}`.slice(0, 100);
    this.dir = join(stateDir, `${this.ns}_${this.name}_${this.uid.slice(0, 8)}`);
    // Volume sources live where no pod mounts (a pod's emptyDir on /tmp would hide a source under /tmp).
    this.volDir = join(VOLUME_ROOT, `${this.ns}_${this.name}_${this.uid.slice(0, 8)}`);
    this.hosts = hosts;
    /** @type {Set<string>} shared by the node's pods */
    this.createdDirs = createdDirs ?? new Set();
    this.log = (m) => log(`${this.ns}/${this.name}: ${m}`);
    this.stopped = false;
    /** @type {Map<string, {child?: import('node:child_process').ChildProcess, restarts: number, ready: boolean, started?: string, lastExit?: object, waiting?: object}>} */
    this.containers = new Map();
    this.initDone = false;
    this.ip = undefined;
  }

  async start() {
    mkdirSync(this.dir, { recursive: true });
    const spec = this.pod.spec;
    // Images first: an unknown image fails the pod with a clear reason before anything runs.
    const resolved = new Map();
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      const r = resolveContainer(c);
      if (r.error) {
        this.log(r.error);
        this.containers.set(c.name, { restarts: 0, ready: false, waiting: { reason: r.reason, message: r.error } });
        await this.writeStatus({ phase: 'Pending', message: r.error, reason: r.reason });
        return;
      }
      resolved.set(c.name, r);
    }
    if (this.stopped) return;
    this.ip = net.addPodNetwork(this.netns, this.index, this.hosts());
    this.log(`network namespace ${this.netns}, IP ${this.ip}`);
    // As a kubelet does: a Secret or ConfigMap that does not exist yet (cert-manager still issuing) is retried.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.prepareVolumes();
        break;
      } catch (err) {
        if (this.stopped) return;
        const message = `volumes not ready: ${err.message}`;
        if (attempt === 0) this.log(message);
        await this.writeStatus({ phase: 'Pending', message, reason: 'FailedMount' }).catch(() => {});
        await sleep(Math.min(500 * 2 ** attempt, 5000));
      }
    }
    await this.writeStatus({ phase: 'Pending' });
    for (const c of spec.initContainers ?? []) {
      if (c.restartPolicy === 'Always') {
        // A native sidecar: started in its turn, kept running; the next container waits until it has started.
        this.runContainer(c, resolved.get(c.name));
        await this.waitStarted(c);
        continue;
      }
      for (let attempt = 0; !this.stopped; attempt++) {
        const code = await this.runToCompletion(c, resolved.get(c.name));
        if (code === 0) break;
        this.log(`init container ${c.name} exited ${code}; retrying`);
        await this.writeStatus({ phase: 'Pending', message: `init container ${c.name} failed (exit ${code})` });
        await sleep(Math.min(1000 * 2 ** attempt, 10_000));
      }
      if (this.stopped) return;
    }
    if (this.stopped) return;
    this.initDone = true;
    for (const c of spec.containers) this.runContainer(c, resolved.get(c.name));
    this.startedAt = now();
    await this.writeStatus({ phase: 'Running' });
    this.probeLoop();
  }

  /** argv that runs `argv` inside the pod: its netns, its mounts, its user. */
  wrap(container, argv) {
    for (const m of container.volumeMounts ?? []) this.noteMountPoint(m.mountPath);
    // Parents before children, as a kubelet mounts them.
    const volumeMounts = [...(container.volumeMounts ?? [])].sort((a, b) => a.mountPath.split('/').length - b.mountPath.split('/').length);
    const binds = volumeMounts.map((m) => {
      const src = join(this.volDir, m.name, m.subPath ?? '');
      return `mkdir -p '${m.mountPath}' && mount --bind ${m.readOnly ? '-o ro ' : ''}'${src}' '${m.mountPath}'`;
    });
    // The "image" is the checkout. When a volume is mounted over a directory that
    // holds it (CI clones under /tmp; pods mount an emptyDir on /tmp), keep the
    // checkout reachable at its own path: stash it first, put it back after.
    if (volumeMounts.some((m) => IMAGE_ROOT === m.mountPath || IMAGE_ROOT.startsWith(`${m.mountPath.replace(/\/$/, '')}/`))) {
      const stash = join(this.volDir, '.image');
      binds.unshift(`mkdir -p '${stash}' && mount --bind '${IMAGE_ROOT}' '${stash}'`);
      binds.push(`mkdir -p '${IMAGE_ROOT}' && mount --bind '${stash}' '${IMAGE_ROOT}'`);
    }
    const mounts = binds.join(' && ');
    const uid = container.securityContext?.runAsUser ?? this.pod.spec.securityContext?.runAsUser;
    // CAP_DAC_READ_SEARCH (ambient, kept across exec): the "image" is the checkout, which CI clones into a private directory.
    const user = uid !== undefined && uid !== 0
      ? ['setpriv', `--reuid=${uid}`, `--regid=${container.securityContext?.runAsGroup ?? uid}`, '--clear-groups', '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search', '--']
      : [];
    // `ip netns exec` gives each process a private (slave) mount namespace, so the binds stay inside it.
    return ['ip', 'netns', 'exec', this.netns, 'sh', '-c', `${mounts ? `${mounts} && ` : ''}exec "$@"`, 'pod', ...user, ...argv];
  }

  /**
   * Mount points are made on the host's file system (the bind mounts stay in
   * the pod's mount namespace): remember the first directory that did not
   * exist, so the agent removes it when no pod needs it any more.
   */
  noteMountPoint(path) {
    let dir = path;
    let firstMissing;
    while (dir !== '/' && !existsSync(dir)) {
      firstMissing = dir;
      dir = dirname(dir);
    }
    if (firstMissing) this.createdDirs.add(firstMissing);
  }

  env(container) {
    const field = {
      'metadata.name': this.name,
      'metadata.namespace': this.ns,
      'metadata.uid': this.uid,
      'spec.nodeName': this.pod.spec.nodeName,
      'spec.serviceAccountName': this.pod.spec.serviceAccountName ?? 'default',
      'status.podIP': this.ip,
      'status.podIPs': this.ip,
      'status.hostIP': net.NODE_IP,
    };
    // As a kubelet does: in-cluster clients find the API server through the `kubernetes` Service.
    const env = { PATH: process.env.PATH, HOME: '/tmp', HOSTNAME: this.name, KUBERNETES_SERVICE_HOST: net.KUBERNETES_SERVICE_IP, KUBERNETES_SERVICE_PORT: '443' };
    for (const e of container.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => env[v] ?? m);
      else if (e.valueFrom?.fieldRef) {
        const p = e.valueFrom.fieldRef.fieldPath;
        const ann = p.match(/^metadata\.(annotations|labels)\['(.+)'\]$/);
        env[e.name] = ann ? (this.pod.metadata[ann[1]]?.[ann[2]] ?? '') : (field[p] ?? '');
      } else env[e.name] = '';
    }
    return env;
  }

  spawnContainer(container, resolved) {
    // Container logs outlive the pod (kept with the run's logs for diagnosis).
    const logDir = join(this.dir, '..', '..', 'pod-logs');
    mkdirSync(logDir, { recursive: true });
    const log = join(logDir, `${this.ns}_${this.name}_${container.name}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(this.wrap(container, resolved.argv)[0], this.wrap(container, resolved.argv).slice(1), {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: this.env(container),
      cwd: resolved.cwd,
    });
    closeSync(fd);
    return child;
  }

  runToCompletion(container, resolved) {
    return new Promise((resolve) => {
      const child = this.spawnContainer(container, resolved);
      this.containers.set(container.name, { child, restarts: 0, ready: false });
      child.on('exit', (code, sig) => resolve(code ?? sig));
      child.on('error', () => resolve(-1));
    });
  }

  runContainer(container, resolved) {
    const state = this.containers.get(container.name) ?? { restarts: 0, ready: false };
    this.containers.set(container.name, state);
    const launch = () => {
      if (this.stopped) return;
      state.child = this.spawnContainer(container, resolved);
      state.started = now();
      state.ready = false;
      state.child.on('exit', (code, sig) => {
        state.child = undefined;
        state.ready = false;
        state.lastExit = { exitCode: code ?? 137, reason: code === 0 ? 'Completed' : 'Error', finishedAt: now(), signal: sig ?? undefined };
        if (this.stopped) return;
        this.log(`container ${container.name} exited (${code ?? sig})`);
        const policy = this.pod.spec.restartPolicy ?? 'Always';
        void this.writeStatus({ phase: 'Running' }).catch(() => {});
        if (policy === 'Always' || (policy === 'OnFailure' && code !== 0)) {
          state.restarts++;
          setTimeout(launch, Math.min(1000 * 2 ** Math.min(state.restarts, 4), 10_000));
        }
      });
    };
    launch();
  }

  async prepareVolumes() {
    for (const v of this.pod.spec.volumes ?? []) {
      const dir = join(this.volDir, v.name);
      mkdirSync(dir, { recursive: true });
      if (v.projected) {
        for (const src of v.projected.sources ?? []) {
          if (src.serviceAccountToken) {
            const t = await this.kube.create(`/api/v1/namespaces/${this.ns}/serviceaccounts/${this.pod.spec.serviceAccountName ?? 'default'}/token`, {
              apiVersion: 'authentication.k8s.io/v1',
              kind: 'TokenRequest',
              spec: {
                audiences: src.serviceAccountToken.audience ? [src.serviceAccountToken.audience] : [],
                expirationSeconds: src.serviceAccountToken.expirationSeconds ?? 3600,
                boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: this.name, uid: this.uid },
              },
            });
            writeFileSync(join(dir, src.serviceAccountToken.path), t.status.token);
          } else if (src.configMap) await this.writeKeys(dir, 'configmaps', src.configMap);
          else if (src.secret) await this.writeKeys(dir, 'secrets', src.secret);
          else if (src.downwardAPI) {
            for (const item of src.downwardAPI.items ?? []) {
              const p = item.fieldRef?.fieldPath;
              writeFileSync(join(dir, item.path), p === 'metadata.namespace' ? this.ns : p === 'metadata.name' ? this.name : '');
            }
          }
        }
      } else if (v.configMap) await this.writeKeys(dir, 'configmaps', { ...v.configMap, name: v.configMap.name });
      else if (v.secret) await this.writeKeys(dir, 'secrets', { ...v.secret, name: v.secret.secretName });
      // emptyDir: the directory itself.
    }
  }

  async writeKeys(dir, kind, src) {
    let obj;
    try {
      obj = await this.kube.get(`/api/v1/namespaces/${this.ns}/${kind}/${src.name}`);
    } catch (err) {
      if (src.optional) return;
      throw err;
    }
    const data = { ...(obj.data ?? {}) };
    const decode = (k) => (kind === 'secrets' ? Buffer.from(data[k], 'base64') : data[k]);
    const items = src.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const item of items) {
      if (data[item.key] === undefined) continue;
      const p = join(dir, item.path);
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, decode(item.key));
    }
  }

  /** Containers whose readiness counts: native sidecars and the main containers. */
  runningContainers() {
    return [...(this.pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'), ...this.pod.spec.containers];
  }

  /** A sidecar has started when its startupProbe passes (or, without one, once its process runs). */
  async waitStarted(container) {
    while (!this.stopped) {
      if (await this.probeOnce(container, container.startupProbe).catch(() => false)) return;
      await sleep(500);
    }
  }

  async probeOnce(container, probe = container.readinessProbe) {
    const state = this.containers.get(container.name);
    if (!state?.child) return false;
    if (!probe) return true;
    const port = (p) => (typeof p === 'number' ? p : Number((container.ports ?? []).find((x) => x.name === p)?.containerPort ?? p));
    if (probe.httpGet) {
      const r = await fetch(`http://${this.ip}:${port(probe.httpGet.port)}${probe.httpGet.path ?? '/'}`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return r !== undefined && r.status >= 200 && r.status < 400;
    }
    if (probe.tcpSocket || probe.grpc) {
      const p = port((probe.tcpSocket ?? probe.grpc).port);
      return await new Promise((resolve) => {
        const s = connect({ host: this.ip, port: p, timeout: 2000 }, () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
        s.on('timeout', () => {
          s.destroy();
          resolve(false);
        });
      });
    }
    if (probe.exec) {
      const r = spawnSync(this.wrap(container, probe.exec.command)[0], this.wrap(container, probe.exec.command).slice(1), { timeout: 5000 });
      return r.status === 0;
    }
    return true;
  }

  async probeLoop() {
    let last = '';
    while (!this.stopped) {
      for (const c of this.runningContainers()) {
        const state = this.containers.get(c.name);
        if (state) state.ready = await this.probeOnce(c).catch(() => false);
      }
      const sig = JSON.stringify([...this.containers.entries()].map(([n, s]) => [n, s.ready, s.restarts, !!s.child]));
      if (sig !== last && !this.stopped) {
        last = sig;
        await this.writeStatus({ phase: 'Running' }).catch((err) => this.log(`status: ${err.message}`));
      }
      await sleep(1000);
    }
  }

  containerStatus(c, init) {
    const s = this.containers.get(c.name) ?? { restarts: 0, ready: false };
    let state;
    if (s.waiting) state = { waiting: s.waiting };
    else if (s.child) state = { running: { startedAt: s.started ?? now() } };
    else if (s.lastExit) state = { terminated: { exitCode: s.lastExit.exitCode, reason: s.lastExit.reason, finishedAt: s.lastExit.finishedAt } };
    else state = { waiting: { reason: init ? 'PodInitializing' : 'ContainerCreating' } };
    if (init && this.initDone) state = { terminated: { exitCode: 0, reason: 'Completed', finishedAt: now() } };
    return {
      name: c.name,
      image: c.image,
      imageID: `weft-e2e://${c.image}`,
      ready: init ? this.initDone : s.ready,
      started: !init && !!s.child,
      restartCount: s.restarts,
      state,
      ...(s.lastExit && !init ? { lastState: { terminated: s.lastExit } } : {}),
    };
  }

  async writeStatus({ phase, message, reason }) {
    const spec = this.pod.spec;
    const statuses = spec.containers.map((c) => this.containerStatus(c, false));
    const sidecars = (spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always');
    const ready = phase === 'Running' && statuses.every((s) => s.ready) && sidecars.every((c) => this.containers.get(c.name)?.ready);
    const cond = (type, ok) => ({ type, status: ok ? 'True' : 'False', lastTransitionTime: now() });
    const status = {
      phase,
      hostIP: net.NODE_IP,
      hostIPs: [{ ip: net.NODE_IP }],
      ...(this.ip ? { podIP: this.ip, podIPs: [{ ip: this.ip }] } : {}),
      startTime: this.startTime ?? (this.startTime = now()),
      conditions: [cond('PodScheduled', true), cond('Initialized', this.initDone), cond('ContainersReady', ready), cond('Ready', ready)],
      containerStatuses: statuses,
      ...(spec.initContainers?.length ? { initContainerStatuses: spec.initContainers.map((c) => this.containerStatus(c, c.restartPolicy !== 'Always')) } : {}),
      message: message ?? null,
      reason: reason ?? null,
    };
    await this.kube.patch(`/api/v1/namespaces/${this.ns}/pods/${this.name}/status`, { status });
  }

  /** Stops every process (SIGTERM, then SIGKILL) and removes the namespace. */
  async stop(graceMs = 5000) {
    this.stopped = true;
    const children = [...this.containers.values()].map((s) => s.child).filter(Boolean);
    for (const c of children) signalGroup(c.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && children.some((c) => c.exitCode === null && c.signalCode === null)) await sleep(100);
    for (const c of children) signalGroup(c.pid, 'SIGKILL');
    if (this.ip) net.removeNamespace(this.netns);
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(this.volDir, { recursive: true, force: true });
  }
}

function signalGroup(pid, sig) {
  try {
    process.kill(-pid, sig);
  } catch {
    // gone
  }
}
