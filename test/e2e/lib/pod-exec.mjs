// Running a host command (curl, openssl, a traffic loop) as if inside a pod on
// the real node: in the pod's network namespace (which containerd made) and
// with the pod's own /etc/resolv.conf and /etc/hosts (the kubelet's, pointing
// at the cluster DNS with the pod's search path), so Service names resolve
// exactly as they do for the pod's containers. Images here are distroless
// (no shell, no curl), so the tool comes from the host and only the network
// and name resolution are the pod's.
//
// The pod's netns is reached through the pid of one of its running
// containers, from containerd's task list (`ctr tasks ls`).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** Pid of a running container of the pod (`container` names one; else the first running app container). */
export async function podContainerPid(kube, containerdSock, ns, name, container) {
  const pod = await kube.get(`/api/v1/namespaces/${ns}/pods/${name}`);
  const statuses = [...(pod.status.containerStatuses ?? []), ...(pod.status.initContainerStatuses ?? [])].filter((c) => c.state?.running && c.containerID);
  const chosen = container ? statuses.find((c) => c.name === container) : statuses[0];
  if (!chosen) throw new Error(`pod ${ns}/${name} has no running container${container ? ` ${container}` : ''}: ${JSON.stringify(statuses.map((c) => c.name))}`);
  const id = chosen.containerID.replace(/^containerd:\/\//, '');
  const tasks = execFileSync('/usr/bin/ctr', ['--address', containerdSock, '-n', 'k8s.io', 'tasks', 'ls'], { encoding: 'utf8' });
  const line = tasks.split('\n').find((l) => l.startsWith(`${id} `));
  const pid = line?.split(/\s+/)[1];
  if (!pid || line.split(/\s+/)[2] !== 'RUNNING') throw new Error(`no running task for ${ns}/${name}/${chosen.name} (${id})`);
  return Number(pid);
}

/**
 * The host files the runtime bind-mounted at `target` in the container (from
 * its mountinfo: the kubelet's etc-hosts, containerd's sandbox resolv.conf,
 * both on the host's root filesystem).
 */
function mountSource(pid, target) {
  const line = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === target);
  const source = line?.split(' ')[3];
  if (!source || !existsSync(source)) throw new Error(`pid ${pid}: no host file behind ${target} (${line ?? 'not a mount'})`);
  return source;
}

/**
 * argv prefix that runs the rest of argv in the pod's network namespace with
 * its resolv.conf and hosts (a private mount namespace binds them over the
 * host's for that one command).
 */
export function podNetPrefix(pid) {
  const script = 'mount --bind "$2" /etc/resolv.conf && mount --bind "$3" /etc/hosts && p=$1 && shift 3 && exec nsenter --net=/proc/$p/ns/net "$@"';
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'pod-net', String(pid), mountSource(pid, '/etc/resolv.conf'), mountSource(pid, '/etc/hosts')];
}
