/**
 * Where the viz verbs reach viz. In order: --api-addr/--tap-addr/--web-addr
 * or their WEFT_VIZ_*_ADDR variables; the local demo on 127.0.0.1:8085 when
 * it answers; otherwise a port-forward (like `kubectl port-forward`) to the
 * viz pod in `weft-viz` of the kubeconfig's cluster, for as long as the
 * command runs.
 */
import net from 'node:net';
import { UnavailableError } from '@weft/common/errors';
import type { Globals } from './globals.js';
import { VizClient } from './viz-client.js';
import { withProgress } from './terminal.js';

export const VIZ_NAMESPACE = 'weft-viz';
const VIZ_PORTS = { api: 8085, tap: 8088, web: 8084 } as const;

function answers(host: string, port: number, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export interface VizAddrs {
  readonly api: string;
  readonly tap: string;
  readonly web: string;
  /** True when reached through a port-forward that lives as long as this process. */
  readonly forwarded: boolean;
}

/** Opens local listeners that forward to the viz pod's ports through the API server. */
async function portForward(g: Globals): Promise<VizAddrs> {
  let kc;
  try {
    kc = await g.kubeConfig();
  } catch (err) {
    throw new UnavailableError(`viz is not on 127.0.0.1:8085 and no kubeconfig to port-forward with: ${(err as Error).message}`);
  }
  const { k8s } = await import('@weft/common/k8s/client');
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let pod: string | undefined;
  try {
    const pods = await core.listNamespacedPod({ namespace: VIZ_NAMESPACE, labelSelector: 'app.kubernetes.io/component=viz', fieldSelector: 'status.phase=Running' });
    pod = pods.items[0]?.metadata?.name;
  } catch (err) {
    throw new UnavailableError(`viz is not on 127.0.0.1:8085 and listing viz pods in ${VIZ_NAMESPACE} failed: ${(err as Error).message}`);
  }
  if (!pod) throw new UnavailableError(`no running viz pod in namespace ${VIZ_NAMESPACE}: install the weft-viz chart (weft install --chart viz), or pass --api-addr`);
  const forward = new k8s.PortForward(kc);
  const listen = async (target: number): Promise<string> => {
    const server = net.createServer((socket) => {
      forward.portForward(VIZ_NAMESPACE, pod!, [target], socket, null, socket).catch(() => socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    // The CLI exits when its command is done, not when the forward is idle.
    server.unref();
    return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  };
  return { api: await listen(VIZ_PORTS.api), tap: await listen(VIZ_PORTS.tap), web: await listen(VIZ_PORTS.web), forwarded: true };
}

export async function vizAddrs(g: Globals): Promise<VizAddrs> {
  if (g.vizAddrsGiven || (await answers('127.0.0.1', VIZ_PORTS.api))) return { api: g.apiAddr, tap: g.tapAddr, web: g.webAddr, forwarded: false };
  return withProgress(`port-forwarding to the viz pod in ${VIZ_NAMESPACE}`, () => portForward(g));
}

export async function connectViz(g: Globals, token?: string): Promise<{ client: VizClient; addrs: VizAddrs }> {
  const addrs = await vizAddrs(g);
  return { client: new VizClient(addrs.api, addrs.tap, token), addrs };
}
