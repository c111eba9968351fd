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
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PodNetwork, NETNS_PREFIX, netnsUnavailable } from '@weft/common/sandbox/netns';
import type { Logger } from 'pino';
import type { ProxyTarget } from '@weft/viz';
import { startControlPlane, startDestinationOnFile } from './steps/control-plane.js';
import { startDemoViz, scrapeTargets, startPrometheus } from './steps/observability.js';
import { awaitFirstRequest, planPods, startApps, startProxies, writeDiscoveryFile, type DemoMode } from './steps/pods.js';
import { Teardown } from './steps/teardown.js';
import { startJaeger, type DemoTracing } from './steps/tracing.js';

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
  /** Run Jaeger and have every proxy trace every request into it (docs/tracing.md). */
  readonly tracing?: boolean;
  /** Jaeger's UI port (with `tracing`). */
  readonly jaegerPort?: number;
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
  /** Jaeger's UI, with `tracing`. */
  readonly tracesUrl: string | undefined;
  readonly targets: readonly ProxyTarget[];
  /** Stops everything this mesh started; leaves no process, namespace or rule behind. */
  close(): Promise<void>;
}

export async function startLocalMesh(opts: LocalMeshOptions): Promise<LocalMesh> {
  const teardown = new Teardown(opts.log);
  try {
    return await start(opts, opts.say ?? ((line: string) => process.stderr.write(`${line}\n`)), teardown);
  } catch (err) {
    await teardown.run();
    throw err;
  }
}

/** The demo as a list of steps; each registers its own teardown as soon as it has started something. */
async function start(opts: LocalMeshOptions, say: (line: string) => void, teardown: Teardown): Promise<LocalMesh> {
  const { log } = opts;
  const mode = await chooseMode(opts.mode, say);

  const dir = mkdtempSync(join(tmpdir(), 'weft-demo-'));
  chmodSync(dir, 0o755);
  teardown.add('work directory', () => rmSync(dir, { recursive: true, force: true }));

  const network = mode === 'netns' ? await PodNetwork.create() : undefined;
  if (network) {
    teardown.add('pod network', () => network.teardown());
    say(`weft demo: pod namespaces ${NETNS_PREFIX}${network.id}-<pod> on bridge ${network.bridge}`);
  }
  const controlHost = network ? network.gateway : '127.0.0.1';

  const control = await startControlPlane({ host: controlHost, dir, log, teardown });
  say(`weft demo: generated a throwaway trust anchor, SHA-256 ${control.anchorFingerprint}`);

  const plans = await planPods(network);
  const discoveryFile = join(dir, 'discovery.yaml');
  writeDiscoveryFile(discoveryFile, plans, mode);
  const destination = await startDestinationOnFile({ host: controlHost, discoveryFile, control, log, teardown });

  let tracing: DemoTracing | undefined;
  if (opts.tracing) {
    tracing = await startJaeger(controlHost, opts.jaegerPort ?? 16686, { dir, log, teardown, say });
    say(`weft demo: Jaeger receives the proxies' spans at ${tracing.collector} (OTLP/HTTP)`);
  }
  await startProxies(plans, mode, { control, destination, controlHost, traceCollector: tracing?.collector }, { dir, log, teardown });
  say(`weft demo: ${plans.length} proxies hold certificates from identity`);
  startApps(plans, mode, opts, { log, teardown });
  await awaitFirstRequest(plans);
  say('weft demo: traffic flows through the mesh (traffic → web → authors → books)');

  const targets: ProxyTarget[] = scrapeTargets(plans);
  const prometheusUrl = await startPrometheus(targets, opts.prometheusPort, { dir, log, teardown });
  const viz = await startDemoViz(
    targets,
    prometheusUrl,
    { api: opts.apiPort, tap: opts.tapPort, web: opts.dashboardPort },
    { control, log, teardown },
  );

  return {
    mode,
    anchorFingerprint: control.anchorFingerprint,
    dashboardUrl: viz.webUrl,
    apiUrl: viz.apiUrl,
    prometheusUrl,
    tracesUrl: tracing?.uiUrl,
    targets,
    close: () => teardown.run(),
  };
}

/** `auto`: network namespaces when root with iptables, loopback otherwise (said why). */
async function chooseMode(wanted: LocalMeshOptions['mode'], say: (line: string) => void): Promise<DemoMode> {
  const netnsProblem = await netnsUnavailable();
  if (wanted === 'netns' && netnsProblem) throw new Error(`--mode netns: ${netnsProblem}`);
  if (wanted === 'loopback') return 'loopback';
  if (netnsProblem) {
    say(`weft demo: loopback mode (${netnsProblem})`);
    return 'loopback';
  }
  return 'netns';
}
