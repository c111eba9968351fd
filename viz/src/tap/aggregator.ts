/**
 * Tap fan-in: opens `tap.Tap/Observe` (gRPC over mTLS, port 4190) on every
 * proxy of a resource and merges their events into one stream, until the
 * caller goes away or `limit` requests were seen.
 */
import { create } from '@bufbuild/protobuf';
import type { Client } from '@connectrpc/connect';
import { tap } from '@weft/api';
import { createGrpcClient } from '@weft/common/grpc';
import { type Logger } from '@weft/common/log';
import { NotFoundError } from '../errors.js';
import type { ProxyTarget, TargetSource } from '../targets.js';
import { tapEventJson, type TapEventJson } from './event.js';
import { describeScope, proxiesOf, type TapScope } from './scope.js';

export interface TapMatch {
  readonly method?: string;
  readonly pathPrefix?: string;
  readonly authority?: string;
}

export interface TapRequest {
  readonly scope: TapScope;
  readonly match: TapMatch;
  /** Stop after this many requests (request events); 0 = until cancelled. */
  readonly limit: number;
}

/** viz's client certificate for the proxies' tap servers; read at each new connection, so it may be replaced in place (rotation). */
export interface TapClientTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** A stream line that is not an event: a proxy could not be tapped. */
export interface TapProxyError {
  readonly proxy: { readonly namespace: string; readonly pod: string };
  readonly error: string;
}

export type TapLine = TapEventJson | TapProxyError;

export class TapAggregator {
  /** One client per proxy, rebuilt when viz's certificate or anchors changed (the material is read live). */
  private readonly clients = new Map<string, { readonly client: Client<typeof tap.Tap>; readonly cert: string; readonly ca: string }>();

  constructor(
    private readonly targets: TargetSource,
    private readonly tls: TapClientTls,
    private readonly log: Logger,
  ) {}

  private client(t: ProxyTarget): Client<typeof tap.Tap> {
    const key = `${t.tapAddr}|${t.identity}`;
    const { ca, cert, key: privateKey } = this.tls;
    let c = this.clients.get(key);
    if (!c || c.cert !== cert || c.ca !== ca) {
      c = { client: createGrpcClient(tap.Tap, { baseUrl: `https://${t.tapAddr}`, ca, cert, key: privateKey, serverName: t.identity }), cert, ca };
      this.clients.set(key, c);
    }
    return c.client;
  }

  /** Resolves the proxies first so an unknown resource fails before streaming starts. */
  async resolve(req: TapRequest): Promise<ProxyTarget[]> {
    const found = proxiesOf(await this.targets.list(), req.scope);
    if (found.length === 0) throw new NotFoundError(`no meshed proxies for ${describeScope(req.scope)}`);
    return found;
  }

  /** Streams merged events from every proxy of the request until `signal` aborts or the limit is reached. */
  async *observe(req: TapRequest, proxies: readonly ProxyTarget[], signal: AbortSignal): AsyncGenerator<TapLine> {
    const inner = new AbortController();
    const stop = () => inner.abort();
    signal.addEventListener('abort', stop, { once: true });
    const queue: TapLine[] = [];
    let wake: (() => void) | undefined;
    let running = proxies.length;
    const push = (line: TapLine) => {
      queue.push(line);
      wake?.();
    };
    const observeRequest = create(tap.ObserveRequestSchema, {
      limit: req.limit,
      match: { method: req.match.method ?? '', pathPrefix: req.match.pathPrefix ?? '', authority: req.match.authority ?? '' },
    });
    for (const t of proxies) {
      void (async () => {
        // Only events of requests whose start was seen are passed on, so every request line is complete.
        const open = new Set<string>();
        try {
          // A proxy ends its stream after its own limit (100 by default): re-subscribe while the caller still wants events.
          while (!inner.signal.aborted) {
            let events = 0;
            for await (const e of this.client(t).observe(observeRequest, { signal: inner.signal })) {
              events++;
              const json = tapEventJson(t, e);
              if (!json) continue;
              if (json.type === 'request') open.add(json.id);
              else if (!open.has(json.id)) continue;
              if (json.type === 'end') open.delete(json.id);
              push(json);
            }
            // A stream that ends without events must not turn into a busy loop.
            if (events === 0) await new Promise((r) => setTimeout(r, 1000));
          }
        } catch (err) {
          if (!inner.signal.aborted) {
            this.log.warn({ proxy: `${t.namespace}/${t.name}`, err: (err as Error).message }, 'tap stream failed');
            push({ proxy: { namespace: t.namespace, pod: t.name }, error: (err as Error).message });
          }
        } finally {
          running--;
          wake?.();
        }
      })();
    }
    inner.signal.addEventListener('abort', () => wake?.(), { once: true });
    let requests = 0;
    try {
      while (!inner.signal.aborted) {
        const line = queue.shift();
        if (line) {
          yield line;
          if ('type' in line && line.type === 'end' && req.limit > 0 && ++requests >= req.limit) return;
          continue;
        }
        if (running === 0) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', stop);
      inner.abort();
    }
  }
}
