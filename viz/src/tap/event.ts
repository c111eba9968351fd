/**
 * The JSON shape of one tap event as viz streams it (NDJSON, one per line):
 * the proxy's protobuf TapEvent flattened, with the proxy that saw it.
 */
import { tap } from '@weft/api';
import type { ProxyTarget } from '../targets.js';

export interface TapEventJson {
  readonly proxy: { readonly namespace: string; readonly pod: string; readonly workload: string };
  readonly type: 'request' | 'response' | 'end';
  /** Stream id, unique per proxy. */
  readonly id: string;
  readonly direction: 'inbound' | 'outbound' | 'unknown';
  readonly tls: boolean;
  readonly clientId: string;
  readonly serverId: string;
  readonly source: string;
  readonly destination: string;
  readonly sourceMeta: Record<string, string>;
  readonly destinationMeta: Record<string, string>;
  readonly method?: string;
  readonly scheme?: string;
  readonly authority?: string;
  readonly path?: string;
  readonly status?: number;
  /** Time from request start to response headers (response) or to the end (end). */
  readonly latencyMs?: number;
  readonly requestBytes?: number;
  readonly responseBytes?: number;
  readonly grpcStatus?: number;
  readonly error?: string;
}

interface DurationLike {
  seconds: bigint;
  nanos: number;
}

function ms(d: DurationLike | undefined): number | undefined {
  return d === undefined ? undefined : Number(d.seconds) * 1000 + d.nanos / 1e6;
}

function addr(a: { ip: string; port: number } | undefined): string {
  if (!a || !a.ip) return '';
  return a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}

export function tapEventJson(target: ProxyTarget, e: tap.TapEvent): TapEventJson | undefined {
  const base = {
    proxy: { namespace: target.namespace, pod: target.name, workload: `${target.workload.kind}/${target.workload.name}` },
    direction: e.direction === tap.TapEvent_Direction.INBOUND ? 'inbound' : e.direction === tap.TapEvent_Direction.OUTBOUND ? 'outbound' : 'unknown',
    tls: e.tls,
    clientId: e.clientIdentity,
    serverId: e.serverIdentity,
    source: addr(e.source),
    destination: addr(e.destination),
    sourceMeta: { ...e.sourceMeta },
    destinationMeta: { ...e.destinationMeta },
  } as const;
  const ev = e.event;
  const id = (s: { base: bigint; stream: bigint } | undefined) => (s ? `${s.base}:${s.stream}` : '');
  switch (ev.case) {
    case 'requestInit':
      return { ...base, type: 'request', id: id(ev.value.id), method: ev.value.method, scheme: ev.value.scheme, authority: ev.value.authority, path: ev.value.path };
    case 'responseInit':
      return { ...base, type: 'response', id: id(ev.value.id), status: ev.value.httpStatus, latencyMs: ms(ev.value.sinceRequestInit) };
    case 'responseEnd':
      return {
        ...base,
        type: 'end',
        id: id(ev.value.id),
        latencyMs: ms(ev.value.sinceRequestInit),
        requestBytes: Number(ev.value.requestBytes),
        responseBytes: Number(ev.value.responseBytes),
        ...(ev.value.hasGrpcStatus ? { grpcStatus: ev.value.grpcStatus } : {}),
        ...(ev.value.error ? { error: ev.value.error } : {}),
      };
    default:
      return undefined;
  }
}
