/**
 * `weft viz tap`: live requests of a resource, one line per event, until
 * Ctrl-C or `--max` requests. `weft viz top`: tap for a while and show the
 * most requested paths; with `--watch` the table is redrawn every interval
 * while the tap runs, until Ctrl-C.
 */
import { Command, Option } from 'commander';
import type { TapEventJson, TapProxyError } from '@weft/viz';
import { InvalidArgumentError } from '@weft/common/errors';
import { parseDuration } from '@weft/common/config';
import { globalsOf, type Globals } from '../globals.js';
import { fmt, renderStructured, renderTable } from '../output.js';
import { noPaint, paintFor, progress, successColor, type Paint } from '../terminal.js';
import { intervalOption, parseInterval, watch, watchOption } from '../watch.js';
import { resourceArg, vizClient } from './viz-common.js';

type Line = TapEventJson | TapProxyError;

function tapOptions(cmd: Command): Command {
  return cmd
    .argument('<resource>', 'kind or kind/name: ns, deploy, sts, ds, po')
    .argument('[name]', 'object name (alternative to kind/name)')
    .option('--method <method>', 'only requests with this HTTP method')
    .option('--path <prefix>', 'only requests whose path starts with this prefix')
    .option('--authority <authority>', 'only requests to this :authority / Host');
}

function tapParams(kind: string, name: string | undefined, opts: { method?: string; path?: string; authority?: string }, namespace: string, limit?: number) {
  return { resource: resourceArg(kind, name), namespace, method: opts.method?.toUpperCase(), path: opts.path, authority: opts.authority, limit: limit ? String(limit) : undefined };
}

function positiveInt(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[1-9]\d{0,8}$/.test(raw)) throw new InvalidArgumentError(`${flag} "${raw}" is not a positive integer`);
  return Number(raw);
}

/** Linkerd-style tap line: `req id=… proxy=in src=… dst=… tls=true :method=GET :authority=… :path=…`; statuses ≥ 500 and errors in red on a terminal. */
export function formatTapLine(e: Line, paint: Paint = noPaint): string {
  if ('error' in e && !('type' in e)) return paint('red', `error proxy=${e.proxy.namespace}/${e.proxy.pod} ${e.error}`);
  const ev = e as TapEventJson;
  const kind = ev.type === 'request' ? 'req' : ev.type === 'response' ? 'rsp' : 'end';
  const head = `${paint('bold', kind)} id=${ev.id} proxy=${ev.direction === 'inbound' ? 'in ' : 'out'} src=${ev.source} dst=${ev.destination} tls=${paint(ev.tls ? 'green' : 'yellow', String(ev.tls))}`;
  const ids = ev.tls ? ` client_id=${ev.clientId || '-'} server_id=${ev.serverId || '-'}` : '';
  if (ev.type === 'request') return `${head} :method=${ev.method} :authority=${ev.authority} :path=${ev.path}${ids}`;
  if (ev.type === 'response') return `${head} :status=${paint((ev.status ?? 0) >= 500 ? 'red' : undefined, String(ev.status))} latency=${Math.round(ev.latencyMs ?? 0)}ms`;
  return `${head} duration=${Math.round(ev.latencyMs ?? 0)}ms response-length=${ev.responseBytes ?? 0}B${ev.grpcStatus !== undefined ? ` grpc-status=${ev.grpcStatus}` : ''}${ev.error ? ` error=${paint('red', JSON.stringify(ev.error))}` : ''}`;
}

function interrupted(): AbortController {
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  abort.signal.addEventListener('abort', () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  });
  return abort;
}

