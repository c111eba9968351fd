/**
 * The objects the injector adds to a pod: the `weft-init` container, the
 * `weft-proxy` container and the projected ServiceAccount token volume.
 * Ports, env names and init flags follow docs/contracts.md.
 */
import { PROXY_CONNECTION_SETTINGS, PROXY_PORTS, PROXY_UID } from '@weft/api/names';
import type { k8s } from '@weft/common/k8s/client';
import { formatDnsIdentity } from '@weft/common/identity-name';
import { INIT_CONTAINER, PROXY_CONTAINER, TOKEN_FILE, TOKEN_MOUNT_PATH, TOKEN_VOLUME, XTABLES_VOLUME } from './annotations.js';
import { CONNECTION_SETTINGS, type MeshConfig, type ProxySettings } from './mesh-config.js';
import { formatPortList } from './ports.js';
import { parseQuantity } from './quantity.js';

export { PROXY_PORTS, PROXY_UID };

/** What the proxy needs to know about the pod it is added to. */
export interface ProxyTarget {
  readonly settings: ProxySettings;
  readonly serviceAccount: string;
  /** The pod's namespace when known; otherwise the identity is expanded from the downward API. */
  readonly namespace: string | undefined;
  readonly workload: { readonly kind: string; readonly name: string } | undefined;
  readonly inboundPorts: readonly number[];
  readonly ingress: boolean;
}

const image = (s: ProxySettings): string => `${s.image}:${s.version}`;

/**
 * Node options for the proxy, sized for a sidecar (each measured side by side
 * with bench/proxy/ab.mjs; docs/proxy.md "Performance"). The bench runs the
 * proxy with exactly these on the image's Node (images/pins.json), so its
 * memory figures are a pod's. Every flag is one Node 20 (the machine the tests
 * run on) and the image's Node 24 both accept.
 * - `--max-semi-space-size=2`: a 2 MiB young generation (RSS under load).
 * - `--no-maglev`: V8's mid-tier optimizing compiler off; TurboFan alone
 *   optimizes, as on Node 20. Maglev costs 3-7 MiB of RSS at 2,000 rps (58
 *   against 62-65 MiB, over the 60 MiB target) for no throughput the benches
 *   resolve: over 12 rounds (bench/proxy/flags.mjs) two Maglev proxies made
 *   0.981x and 1.021x the hop's requests per second of one without, and a
 *   second one without 0.989x (docs/proxy.md, thirty-fourth pass).
 * - `--single-threaded-gc`: V8 collects on the proxy's own thread, without
 *   helper threads. A sidecar's CPU is its budget: the helpers' parallel
 *   scavenges and concurrent marking cost more CPU per request than they save
 *   (0.92-0.96x the CPU per request on every protocol with the flag when the
 *   proxy may use any core, opaque TCP 0.7-0.84x), and on a proxy held to one
 *   core they wait for it (the longest pause 4.8 against 10 ms).
 */
export const PROXY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--no-maglev', '--single-threaded-gc'];

/** What Node needs outside the old generation (binary, compiled code, young generation, socket and TLS buffers). */
const NON_HEAP_MIB = 64;
const MIN_OLD_SPACE_MIB = 32;

/**
 * The proxy's command: `node`, the sidecar flags and, under a memory limit, an
 * old generation capped below it, so V8 collects harder as it nears the limit
 * instead of growing into an OOM kill.
 */
export function proxyCommand(memoryLimit: string | undefined): string[] {
  const flags = [...PROXY_NODE_FLAGS];
  const bytes = memoryLimit === undefined ? undefined : parseQuantity(memoryLimit);
  if (bytes !== undefined && bytes > 0) {
    flags.push(`--max-old-space-size=${Math.max(MIN_OLD_SPACE_MIB, Math.floor(bytes / 2 ** 20) - NON_HEAP_MIB)}`);
  }
  return ['node', ...flags, 'proxy/dist/main.js'];
}

/**
 * A postStart hook that blocks the app containers until the proxy's admin
 * `/ready` answers 200 (the kubelet starts containers in order and waits for
 * each postStart). Uses the `node` of the proxy image: no extra binary needed.
 */
export function awaitScript(port: number, timeoutSeconds: number): string {
  return (
    `const http=require('http'),end=Date.now()+${timeoutSeconds * 1000};` +
    `function again(){if(Date.now()>end){console.error('weft-proxy was not ready after ${timeoutSeconds}s');process.exit(1)}setTimeout(poll,250)}` +
    `function poll(){http.get('http://127.0.0.1:${port}/ready',r=>{r.resume();r.statusCode===200?process.exit(0):again()}).on('error',again)}` +
    `poll()`
  );
}

