/**
 * `weft viz stat|edges|routes|dashboard` over viz's metrics-api, and
 * `tap|top` over its tap stream (viz-tap.ts).
 */
import { Command, Option } from 'commander';
import type { Edge, RouteRow, StatResult, StatRow } from '@weft/viz';
import { TAP_TOKEN_AUDIENCE } from '@weft/viz/tap/authorizer';
import { spawn } from 'node:child_process';
import { UnavailableError } from '@weft/common/errors';
import { globalsOf } from '../globals.js';
import { fmt, renderStructured, renderTable, type Column } from '../output.js';
import { vizAddrs } from '../viz-connection.js';
import { paintFor, successColor } from '../terminal.js';
import { intervalOption, parseInterval, watch, watchOption } from '../watch.js';
import { resourceArg, vizClient } from './viz-common.js';
import { registerTap, registerTop } from './viz-tap.js';

function write(text: string): void {
  process.stdout.write(text);
}

const statColumns = (allNamespaces: boolean): Column<StatRow>[] => [
  { header: 'NAMESPACE', value: (r) => r.namespace, wide: !allNamespaces },
  { header: 'NAME', value: (r) => r.name },
  { header: 'MESHED', value: (r) => (r.totalPods === null ? '-' : `${r.meshedPods}/${r.totalPods}`), alignRight: true },
  { header: 'SUCCESS', value: (r) => fmt.percent(r.successRate), alignRight: true, color: (r) => successColor(r.successRate) },
  { header: 'RPS', value: (r) => fmt.rps(r.rps), alignRight: true },
  { header: 'LATENCY_P50', value: (r) => fmt.ms(r.latencyMsP50), alignRight: true },
  { header: 'LATENCY_P95', value: (r) => fmt.ms(r.latencyMsP95), alignRight: true },
  { header: 'LATENCY_P99', value: (r) => fmt.ms(r.latencyMsP99), alignRight: true },
  { header: 'TCP_CONN', value: (r) => String(r.tcpConnections), alignRight: true },
  { header: 'REQUESTS', value: (r) => String(r.requests), alignRight: true, wide: true },
];

const windowOption = () => new Option('-t, --time-window <window>', 'time window of the metrics (e.g. 30s, 1m, 1h)').default('1m');
const allNamespacesOption = () => new Option('-A, --all-namespaces', 'every namespace instead of --namespace');

