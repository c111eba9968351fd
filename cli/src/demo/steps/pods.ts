/**
 * The demo's pods: where each workload lives (a network namespace, or a block
 * of loopback ports), the discovery document destination serves them from,
 * their proxies (weft-init first, in netns mode) and their apps.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { PROXY_PORTS, PROXY_UID } from '@weft/api/names';
import { formatDnsIdentity } from '@weft/common/identity-name';
import { waitFor } from '@weft/common/poll';
import type { PodNetwork, Pod } from '@weft/common/sandbox/netns';
import type { ControlPlane, DestinationOnFile } from './control-plane.js';
import { spawnLogged, waitReady, type Teardown } from './teardown.js';
import {
  CLUSTER_IP_PREFIX,
  CONTROL_NS,
  DEMO_NAMESPACE,
  DEMO_PROFILES,
  TRUST_DOMAIN,
  VIZ_IDENTITY,
  WORKLOADS,
  serviceHost,
  type DemoWorkload,
} from '../topology.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const PROXY_MAIN = join(ROOT, 'proxy/dist/main.js');
const INIT_MAIN = join(ROOT, 'proxy/dist/init/main.js');
const APPS_MAIN = join(ROOT, 'cli/dist/demo/apps/main.js');

export type DemoMode = 'netns' | 'loopback';

export interface PodPlan {
  readonly workload: DemoWorkload;
  readonly identity: string;
  /** Where peers reach this pod: its namespace IP, or 127.0.0.1. */
  readonly ip: string;
  readonly ports: { readonly outbound: number; readonly inbound: number; readonly admin: number; readonly tap: number };
  readonly pod: Pod | undefined;
  /** Virtual service address in netns mode (routed by the proxies via destination). */
  readonly clusterIP: string | undefined;
}

/** One pod per workload: a namespace on the bridge (netns) or ports 141x0+ on loopback. */
export async function planPods(network: PodNetwork | undefined): Promise<PodPlan[]> {
  const plans: PodPlan[] = [];
  for (const [i, workload] of WORKLOADS.entries()) {
    const identity = formatDnsIdentity({
      serviceAccount: workload.name,
      namespace: DEMO_NAMESPACE,
      controlNamespace: CONTROL_NS,
      trustDomain: TRUST_DOMAIN,
    });
    if (network) {
      const pod = await network.addPod(workload.name);
      // Service cluster IPs need a route to be dialled at all; iptables then hands the
      // connection to the proxy before it leaves the pod (pods have no default route).
      await pod.mustRun(['ip', 'route', 'add', `${CLUSTER_IP_PREFIX}.0/24`, 'via', network.gateway]);
      plans.push({
        workload,
        identity,
        ip: pod.ip,
        pod,
        ports: PROXY_PORTS,
        clusterIP: workload.port ? `${CLUSTER_IP_PREFIX}.${10 + i}` : undefined,
      });
    } else {
      const base = 14100 + i * 10;
      plans.push({
        workload,
        identity,
        ip: '127.0.0.1',
        pod: undefined,
        ports: { outbound: base, inbound: base + 1, admin: base + 2, tap: base + 3 },
        clusterIP: undefined,
      });
    }
  }
  if (network) for (const p of plans) if (p.clusterIP) network.addHost(serviceHost(p.workload.name), p.clusterIP);
  return plans;
}

/** Writes the local discovery file destination serves the demo's services from. */
export function writeDiscoveryFile(file: string, plans: readonly PodPlan[], mode: DemoMode): void {
  const doc = {
    namespaces: [{ name: DEMO_NAMESPACE }],
    services: plans
      .filter((p) => p.workload.port !== undefined)
      .map((p) => ({
        name: p.workload.name,
        namespace: DEMO_NAMESPACE,
        ...(p.clusterIP ? { clusterIP: p.clusterIP } : {}),
        ports: [{ name: p.workload.protocol, port: p.workload.port, targetPort: p.workload.port }],
        profile: DEMO_PROFILES[p.workload.name],
        endpoints: [
          {
            ip: p.ip,
            pod: `${p.workload.name}-0`,
            serviceAccount: p.workload.name,
            meshed: true,
            workload: { kind: 'deployment', name: p.workload.name },
            ...(mode === 'loopback' ? { proxyInboundPort: p.ports.inbound } : {}),
          },
        ],
      })),
  };
  writeFileSync(file, JSON.stringify(doc, null, 2));
}

interface MeshEndpoints {
  readonly control: ControlPlane;
  readonly destination: DestinationOnFile;
  /** Where the proxies reach the control plane (the bridge gateway, or loopback). */
  readonly controlHost: string;
  /** `--tracing`: the OTLP/HTTP collector every proxy sends its spans to (all requests sampled). */
  readonly traceCollector?: string;
}

/** Proxies first (as in a pod with a native sidecar): each certified and ready before any app starts. */
export async function startProxies(
  plans: readonly PodPlan[],
  mode: DemoMode,
  mesh: MeshEndpoints,
  c: { dir: string; log: Logger; teardown: Teardown },
): Promise<void> {
  for (const p of plans) {
    const tokenFile = join(c.dir, `token-${p.workload.name}`);
    writeFileSync(
      tokenFile,
      mesh.control.tokens.issue({ serviceAccount: p.workload.name, namespace: DEMO_NAMESPACE, podName: `${p.workload.name}-0` }),
      { mode: 0o644 },
    );
    const env = { ...process.env, ...proxyEnv(p, mode, mesh, tokenFile) };
    if (p.pod) {
      const flags = { 'incoming-proxy-port': PROXY_PORTS.inbound, 'outgoing-proxy-port': PROXY_PORTS.outbound, 'proxy-uid': PROXY_UID };
      const ignore = `${PROXY_PORTS.tap},${PROXY_PORTS.admin}`;
      await p.pod.mustRun([
        process.execPath,
        INIT_MAIN,
        ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]),
        '--inbound-ports-to-ignore',
        ignore,
      ]);
      p.pod.spawn(`${p.workload.name}-proxy`, [process.execPath, PROXY_MAIN], { uid: PROXY_UID, env });
    } else {
      spawnLogged(`${p.workload.name}-proxy`, [process.execPath, PROXY_MAIN], env, c.log, c.teardown);
    }
  }
  for (const p of plans) await waitReady(`${p.workload.name} proxy`, `http://${p.ip}:${p.ports.admin}/ready`);
}