function localIdentity(mesh: MeshConfig, t: ProxyTarget): string {
  const id = { serviceAccount: t.serviceAccount, controlNamespace: mesh.controlPlaneNamespace, trustDomain: mesh.trustDomain };
  if (t.namespace !== undefined) return formatDnsIdentity({ ...id, namespace: t.namespace });
  // `weft inject` on a manifest without a namespace: the pod learns it at run
  // time; Kubernetes expands $(VAR) from the env vars defined before it.
  const NS = 'namespace-from-downward-api';
  return formatDnsIdentity({ ...id, namespace: NS }).replace(`.${NS}.`, '.$(WEFT_PROXY_POD_NAMESPACE).');
}

function field(name: string, fieldPath: string): k8s.V1EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

function proxyEnv(mesh: MeshConfig, t: ProxyTarget): k8s.V1EnvVar[] {
  const s = t.settings;
  const env: k8s.V1EnvVar[] = [
    { name: 'WEFT_PROXY_LOG_LEVEL', value: s.logLevel },
    { name: 'WEFT_PROXY_LOG_FORMAT', value: s.logFormat },
    { name: 'WEFT_PROXY_OUTBOUND_LISTEN_ADDR', value: `127.0.0.1:${PROXY_PORTS.outbound}` },
    { name: 'WEFT_PROXY_INBOUND_LISTEN_ADDR', value: `0.0.0.0:${PROXY_PORTS.inbound}` },
    { name: 'WEFT_PROXY_ADMIN_LISTEN_ADDR', value: `0.0.0.0:${PROXY_PORTS.admin}` },
    { name: 'WEFT_PROXY_TAP_LISTEN_ADDR', value: `0.0.0.0:${PROXY_PORTS.tap}` },
    { name: 'WEFT_PROXY_TAP_CLIENT_ID', value: mesh.tapClientId },
    field('WEFT_PROXY_POD_NAMESPACE', 'metadata.namespace'),
    field('WEFT_PROXY_POD_NAME', 'metadata.name'),
    field('_WEFT_PROXY_NODE_NAME', 'spec.nodeName'),
    {
      name: 'WEFT_PROXY_DESTINATION_CONTEXT',
      value: '{"ns":"$(WEFT_PROXY_POD_NAMESPACE)","pod":"$(WEFT_PROXY_POD_NAME)","nodeName":"$(_WEFT_PROXY_NODE_NAME)"}',
    },
    { name: 'WEFT_PROXY_WORKLOAD_KIND', value: t.workload?.kind ?? 'pod' },
    { name: 'WEFT_PROXY_WORKLOAD_NAME', value: t.workload?.name ?? '$(WEFT_PROXY_POD_NAME)' },
    { name: 'WEFT_PROXY_IDENTITY_SVC_ADDR', value: mesh.identityAddr },
    { name: 'WEFT_PROXY_IDENTITY_SVC_NAME', value: mesh.identityName },
    { name: 'WEFT_PROXY_DESTINATION_SVC_ADDR', value: mesh.destinationAddr },
    { name: 'WEFT_PROXY_DESTINATION_SVC_NAME', value: mesh.destinationName },
    { name: 'WEFT_PROXY_POLICY_SVC_ADDR', value: mesh.policyAddr },
    { name: 'WEFT_PROXY_IDENTITY_LOCAL_NAME', value: localIdentity(mesh, t) },
    { name: 'WEFT_PROXY_IDENTITY_TOKEN_FILE', value: `${TOKEN_MOUNT_PATH}/${TOKEN_FILE}` },
    { name: 'WEFT_PROXY_IDENTITY_TRUST_ANCHORS', value: mesh.trustAnchorsPem },
    { name: 'WEFT_PROXY_OPAQUE_PORTS', value: formatPortList(s.opaquePorts) },
    { name: 'WEFT_PROXY_INBOUND_PORTS', value: formatPortList(t.inboundPorts) },
    { name: 'WEFT_PROXY_DEFAULT_INBOUND_POLICY', value: s.defaultInboundPolicy },
    { name: 'WEFT_PROXY_DETECT_TIMEOUT', value: s.detectTimeout },
  ];
  if (t.ingress) env.push({ name: 'WEFT_PROXY_INGRESS_MODE', value: 'true' });
  if (s.traceCollector !== undefined) env.push({ name: 'WEFT_PROXY_TRACE_COLLECTOR', value: s.traceCollector });
  if (s.traceSampling !== undefined) env.push({ name: 'WEFT_PROXY_TRACE_SAMPLING', value: s.traceSampling });
  // One thread is the proxy's default: the variable is set only for more.
  if (s.workers !== undefined && s.workers > 1) env.push({ name: 'WEFT_PROXY_WORKERS', value: String(s.workers) });
  for (const key of CONNECTION_SETTINGS) {
    const value = s.connections[key];
    if (value !== undefined) env.push({ name: PROXY_CONNECTION_SETTINGS[key].variable, value });
  }
  return env;
}