export function registerTap(viz: Command): void {
  tapOptions(viz.command('tap').description('stream live requests of a resource (Ctrl-C to stop)'))
    .option('--max <n>', 'stop after N requests')
    .action(async (kind: string, name: string | undefined, opts: { method?: string; path?: string; authority?: string; max?: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const max = positiveInt('--max', opts.max);
      const abort = interrupted();
      const paint = paintFor();
      try {
        for await (const line of (await vizClient(g, cmd)).tap(tapParams(kind, name, opts, g.namespace, max), abort.signal)) {
          const l = line as unknown as Line;
          process.stdout.write(g.output === 'json' || g.output === 'yaml' ? JSON.stringify(l) + '\n' : formatTapLine(l, paint) + '\n');
        }
      } finally {
        abort.abort();
      }
    });
}

interface TopRow {
  source: string;
  destination: string;
  method: string;
  path: string;
  count: number;
  best: number;
  worst: number;
  last: number;
  successes: number;
}

/** The requests seen by a tap, per (source, destination, method, path). */
class TopTable {
  private readonly requests = new Map<string, TapEventJson>();
  private readonly rows = new Map<string, TopRow>();
  seen = 0;

  add(e: Line): void {
    if (!('type' in e)) return;
    const key = `${e.proxy.pod}/${e.id}`;
    if (e.type === 'request') this.requests.set(key, e);
    if (e.type === 'response') {
      const req = this.requests.get(key);
      if (req) this.requests.set(key, { ...req, status: e.status });
    }
    if (e.type !== 'end') return;
    const req = this.requests.get(key);
    this.requests.delete(key);
    if (!req) return;
    this.seen++;
    const source = e.direction === 'inbound' ? e.clientId || e.source : `${e.proxy.pod}`;
    const destination = e.direction === 'inbound' ? e.proxy.pod : (req.authority ?? e.destination);
    const rk = [source, destination, req.method, req.path].join('\u0000');
    const latency = e.latencyMs ?? 0;
    const row = this.rows.get(rk) ?? { source, destination, method: req.method ?? '', path: req.path ?? '', count: 0, best: Infinity, worst: 0, last: 0, successes: 0 };
    row.count++;
    row.best = Math.min(row.best, latency);
    row.worst = Math.max(row.worst, latency);
    row.last = latency;
    if ((req.status ?? 0) < 500 && !e.error) row.successes++;
    this.rows.set(rk, row);
  }

  sorted(): TopRow[] {
    return [...this.rows.values()].sort((a, b) => b.count - a.count || a.path.localeCompare(b.path));
  }
}

function renderTop(rows: readonly TopRow[], g: Globals, over: string): string {
  const structured = renderStructured(g.output, { duration: over, routes: rows });
  if (structured !== undefined) return structured;
  if (rows.length === 0) return `No requests seen in ${over}.\n`;
  return renderTable(
    rows,
    [
      { header: 'SOURCE', value: (r) => r.source },
      { header: 'DESTINATION', value: (r) => r.destination },
      { header: 'METHOD', value: (r) => r.method },
      { header: 'PATH', value: (r) => r.path },
      { header: 'COUNT', value: (r) => String(r.count), alignRight: true },
      { header: 'BEST', value: (r) => fmt.ms(r.best), alignRight: true },
      { header: 'WORST', value: (r) => fmt.ms(r.worst), alignRight: true },
      { header: 'LAST', value: (r) => fmt.ms(r.last), alignRight: true },
      { header: 'SUCCESS', value: (r) => fmt.percent(r.successes / r.count), alignRight: true, color: (r) => successColor(r.successes / r.count) },
    ],
    g.output === 'wide',
    paintFor(),
  );
}

export function registerTop(viz: Command): void {
  tapOptions(viz.command('top').description('tap a resource for a while and list its most requested paths (--watch: redraw every --interval until Ctrl-C)'))
    .addOption(new Option('--duration <d>', 'how long to tap (e.g. 5s, 1m); with --watch: until Ctrl-C unless given').default('5s'))
    .addOption(watchOption())
    .addOption(intervalOption())
    .action(async (kind: string, name: string | undefined, opts: { method?: string; path?: string; authority?: string; duration: string; watch?: boolean; interval: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      let ms: number;
      try {
        ms = parseDuration(opts.duration);
      } catch (err) {
        throw new InvalidArgumentError(`--duration: ${(err as Error).message}`);
      }
      const intervalMs = parseInterval(opts.interval);
      const params = tapParams(kind, name, opts, g.namespace);
      const client = await vizClient(g, cmd);
      const abort = interrupted();
      // With --watch the tap runs until Ctrl-C, unless --duration was given.
      const timed = !opts.watch || cmd.getOptionValueSource('duration') !== 'default';
      const timer = timed ? setTimeout(() => abort.abort(), ms) : undefined;
      const table = new TopTable();
      const started = Date.now();
      const spinner = opts.watch ? undefined : progress(`tapping ${params.resource} for ${opts.duration}`);
      const tapping = (async () => {
        for await (const line of client.tap(params, abort.signal)) {
          table.add(line as unknown as Line);
          spinner?.update(`tapping ${params.resource} for ${opts.duration}: ${table.seen} requests`);
        }
      })();
      try {
        if (opts.watch) {
          // The table is redrawn while the tap runs; the tap's end (its --duration, or an error) ends the watch.
          const ended = tapping.finally(() => abort.abort());
          // Awaited below, after the watch; until then its failure must not count as unhandled.
          ended.catch(() => undefined);
          await watch(async () => renderTop(table.sorted(), g, `${Math.round((Date.now() - started) / 1000)}s`), {
            intervalMs,
            title: `weft viz top ${params.resource}${g.namespace ? ` -n ${g.namespace}` : ''}`,
            signal: abort.signal,
          });
          abort.abort();
          await ended;
        } else {
          await tapping;
        }
      } finally {
        spinner?.stop();
        clearTimeout(timer);
        abort.abort();
      }
      if (!opts.watch) process.stdout.write(renderTop(table.sorted(), g, opts.duration));
    });
}
