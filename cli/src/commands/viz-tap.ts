/**
 * `weft viz tap`: live requests of a resource, one line per event, until
 * Ctrl-C or `--max` requests. `weft viz top`: tap for a while and show the
 * most requested paths.
 */
import { Command, Option } from 'commander';
import type { TapEventJson, TapProxyError } from '@weft/viz';
import { InvalidArgumentError } from '@weft/common/errors';
import { parseDuration } from '@weft/common/config';
import { globalsOf } from '../globals.js';
import { fmt, renderStructured, renderTable } from '../output.js';
import { resourceArg, vizClient } from './viz.js';

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

/** Linkerd-style tap line: `req id=… proxy=in src=… dst=… tls=true :method=GET :authority=… :path=…`. */
export function formatTapLine(e: Line): string {
  if ('error' in e && !('type' in e)) return `error proxy=${e.proxy.namespace}/${e.proxy.pod} ${e.error}`;
  const ev = e as TapEventJson;
  const head = `${ev.type === 'request' ? 'req' : ev.type === 'response' ? 'rsp' : 'end'} id=${ev.id} proxy=${ev.direction === 'inbound' ? 'in ' : 'out'} src=${ev.source} dst=${ev.destination} tls=${ev.tls}`;
  const ids = ev.tls ? ` client_id=${ev.clientId || '-'} server_id=${ev.serverId || '-'}` : '';
  if (ev.type === 'request') return `${head} :method=${ev.method} :authority=${ev.authority} :path=${ev.path}${ids}`;
  if (ev.type === 'response') return `${head} :status=${ev.status} latency=${Math.round(ev.latencyMs ?? 0)}ms`;
  return `${head} duration=${Math.round(ev.latencyMs ?? 0)}ms response-length=${ev.responseBytes ?? 0}B${ev.grpcStatus !== undefined ? ` grpc-status=${ev.grpcStatus}` : ''}${ev.error ? ` error=${JSON.stringify(ev.error)}` : ''}`;
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
      try {
        for await (const line of (await vizClient(g, cmd)).tap(tapParams(kind, name, opts, g.namespace, max), abort.signal)) {
          const l = line as unknown as Line;
          process.stdout.write(g.output === 'json' || g.output === 'yaml' ? JSON.stringify(l) + '\n' : formatTapLine(l) + '\n');
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

export function registerTop(viz: Command): void {
  tapOptions(viz.command('top').description('tap a resource for a while and list its most requested paths'))
    .addOption(new Option('--duration <d>', 'how long to tap (e.g. 5s, 1m)').default('5s'))
    .action(async (kind: string, name: string | undefined, opts: { method?: string; path?: string; authority?: string; duration: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      let ms: number;
      try {
        ms = parseDuration(opts.duration);
      } catch (err) {
        throw new InvalidArgumentError(`--duration: ${(err as Error).message}`);
      }
      const abort = interrupted();
      const timer = setTimeout(() => abort.abort(), ms);
      const requests = new Map<string, TapEventJson>();
      const rows = new Map<string, TopRow>();
      try {
        for await (const line of (await vizClient(g, cmd)).tap(tapParams(kind, name, opts, g.namespace), abort.signal)) {
          const e = line as unknown as Line;
          if (!('type' in e)) continue;
          const key = `${e.proxy.pod}/${e.id}`;
          if (e.type === 'request') requests.set(key, e);
          if (e.type === 'response') {
            const req = requests.get(key);
            if (req) requests.set(key, { ...req, status: e.status });
          }
          if (e.type !== 'end') continue;
          const req = requests.get(key);
          requests.delete(key);
          if (!req) continue;
          const source = e.direction === 'inbound' ? e.clientId || e.source : `${e.proxy.pod}`;
          const destination = e.direction === 'inbound' ? e.proxy.pod : req.authority ?? e.destination;
          const rk = [source, destination, req.method, req.path].join('\u0000');
          const latency = e.latencyMs ?? 0;
          const row = rows.get(rk) ?? { source, destination, method: req.method ?? '', path: req.path ?? '', count: 0, best: Infinity, worst: 0, last: 0, successes: 0 };
          row.count++;
          row.best = Math.min(row.best, latency);
          row.worst = Math.max(row.worst, latency);
          row.last = latency;
          if ((req.status ?? 0) < 500 && !e.error) row.successes++;
          rows.set(rk, row);
        }
      } finally {
        clearTimeout(timer);
        abort.abort();
      }
      const sorted = [...rows.values()].sort((a, b) => b.count - a.count || a.path.localeCompare(b.path));
      const structured = renderStructured(g.output, { duration: opts.duration, routes: sorted });
      if (structured !== undefined) return void process.stdout.write(structured);
      if (sorted.length === 0) return void process.stdout.write(`No requests seen in ${opts.duration}.\n`);
      process.stdout.write(
        renderTable(sorted, [
          { header: 'SOURCE', value: (r) => r.source },
          { header: 'DESTINATION', value: (r) => r.destination },
          { header: 'METHOD', value: (r) => r.method },
          { header: 'PATH', value: (r) => r.path },
          { header: 'COUNT', value: (r) => String(r.count), alignRight: true },
          { header: 'BEST', value: (r) => fmt.ms(r.best), alignRight: true },
          { header: 'WORST', value: (r) => fmt.ms(r.worst), alignRight: true },
          { header: 'LAST', value: (r) => fmt.ms(r.last), alignRight: true },
          { header: 'SUCCESS', value: (r) => fmt.percent(r.successes / r.count), alignRight: true },
        ], g.output === 'wide'),
      );
    });
}
