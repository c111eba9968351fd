// What the real-node scenarios read about pods beyond the API: the kubelet's
// CRI log files, containerd's view of a container (its OCI spec: user,
// capabilities), and a container's cgroup v1 directory (memory, cpu).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './procs.mjs';
import { readyPods } from './pods.mjs';
import { WEFT_NS } from './weft-install.mjs';

const FAILING = /ErrImagePull|ImagePullBackOff|CreateContainerError|CreateContainerConfigError|RunContainerError|CrashLoopBackOff|InvalidImageName/;

/** Waits for pod ns/name Ready; fails at once (with the reason) when a container cannot be created or pulled. */
export async function podReady(env, ns, name, timeoutMs = 180_000) {
  let last;
  let failing;
  try {
    return await waitFor(`${ns}/${name} Ready`, async () => {
      const p = await env.kube.get(`/api/v1/namespaces/${ns}/pods/${name}`);
      last = p;
      const waiting = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])].filter((c) => FAILING.test(c.state?.waiting?.reason ?? ''));
      if (waiting.length) failing = waiting.map((c) => `${c.name}: ${c.state.waiting.reason} ${c.state.waiting.message ?? ''}`).join('; ');
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    }, { timeoutMs, intervalMs: 1000 });
  } catch (err) {
    err.message += `${failing ? `\n  ${failing}` : ''}\n  status: ${JSON.stringify(last?.status ?? {}).slice(0, 3000)}\n${podLogs(env, ns, name)}`;
    throw err;
  }
}

/** The last lines of every container log the kubelet keeps for a pod (CRI log files under podLogsDir). */
export function podLogs(env, ns, name, lines = 15) {
  const root = env.state.realNode.podLogsDir;
  const out = [];
  for (const d of readdirSync(root).filter((n) => n.startsWith(`${ns}_${name}_`))) {
    for (const c of readdirSync(join(root, d))) {
      for (const f of readdirSync(join(root, d, c)).sort()) {
        out.push(`--- ${c}/${f}`, readFileSync(join(root, d, c, f), 'utf8').split('\n').slice(-lines).join('\n'));
      }
    }
  }
  return out.join('\n');
}

/** A container's whole CRI log (the message part of each `<time> <stream> <tag> <message>` line). */
export function containerLog(env, ns, name, container) {
  const root = env.state.realNode.podLogsDir;
  const dir = readdirSync(root).find((n) => n.startsWith(`${ns}_${name}_`));
  if (!dir || !existsSync(join(root, dir, container))) return '';
  return readdirSync(join(root, dir, container)).sort()
    .map((f) => readFileSync(join(root, dir, container, f), 'utf8'))
    .join('')
    .split('\n')
    .map((l) => l.split(' ').slice(3).join(' '))
    .join('\n');
}

/** containerd's record of a container (`ctr containers info`): its OCI spec is what runc was told to run. */
export function containerInfo(env, containerID) {
  const id = containerID.replace(/^containerd:\/\//, '');
  return JSON.parse(execFileSync('/usr/bin/ctr', ['--address', env.state.realNode.containerdSock, '-n', 'k8s.io', 'containers', 'info', id], { encoding: 'utf8' }));
}

/** The pid of a running container (containerd's task list). */
export function containerPid(env, containerID) {
  const id = containerID.replace(/^containerd:\/\//, '');
  const line = execFileSync('/usr/bin/ctr', ['--address', env.state.realNode.containerdSock, '-n', 'k8s.io', 'tasks', 'ls'], { encoding: 'utf8' }).split('\n').find((l) => l.startsWith(`${id} `));
  if (!line) throw new Error(`no task for container ${id}`);
  return Number(line.split(/\s+/)[1]);
}

/** The host directory of a container's cgroup v1 `controller` (memory, cpu,cpuacct, …), from its pid. */
export function containerCgroupDir(pid, controller) {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller));
  if (!line) throw new Error(`pid ${pid} has no ${controller} cgroup`);
  const [, controllers, path] = line.split(':');
  return join('/sys/fs/cgroup', controllers, path);
}