function proxyEnv(p: PodPlan, mode: DemoMode, mesh: MeshEndpoints, tokenFile: string): Record<string, string> {
  const listenHost = mode === 'netns' ? '0.0.0.0' : '127.0.0.1';
  const { controller } = mesh.destination;
  const env: Record<string, string> = {
    WEFT_PROXY_LOG_LEVEL: 'warn',
    WEFT_PROXY_OUTBOUND_LISTEN_ADDR: `127.0.0.1:${p.ports.outbound}`,
    WEFT_PROXY_INBOUND_LISTEN_ADDR: `${listenHost}:${p.ports.inbound}`,
    WEFT_PROXY_ADMIN_LISTEN_ADDR: `${listenHost}:${p.ports.admin}`,
    WEFT_PROXY_TAP_LISTEN_ADDR: `${listenHost}:${p.ports.tap}`,
    WEFT_PROXY_TAP_CLIENT_ID: VIZ_IDENTITY,
    WEFT_PROXY_IDENTITY_SVC_ADDR: mesh.control.identityAddr,
    WEFT_PROXY_IDENTITY_SVC_NAME: mesh.control.identity.serverName,
    WEFT_PROXY_DESTINATION_SVC_ADDR: `${mesh.controlHost}:${controller.destinationPort}`,
    WEFT_PROXY_POLICY_SVC_ADDR: `${mesh.controlHost}:${controller.policyPort}`,
    WEFT_PROXY_DESTINATION_SVC_NAME: mesh.destination.name,
    WEFT_PROXY_IDENTITY_LOCAL_NAME: p.identity,
    WEFT_PROXY_IDENTITY_TOKEN_FILE: tokenFile,
    WEFT_PROXY_IDENTITY_TRUST_ANCHORS: mesh.control.anchorPem,
    WEFT_PROXY_DESTINATION_CONTEXT: JSON.stringify({ ns: DEMO_NAMESPACE, pod: `${p.workload.name}-0`, nodeName: 'local' }),
    WEFT_PROXY_POD_NAMESPACE: DEMO_NAMESPACE,
    WEFT_PROXY_POD_NAME: `${p.workload.name}-0`,
    WEFT_PROXY_WORKLOAD_KIND: 'deployment',
    WEFT_PROXY_WORKLOAD_NAME: p.workload.name,
    WEFT_PROXY_INBOUND_PORTS: p.workload.port ? String(p.workload.port) : '',
  };
  if (mode === 'loopback' && p.workload.port) env.WEFT_PROXY_INBOUND_APP_PORT = String(p.workload.port);
  if (mesh.traceCollector) {
    env.WEFT_PROXY_TRACE_COLLECTOR = mesh.traceCollector;
    env.WEFT_PROXY_TRACE_SAMPLING = '1';
  }
  return env;
}

/** The apps: books (flaky), authors (gRPC), web, and the traffic generator. */
export function startApps(
  plans: readonly PodPlan[],
  mode: DemoMode,
  traffic: { failureRate: number; latencyMs: number; rps: number },
  c: { log: Logger; teardown: Teardown },
): void {
  const upstream = (name: string, port: number, p: PodPlan): string[] => {
    const args = [`http://${serviceHost(name)}:${port}`];
    return mode === 'loopback' ? [...args, '--via', `127.0.0.1:${p.ports.outbound}`] : args;
  };
  for (const p of plans) {
    const w = p.workload;
    const args =
      w.name === 'books'
        ? ['books', '--port', String(w.port), '--failure-rate', String(traffic.failureRate), '--latency-ms', String(traffic.latencyMs)]
        : w.name === 'authors'
          ? ['authors', '--port', String(w.port), '--books', ...upstream('books', 8082, p)]
          : w.name === 'web'
            ? ['web', '--port', String(w.port), '--authors', ...upstream('authors', 8081, p)]
            : ['traffic', '--rps', String(traffic.rps), '--web', ...upstream('web', 8080, p)];
    if (p.pod) p.pod.spawn(w.name, [process.execPath, APPS_MAIN, ...args], { env: { ...process.env, NODE_ENV: 'production' } });
    else spawnLogged(w.name, [process.execPath, APPS_MAIN, ...args], process.env, c.log, c.teardown);
  }
}

/** Fails loudly, not with an empty dashboard, when the mesh cannot carry the demo's traffic. */
export async function awaitFirstRequest(plans: readonly PodPlan[]): Promise<void> {
  const trafficPod = plans.find((p) => p.workload.name === 'traffic')!;
  await waitFor(
    'a first successful request from traffic to web through the mesh',
    async () => {
      const text = await (
        await fetch(`http://${trafficPod.ip}:${trafficPod.ports.admin}/metrics`, { signal: AbortSignal.timeout(2000) })
      ).text();
      return /^response_total\{[^}]*status_code="200"[^}]*\} [1-9]/m.test(text) ? true : undefined;
    },
    { timeoutMs: 90_000 },
  );
}
