// Pod helpers shared by the scenarios: readiness as the kubelet reports it,
// and a one-line summary of a pod for failure messages.
import { waitFor } from './procs.mjs';

export const podSummary = (p) =>
  `${p.metadata.name}: ${p.status.phase} ${p.status.reason ?? ''} ${p.status.message ?? ''} ${JSON.stringify(
    [...(p.status.initContainerStatuses ?? []), ...(p.status.containerStatuses ?? [])].map((c) => [c.name, c.ready, c.restartCount, Object.keys(c.state ?? {})[0]]),
  )}`;

export const isReady = (p) => Boolean(p.status.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));

/** Waits until at least `n` pods matching `selector` in `ns` are Ready; on timeout the error lists every pod's state. */
export async function readyPods(kube, ns, selector, n, what, timeoutMs) {
  let last = [];
  try {
    return await waitFor(
      what,
      async () => {
        const list = await kube.get(`/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`);
        last = list.items;
        const ready = list.items.filter(isReady);
        return ready.length >= n ? ready : undefined;
      },
      { timeoutMs },
    );
  } catch (err) {
    err.message += `\n  ${last.map(podSummary).join('\n  ')}`;
    throw err;
  }
}

/** An echo pod (the e2e workload image, `env.echoImage`) named `name`, labelled app=<name>. */
export function echoPod(image, name, serviceAccountName = 'default') {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: name } },
    spec: {
      serviceAccountName, terminationGracePeriodSeconds: 2,
      containers: [{
        name, image, ports: [{ name: 'http', containerPort: 8080 }],
        env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
      }],
    },
  };
}

/** Deletes namespaces and waits until they are gone; a timeout is logged, not thrown (teardown must go on). */
export async function deleteNamespaces(kube, names) {
  for (const ns of names) await kube.delete(`/api/v1/namespaces/${ns}`).catch(() => {});
  for (const ns of names) {
    await waitFor(`namespace ${ns} gone`, async () => (await kube.getOrNull(`/api/v1/namespaces/${ns}`)) === undefined, { timeoutMs: 120_000 }).catch((err) => console.log(`# ${err.message}`));
  }
}
