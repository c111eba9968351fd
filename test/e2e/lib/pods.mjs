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