export const readCgroup = (dir, file) => readFileSync(join(dir, file), 'utf8').trim();

/**
 * Waits until identity, destination and the injector each have a Ready pod (after installWeft), and the API server's
 * webhook calls reach the injector (injectorServing).
 */
export async function controlPlaneReady(env) {
  for (const c of ['identity', 'destination', 'injector']) {
    await readyPods(env.kube, WEFT_NS, `app.kubernetes.io/name=weft-${c}`, 1, `weft-${c} Ready`, 240_000);
  }
  await injectorServing(env);
}

/**
 * Waits until the API server's call to the injector webhook reaches the injector. A Ready injector pod is not enough:
 * the API server calls the webhook through its Service, which kube-proxy routes only after the endpoint turned ready,
 * and a call before that fails open (`failurePolicy: Ignore`), so a pod created then is admitted without a proxy.
 * A server-side dry run of a pod that asks for injection says whether the webhook ran; nothing is created.
 */
export async function injectorServing(env) {
  const probe = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'weft-e2e-webhook-probe', annotations: { 'weft.io/inject': 'enabled' } },
    spec: { containers: [{ name: 'probe', image: env.echoImage }] },
  };
  let last;
  await waitFor('the API server reaches the injector webhook (a dry-run pod comes back injected)', async () => {
    last = await env.kube.create('/api/v1/namespaces/default/pods?dryRun=All', probe);
    return last.metadata?.annotations?.['weft.io/inject-status'] === 'injected';
  }, { timeoutMs: 180_000, intervalMs: 1000 }).catch((err) => {
    if (last) err.message += `\n  last dry-run pod's containers: ${last.spec.containers.map((c) => c.name).join(', ')}`;
    throw err;
  });
}

/** A namespace the injector meshes (`weft.io/inject: enabled`), with its default ServiceAccount. */
export async function meshedNamespace(env, ns, annotations = {}) {
  await env.kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, annotations: { 'weft.io/inject': 'enabled', ...annotations } } });
  await waitFor(`default ServiceAccount in ${ns}`, () => env.kube.getOrNull(`/api/v1/namespaces/${ns}/serviceaccounts/default`), { timeoutMs: 60_000 });
}

/**
 * Runs `node -e <script>` once as Job ns/name (label `app: <name>`, one try; its container `container`) in the echo image, and waits until it
 * completes; a Job that fails or does not complete in time fails with its pods' status and logs. Resolves its pod.
 */
export async function runScriptJob(env, ns, { name, container = name, serviceAccountName, script, module = false, annotations = {}, timeoutMs = 240_000 }) {
  const command = module ? ['node', '--input-type=module', '-e', script] : ['node', '-e', script];
  await env.kube.create(`/apis/batch/v1/namespaces/${ns}/jobs`, {
    apiVersion: 'batch/v1', kind: 'Job', metadata: { name },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: { app: name }, annotations },
        spec: { serviceAccountName, restartPolicy: 'Never', terminationGracePeriodSeconds: 5, containers: [{ name: container, image: env.echoImage, command }] },
      },
    },
  });
  const pods = async () => (await env.kube.get(`/api/v1/namespaces/${ns}/pods?labelSelector=app%3D${name}`)).items;
  await waitFor(`the ${name} Job Complete`, async () => {
    const j = await env.kube.get(`/apis/batch/v1/namespaces/${ns}/jobs/${name}`);
    if (j.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True')) throw new Error(`the Job failed: ${JSON.stringify(j.status)}`);
    return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True');
  }, { timeoutMs, intervalMs: 1000 }).catch(async (err) => {
    for (const p of await pods()) err.message += `\n  ${p.metadata.name}: ${JSON.stringify(p.status).slice(0, 2000)}\n${podLogs(env, ns, p.metadata.name)}`;
    throw err;
  });
  const [pod] = await pods();
  return pod;
}
