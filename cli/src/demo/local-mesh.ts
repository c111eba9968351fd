/**
 * The local weft mesh (ARCHITECTURE §8): identity with a throwaway CA,
 * destination on a local discovery file, one weft proxy per demo pod, the
 * demo apps, Prometheus and viz — all on this machine.
 *
 * As root, every pod is a network namespace on a bridge and `weft-init`
 * installs the same iptables interception as in Kubernetes; the apps dial
 * service names and never know the mesh is there. Otherwise everything runs
 * on loopback and the apps dial their proxy's outbound port explicitly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { formatDnsIdentity } from '@weft/common/identity-name';
import { createRegistry } from '@weft/common/metrics';
import { waitFor } from '@weft/common/poll';
import { startIdentityService, generateLocalCa, certify, MemorySource, type IdentityService } from '@weft/identity';
import { startDestination, FileSource, type DestinationController } from '@weft/destination';
import { startViz, StaticTargetSource, renderScrapeConfig, type ProxyTarget, type Viz } from '@weft/viz';
import { PodNetwork, NETNS_PREFIX, netnsUnavailable, type Pod } from '@weft/common/sandbox/netns';
import { DemoTokenAuthority } from './tokens.js';
import { DEMO_NAMESPACE, WORKLOADS, serviceHost, type DemoWorkload } from './topology.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PROXY_MAIN = join(ROOT, 'proxy/dist/main.js');
const INIT_MAIN = join(ROOT, 'proxy/dist/init/main.js');
const APPS_MAIN = join(ROOT, 'cli/dist/demo/apps/main.js');
const PROXY_UID = 2102;
const CONTROL_NS = 'weft';
const VIZ_SERVICE_ACCOUNT = 'weft-viz';
const TRUST_DOMAIN = 'cluster.local';
/** The only identity the demo proxies let tap them. */
const VIZ_IDENTITY = formatDnsIdentity({ serviceAccount: VIZ_SERVICE_ACCOUNT, namespace: CONTROL_NS, controlNamespace: CONTROL_NS, trustDomain: TRUST_DOMAIN });
/** Virtual service addresses of the demo (netns mode), like a cluster's service CIDR. */
const CLUSTER_IP_PREFIX = '10.232.0';

export interface LocalMeshOptions {
  readonly failureRate: number;
  readonly latencyMs: number;
  readonly rps: number;
  readonly dashboardPort: number;
  readonly apiPort: number;
  readonly tapPort: number;
  readonly prometheusPort: number;
  /** `auto`: network namespaces when root with iptables, loopback otherwise. */
  readonly mode: 'auto' | 'netns' | 'loopback';
  readonly log: Logger;
  /** Where progress lines go (stderr by default). */
  readonly say?: (line: string) => void;
}

export interface LocalMesh {
  readonly mode: 'netns' | 'loopback';
  readonly anchorFingerprint: string;
  readonly dashboardUrl: string;
  readonly apiUrl: string;
  readonly prometheusUrl: string;
  readonly targets: readonly ProxyTarget[];
  /** Stops everything this mesh started; leaves no process, namespace or rule behind. */
  close(): Promise<void>;
}

interface PodPlan {
  readonly workload: DemoWorkload;
  readonly identity: string;
  /** Where peers reach this pod: its namespace IP, or 127.0.0.1. */
  readonly ip: string;
  readonly ports: { readonly outbound: number; readonly inbound: number; readonly admin: number; readonly tap: number };
  readonly pod: Pod | undefined;
  /** Virtual service address in netns mode (routed by the proxies via destination). */
  readonly clusterIP: string | undefined;
}

export async function startLocalMesh(opts: LocalMeshOptions): Promise<LocalMesh> {
  const say = opts.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  const cleanups: (() => Promise<void> | void)[] = [];
  const close = async (): Promise<void> => {
    for (const step of cleanups.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        opts.log.warn({ err: (err as Error).message }, 'demo teardown step failed');
      }
    }
  };
  try {
    return await start(opts, say, cleanups, close);
  } catch (err) {
    await close();
    throw err;
  }
}