function resources(s: ProxySettings): k8s.V1ResourceRequirements {
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (s.cpuRequest !== undefined) requests.cpu = s.cpuRequest;
  if (s.memoryRequest !== undefined) requests.memory = s.memoryRequest;
  if (s.cpuLimit !== undefined) limits.cpu = s.cpuLimit;
  if (s.memoryLimit !== undefined) limits.memory = s.memoryLimit;
  const out: k8s.V1ResourceRequirements = {};
  if (Object.keys(requests).length) out.requests = requests;
  if (Object.keys(limits).length) out.limits = limits;
  return out;
}

export function proxyContainer(mesh: MeshConfig, t: ProxyTarget): k8s.V1Container {
  const s = t.settings;
  const admin = PROXY_PORTS.admin;
  const c: k8s.V1Container = {
    name: PROXY_CONTAINER,
    image: image(s),
    imagePullPolicy: mesh.imagePullPolicy,
    command: proxyCommand(s.memoryLimit),
    env: proxyEnv(mesh, t),
    ports: [
      { name: 'weft-proxy', containerPort: PROXY_PORTS.inbound },
      { name: 'weft-admin', containerPort: admin },
      { name: 'weft-tap', containerPort: PROXY_PORTS.tap },
    ],
    readinessProbe: { httpGet: { path: '/ready', port: admin }, initialDelaySeconds: 2, periodSeconds: 5 },
    livenessProbe: { httpGet: { path: '/live', port: admin }, initialDelaySeconds: 10, periodSeconds: 10 },
    resources: resources(s),
    securityContext: {
      runAsUser: PROXY_UID,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [{ name: TOKEN_VOLUME, mountPath: TOKEN_MOUNT_PATH, readOnly: true }],
  };
  if (s.nativeSidecar) {
    c.restartPolicy = 'Always';
    // The kubelet starts the next init container (and then the app) only once
    // a native sidecar's startupProbe has passed.
    if (s.await) {
      c.startupProbe = { httpGet: { path: '/ready', port: admin }, periodSeconds: 1, failureThreshold: s.awaitTimeoutSeconds };
    }
  } else if (s.await) {
    c.lifecycle = { postStart: { exec: { command: ['node', '-e', awaitScript(admin, s.awaitTimeoutSeconds)] } } };
  }
  return c;
}

export function initContainer(mesh: MeshConfig, s: ProxySettings): k8s.V1Container {
  const args = [
    '--incoming-proxy-port',
    String(PROXY_PORTS.inbound),
    '--outgoing-proxy-port',
    String(PROXY_PORTS.outbound),
    '--proxy-uid',
    String(PROXY_UID),
    '--inbound-ports-to-ignore',
    formatPortList([PROXY_PORTS.tap, PROXY_PORTS.admin, ...s.skipInboundPorts]),
  ];
  if (s.skipOutboundPorts.length) args.push('--outbound-ports-to-ignore', formatPortList(s.skipOutboundPorts));
  if (s.skipInboundSubnets.length) args.push('--inbound-subnets-to-ignore', s.skipInboundSubnets.map((n) => n.cidr).join(','));
  if (s.skipOutboundSubnets.length) args.push('--outbound-subnets-to-ignore', s.skipOutboundSubnets.map((n) => n.cidr).join(','));
  return {
    name: INIT_CONTAINER,
    image: image(s),
    imagePullPolicy: mesh.imagePullPolicy,
    command: ['node', 'proxy/dist/init/main.js'],
    args,
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
    // iptables needs root with NET_ADMIN and NET_RAW; nothing else.
    securityContext: {
      runAsUser: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
      // The runtime's default syscall filter still lets iptables work; Unconfined is not needed.
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [{ name: XTABLES_VOLUME, mountPath: '/run' }],
  };
}

export function tokenVolume(mesh: MeshConfig): k8s.V1Volume {
  return {
    name: TOKEN_VOLUME,
    projected: {
      sources: [
        { serviceAccountToken: { audience: mesh.tokenAudience, expirationSeconds: mesh.tokenExpirationSeconds, path: TOKEN_FILE } },
      ],
    },
  };
}

export function xtablesVolume(): k8s.V1Volume {
  return { name: XTABLES_VOLUME, emptyDir: {} };
}