function registerStat(viz: Command): void {
  viz
    .command('stat')
    .description('golden metrics (success rate, rps, latency, meshed pods, TCP connections) of namespaces, deployments, statefulsets, daemonsets, pods or services')
    .argument('<resource>', 'kind or kind/name: ns, deploy, sts, ds, po, svc')
    .argument('[name]', 'object name (alternative to kind/name)')
    .addOption(windowOption())
    .addOption(allNamespacesOption())
    .option('--from <resource>', 'only traffic from this resource (kind/name)')
    .option('--from-namespace <ns>', 'namespace of --from (default: --namespace)')
    .option('--to <resource>', 'only traffic to this resource (kind/name)')
    .option('--to-namespace <ns>', 'namespace of --to (default: --namespace)')
    .addOption(watchOption())
    .addOption(intervalOption())
    .action(async (kind: string, name: string | undefined, opts: { timeWindow: string; allNamespaces?: boolean; from?: string; fromNamespace?: string; to?: string; toNamespace?: string; watch?: boolean; interval: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const resource = resourceArg(kind, name);
      const intervalMs = parseInterval(opts.interval);
      const nsKind = /^(ns|namespaces?)(\/|$)/.test(resource);
      const namespace = opts.allNamespaces || nsKind ? undefined : g.namespace;
      const client = await vizClient(g, cmd);
      const frame = async (): Promise<string> => {
        const result = await client.json<StatResult>('/api/v1/stat', {
          resource,
          namespace,
          window: opts.timeWindow,
          from: opts.from,
          fromNamespace: opts.from ? (opts.fromNamespace ?? g.namespace) : undefined,
          to: opts.to,
          toNamespace: opts.to ? (opts.toNamespace ?? g.namespace) : undefined,
        });
        const structured = renderStructured(g.output, result);
        if (structured !== undefined) return structured;
        if (result.rows.length === 0) return `No traffic found for ${resource}${namespace ? ` in namespace ${namespace}` : ''} in the last ${result.window}.\n`;
        return renderTable(result.rows, statColumns(!namespace && !nsKind), g.output === 'wide', paintFor());
      };
      if (!opts.watch) return write(await frame());
      await watch(frame, { intervalMs, title: `weft viz stat ${resource}${namespace ? ` -n ${namespace}` : ''} -t ${opts.timeWindow}` });
    });
}

function registerEdges(viz: Command): void {
  const columns: Column<Edge>[] = [
    { header: 'SRC', value: (e) => e.src.name },
    { header: 'DST', value: (e) => e.dst.name },
    { header: 'SRC_NS', value: (e) => e.src.namespace },
    { header: 'DST_NS', value: (e) => e.dst.namespace },
    { header: 'SECURED', value: (e) => (e.mtls ? '√' : 'no mTLS'), color: (e) => (e.mtls ? 'green' : 'red') },
    { header: 'SUCCESS', value: (e) => fmt.percent(e.successRate), alignRight: true, color: (e) => successColor(e.successRate), wide: true },
    { header: 'CLIENT_ID', value: (e) => e.clientId || '-' },
    { header: 'SERVER_ID', value: (e) => e.serverId || '-' },
    { header: 'RPS', value: (e) => fmt.rps(e.rps), wide: true, alignRight: true },
    { header: 'REQUESTS', value: (e) => String(e.requests), wide: true, alignRight: true },
  ];
  viz
    .command('edges')
    .description('who talks to whom: source → destination with the client and server mTLS identities')
    .argument('[kind]', 'deploy, sts, ds or po', 'deploy')
    .addOption(windowOption())
    .addOption(allNamespacesOption())
    .action(async (kind: string, opts: { timeWindow: string; allNamespaces?: boolean }, cmd: Command) => {
      const g = globalsOf(cmd);
      const result = await (await vizClient(g, cmd)).json<{ window: string; edges: Edge[] }>('/api/v1/edges', { kind, namespace: opts.allNamespaces ? undefined : g.namespace, window: opts.timeWindow });
      const structured = renderStructured(g.output, result);
      if (structured !== undefined) return write(structured);
      if (result.edges.length === 0) return write(`No edges found in the last ${result.window}.\n`);
      write(renderTable(result.edges, columns, g.output === 'wide', paintFor()));
    });
}

function registerRoutes(viz: Command): void {
  const columns: Column<RouteRow>[] = [
    { header: 'ROUTE', value: (r) => r.route },
    { header: 'KIND', value: (r) => r.kind || '-' },
    { header: 'SERVER', value: (r) => r.name },
    { header: 'NAMESPACE', value: (r) => r.namespace, wide: true },
    { header: 'SUCCESS', value: (r) => fmt.percent(r.successRate), alignRight: true, color: (r) => successColor(r.successRate) },
    { header: 'RPS', value: (r) => fmt.rps(r.rps), alignRight: true },
    { header: 'LATENCY_P50', value: (r) => fmt.ms(r.latencyMsP50), alignRight: true },
    { header: 'LATENCY_P95', value: (r) => fmt.ms(r.latencyMsP95), alignRight: true },
    { header: 'LATENCY_P99', value: (r) => fmt.ms(r.latencyMsP99), alignRight: true },
    { header: 'REQUESTS', value: (r) => String(r.requests), alignRight: true, wide: true },
  ];
  viz
    .command('routes')
    .description('per-route golden metrics of a workload, busiest first')
    .argument('<resource>', 'deploy/NAME, sts/NAME, po/NAME or ns/NAME')
    .argument('[name]', 'object name (alternative to kind/name)')
    .addOption(windowOption())
    .option('--limit <n>', 'only the N busiest routes')
    .action(async (kind: string, name: string | undefined, opts: { timeWindow: string; limit?: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const resource = resourceArg(kind, name);
      const result = await (await vizClient(g, cmd)).json<{ window: string; routes: RouteRow[] }>('/api/v1/routes', { resource, namespace: g.namespace, window: opts.timeWindow, limit: opts.limit });
      const structured = renderStructured(g.output, result);
      if (structured !== undefined) return write(structured);
      if (result.routes.length === 0) return write(`No route traffic found for ${resource} in the last ${result.window}.\n`);
      write(renderTable(result.routes, columns, g.output === 'wide', paintFor()));
    });
}

function registerDashboard(viz: Command): void {
  viz
    .command('dashboard')
    .description('print the dashboard URL (after checking it answers); --open also opens a browser')
    .option('--open', 'open the dashboard in the default browser (xdg-open)')
    .action(async (opts: { open?: boolean }, cmd: Command) => {
      const g = globalsOf(cmd);
      const addrs = await vizAddrs(g);
      try {
        const res = await fetch(`${addrs.web}/ready`, { signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
      } catch (err) {
        throw new UnavailableError(`the dashboard at ${addrs.web} does not answer (${(err as Error).message}); in a cluster: kubectl -n weft-viz port-forward svc/weft-viz 8084, or pass --web-addr`);
      }
      write(`weft dashboard: ${addrs.web}/\n`);
      if (opts.open) {
        spawn('xdg-open', [`${addrs.web}/`], { stdio: 'ignore', detached: true }).on('error', () => undefined).unref();
      }
      if (addrs.forwarded) {
        // The port-forward lives as long as this process: keep it until Ctrl-C.
        write('port-forwarding to the viz pod; Ctrl-C to stop\n');
        const keep = setInterval(() => undefined, 60_000);
        await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
        clearInterval(keep);
      }
    });
}

export function registerViz(program: Command): void {
  const viz = program
    .command('viz')
    .description('observability: golden metrics, edges, routes, live tap and the dashboard (served by weft viz)')
    .option('--api-addr <url>', 'viz metrics-api URL (env WEFT_VIZ_API_ADDR; default: the local demo on 127.0.0.1:8085, else a port-forward to the viz pod)')
    .option('--tap-addr <url>', 'viz tap URL (env WEFT_VIZ_TAP_ADDR; default: 127.0.0.1:8088 or the port-forward)')
    .option('--web-addr <url>', 'viz dashboard URL (env WEFT_VIZ_WEB_ADDR; default: 127.0.0.1:8084 or the port-forward)')
    .option('--token <token>', `bearer token for tap (env WEFT_TAP_TOKEN), when viz requires one: viz's shared tap token, or a Kubernetes token minted for viz (kubectl create token <serviceaccount> --audience ${TAP_TOKEN_AUDIENCE})`);
  registerStat(viz);
  registerEdges(viz);
  registerRoutes(viz);
  registerTap(viz);
  registerTop(viz);
  registerDashboard(viz);
}