async function start(
  opts: LocalMeshOptions,
  say: (line: string) => void,
  cleanups: (() => Promise<void> | void)[],
  close: () => Promise<void>,
): Promise<LocalMesh> {
  const netnsProblem = await netnsUnavailable();
  if (opts.mode === 'netns' && netnsProblem) throw new Error(`--mode netns: ${netnsProblem}`);
  const mode = opts.mode === 'loopback' || (opts.mode === 'auto' && netnsProblem) ? 'loopback' : 'netns';
  if (mode === 'loopback' && opts.mode === 'auto') say(`weft demo: loopback mode (${netnsProblem})`);

  const dir = mkdtempSync(join(tmpdir(), 'weft-demo-'));
  chmodSync(dir, 0o755);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

  // A throwaway trust anchor + issuer, generated now and never reused.
  const ca = await generateLocalCa({ trustDomain: TRUST_DOMAIN });
  const anchorFingerprint = new X509Certificate(ca.anchorPem).fingerprint256;
  say(`weft demo: generated a throwaway trust anchor, SHA-256 ${anchorFingerprint}`);

  const network = mode === 'netns' ? await PodNetwork.create() : undefined;
  if (network) {
    cleanups.push(() => network.teardown());
    say(`weft demo: pod namespaces ${NETNS_PREFIX}${network.id}-<pod> on bridge ${network.bridge}`);
  }
  const controlHost = network ? network.gateway : '127.0.0.1';

  const tokens = new DemoTokenAuthority();
  const identity: IdentityService = await startIdentityService({
    host: controlHost,
    port: 0,
    trustDomain: TRUST_DOMAIN,
    controlNamespace: CONTROL_NS,
    validator: tokens,
    issuerSource: new MemorySource(ca.issuer),
    trustSource: new MemorySource(ca.anchorPem),
    log: opts.log.child({ component: 'identity' }),
    registry: createRegistry('identity'),
  });
  cleanups.push(() => identity.close());
  const identityAddr = `${controlHost}:${identity.port}`;

  // Control-plane components get their certificates through Certify too.
  const controlCert = async (serviceAccount: string, namespace: string) => {
    const tokenFile = join(dir, `token-${serviceAccount}`);
    writeFileSync(tokenFile, tokens.issue({ serviceAccount, namespace, podName: `${serviceAccount}-0` }), { mode: 0o600 });
    const name = formatDnsIdentity({ serviceAccount, namespace, controlNamespace: CONTROL_NS, trustDomain: TRUST_DOMAIN });
    const creds = await certify({ addr: identityAddr, serverName: identity.serverName, trustAnchorsPem: ca.anchorPem, tokenFile, identity: name });
    return { name, ca: ca.anchorPem, cert: creds.certPem + creds.chainPem, key: creds.keyPem };
  };

  // Pods and their addresses.
  const plans: PodPlan[] = [];
  for (const [i, workload] of WORKLOADS.entries()) {
    const name = formatDnsIdentity({ serviceAccount: workload.name, namespace: DEMO_NAMESPACE, controlNamespace: CONTROL_NS, trustDomain: TRUST_DOMAIN });
    if (network) {
      const pod = await network.addPod(workload.name);
      // Service cluster IPs need a route to be dialled at all; iptables then hands the
      // connection to the proxy before it leaves the pod (pods have no default route).
      await pod.mustRun(['ip', 'route', 'add', `${CLUSTER_IP_PREFIX}.0/24`, 'via', network.gateway]);
      plans.push({ workload, identity: name, ip: pod.ip, pod, ports: { outbound: 4140, inbound: 4143, admin: 4191, tap: 4190 }, clusterIP: workload.port ? `${CLUSTER_IP_PREFIX}.${10 + i}` : undefined });
    } else {
      const base = 14100 + i * 10;
      plans.push({ workload, identity: name, ip: '127.0.0.1', pod: undefined, ports: { outbound: base, inbound: base + 1, admin: base + 2, tap: base + 3 }, clusterIP: undefined });
    }
  }
  if (network) for (const p of plans) if (p.clusterIP) network.addHost(serviceHost(p.workload.name), p.clusterIP);

  // destination on a local discovery file.
  const discoveryFile = join(dir, 'discovery.yaml');
  writeFileSync(discoveryFile, JSON.stringify(discoveryDocument(plans, mode), null, 2));
  const destTls = await controlCert('weft-destination', CONTROL_NS);
  const destination: DestinationController = await startDestination({
    source: new FileSource(discoveryFile, opts.log.child({ component: 'destination-source' })),
    tls: destTls,
    log: opts.log.child({ component: 'destination' }),
    host: controlHost,
    destinationPort: 0,
    policyPort: 0,
  });
  cleanups.push(() => destination.close());

  // Proxies first (as in a pod with a native sidecar), then the apps.
  const processes: ChildProcess[] = [];
  cleanups.push(() => stopAll(processes));
  for (const p of plans) {
    const tokenFile = join(dir, `token-${p.workload.name}`);
    writeFileSync(tokenFile, tokens.issue({ serviceAccount: p.workload.name, namespace: DEMO_NAMESPACE, podName: `${p.workload.name}-0` }), { mode: 0o644 });
    const env = proxyEnv(p, { identityAddr, identityName: identity.serverName, destination, controlHost, destName: destTls.name, anchors: ca.anchorPem, tokenFile, mode, tapClientId: VIZ_IDENTITY });
    if (p.pod) {
      await p.pod.mustRun([process.execPath, INIT_MAIN, '--incoming-proxy-port', '4143', '--outgoing-proxy-port', '4140', '--proxy-uid', String(PROXY_UID), '--inbound-ports-to-ignore', '4190,4191']);
      p.pod.spawn(`${p.workload.name}-proxy`, [process.execPath, PROXY_MAIN], { uid: PROXY_UID, env: { ...process.env, ...env } });
    } else {
      processes.push(spawnLogged(`${p.workload.name}-proxy`, [process.execPath, PROXY_MAIN], { ...process.env, ...env }, opts.log));
    }
  }
  for (const p of plans) await waitReady(`${p.workload.name} proxy`, `http://${p.ip}:${p.ports.admin}/ready`);
  say(`weft demo: ${plans.length} proxies hold certificates from identity`);

  const upstream = (name: string, port: number, p: PodPlan): string[] => {
    const args = [`http://${serviceHost(name)}:${port}`];
    return mode === 'loopback' ? [...args, '--via', `127.0.0.1:${p.ports.outbound}`] : args;
  };
  for (const p of plans) {
    const w = p.workload;
    const args =
      w.name === 'books'
        ? ['books', '--port', String(w.port), '--failure-rate', String(opts.failureRate), '--latency-ms', String(opts.latencyMs)]
        : w.name === 'authors'
          ? ['authors', '--port', String(w.port), '--books', ...upstream('books', 8082, p)]
          : w.name === 'web'
            ? ['web', '--port', String(w.port), '--authors', ...upstream('authors', 8081, p)]
            : ['traffic', '--rps', String(opts.rps), '--web', ...upstream('web', 8080, p)];
    if (p.pod) p.pod.spawn(w.name, [process.execPath, APPS_MAIN, ...args], { env: { ...process.env, NODE_ENV: 'production' } });
    else processes.push(spawnLogged(w.name, [process.execPath, APPS_MAIN, ...args], process.env, opts.log));
  }

  // Fail loudly, not with an empty dashboard, when the mesh cannot carry the demo's traffic.
  const trafficPod = plans.find((p) => p.workload.name === 'traffic')!;
  await waitFor(
    'a first successful request from traffic to web through the mesh',
    async () => {
      const text = await (await fetch(`http://${trafficPod.ip}:${trafficPod.ports.admin}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
      return /^response_total\{[^}]*status_code="200"[^}]*\} [1-9]/m.test(text) ? true : undefined;
    },
    { timeoutMs: 90_000 },
  );
  say('weft demo: traffic flows through the mesh (traffic → web → authors → books)');

  // Prometheus scrapes every proxy; viz reads Prometheus and taps the proxies.
  const targets: ProxyTarget[] = plans.map((p) => ({
    name: `${p.workload.name}-0`,
    namespace: DEMO_NAMESPACE,
    workload: { kind: 'deployment', name: p.workload.name },
    adminAddr: `${p.ip}:${p.ports.admin}`,
    tapAddr: `${p.ip}:${p.ports.tap}`,
    identity: p.identity,
  }));
  const prometheusUrl = `http://127.0.0.1:${opts.prometheusPort}`;
  const promConfig = join(dir, 'prometheus.yml');
  writeFileSync(promConfig, renderScrapeConfig(targets, { scrapeInterval: '2s' }));
  const prometheus = spawnLogged(
    'prometheus',
    ['prometheus', `--config.file=${promConfig}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${opts.prometheusPort}`, '--log.level=warn'],
    process.env,
    opts.log,
  );
  processes.push(prometheus);
  await waitReady('prometheus', `${prometheusUrl}/-/ready`);

  const tapCert = await controlCert(VIZ_SERVICE_ACCOUNT, CONTROL_NS);
  const viz: Viz = await startViz({
    prometheusUrl,
    targets: new StaticTargetSource(targets),
    tapTls: { ca: tapCert.ca, cert: tapCert.cert, key: tapCert.key },
    api: { host: '127.0.0.1', port: opts.apiPort },
    tap: { host: '127.0.0.1', port: opts.tapPort },
    web: { host: '127.0.0.1', port: opts.dashboardPort },
    log: opts.log.child({ component: 'viz' }),
  });
  cleanups.push(() => viz.close());

  return { mode, anchorFingerprint, dashboardUrl: viz.webUrl, apiUrl: viz.apiUrl, prometheusUrl, targets, close };
}

/**
 * ServiceProfiles of the demo services, so `weft viz routes` has routes to
 * show and books' idempotent reads are retried (within the retry budget).
 */
const DEMO_PROFILES: Record<string, unknown> = {
  web: {
    routes: [
      { name: 'GET /authors/{id}', matches: [{ method: 'GET', path: { regex: '^/authors/\\d+$' } }], timeout: '10s' },
      { name: 'GET /', matches: [{ method: 'GET', path: { exact: '/' } }] },
    ],
  },
  authors: {
    routes: [
      { name: 'GetAuthor', matches: [{ method: 'POST', path: { exact: '/weft.demo.v1.Authors/GetAuthor' } }], timeout: '5s' },
      { name: 'ListAuthors', matches: [{ method: 'POST', path: { exact: '/weft.demo.v1.Authors/ListAuthors' } }] },
    ],
  },
  books: {
    routes: [{ name: 'GET /books/{id}', matches: [{ method: 'GET', path: { regex: '^/books/\\d+$' } }], timeout: '2s', isRetryable: true }],
    retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttl: '10s' },
  },
};

function discoveryDocument(plans: readonly PodPlan[], mode: 'netns' | 'loopback'): unknown {
  return {
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
}

function proxyEnv(
  p: PodPlan,
  c: { identityAddr: string; identityName: string; destination: DestinationController; controlHost: string; destName: string; anchors: string; tokenFile: string; mode: 'netns' | 'loopback'; tapClientId: string },
): Record<string, string> {
  const listenHost = c.mode === 'netns' ? '0.0.0.0' : '127.0.0.1';
  const env: Record<string, string> = {
    WEFT_PROXY_LOG_LEVEL: 'warn',
    WEFT_PROXY_OUTBOUND_LISTEN_ADDR: `127.0.0.1:${p.ports.outbound}`,
    WEFT_PROXY_INBOUND_LISTEN_ADDR: `${listenHost}:${p.ports.inbound}`,
    WEFT_PROXY_ADMIN_LISTEN_ADDR: `${listenHost}:${p.ports.admin}`,
    WEFT_PROXY_TAP_LISTEN_ADDR: `${listenHost}:${p.ports.tap}`,
    WEFT_PROXY_TAP_CLIENT_ID: c.tapClientId,
    WEFT_PROXY_IDENTITY_SVC_ADDR: c.identityAddr,
    WEFT_PROXY_IDENTITY_SVC_NAME: c.identityName,
    WEFT_PROXY_DESTINATION_SVC_ADDR: `${c.controlHost}:${c.destination.destinationPort}`,
    WEFT_PROXY_POLICY_SVC_ADDR: `${c.controlHost}:${c.destination.policyPort}`,
    WEFT_PROXY_DESTINATION_SVC_NAME: c.destName,
    WEFT_PROXY_IDENTITY_LOCAL_NAME: p.identity,
    WEFT_PROXY_IDENTITY_TOKEN_FILE: c.tokenFile,
    WEFT_PROXY_IDENTITY_TRUST_ANCHORS: c.anchors,
    WEFT_PROXY_DESTINATION_CONTEXT: JSON.stringify({ ns: DEMO_NAMESPACE, pod: `${p.workload.name}-0`, nodeName: 'local' }),
    WEFT_PROXY_POD_NAMESPACE: DEMO_NAMESPACE,
    WEFT_PROXY_POD_NAME: `${p.workload.name}-0`,
    WEFT_PROXY_WORKLOAD_KIND: 'deployment',
    WEFT_PROXY_WORKLOAD_NAME: p.workload.name,
    WEFT_PROXY_INBOUND_PORTS: p.workload.port ? String(p.workload.port) : '',
  };
  if (c.mode === 'loopback' && p.workload.port) env.WEFT_PROXY_INBOUND_APP_PORT = String(p.workload.port);
  return env;
}

function spawnLogged(name: string, argv: readonly string[], env: NodeJS.ProcessEnv, log: Logger): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const forward = (d: Buffer): void => {
    for (const line of d.toString().split('\n')) if (line.trim()) log.debug({ process: name }, line);
  };
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  child.on('error', (err) => log.error({ process: name, err: err.message }, 'could not start'));
  return child;
}

async function stopAll(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
          c.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

async function waitReady(what: string, url: string): Promise<void> {
  await waitFor(
    `${what} to be ready at ${url}`,
    async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (!res.ok) throw new Error(`${res.status} ${(await res.text()).trim()}`);
      return true;
    },
    { timeoutMs: 90_000 },
  );
}
