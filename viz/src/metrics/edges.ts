/**
 * Edges: who talks to whom, with the mTLS identities on each side.
 *
 * The source side comes from clients' outbound metrics (src object, dst
 * object, `server_id`, `tls`); the client identity comes from the
 * destination's inbound metrics (`client_id`). A client's identity is
 * matched by what others call it (`server_id` of traffic to it) or, for
 * client-only workloads, by the single inbound `client_id` at the destination
 * from the client's namespace.
 */
import { InvalidArgumentError } from '@weft/common/errors';
import { parseDnsIdentity } from '@weft/common/identity-name';
import { isWorkloadKind, type ResourceKind } from '../resource.js';
import { checkWindow, labelOf, windowIncrease } from './promql.js';
import type { Querier } from './stat.js';

export interface EdgeEnd {
  readonly namespace: string;
  readonly name: string;
}

export interface Edge {
  readonly src: EdgeEnd;
  readonly dst: EdgeEnd;
  readonly kind: ResourceKind;
  /** The client's mTLS identity as the server saw it ('' when unknown or plaintext). */
  readonly clientId: string;
  /** The server identity the client verified ('' when plaintext). */
  readonly serverId: string;
  /** True when every request on the edge in the window used mTLS. */
  readonly mtls: boolean;
  readonly requests: number;
  readonly rps: number;
  /** Successful / all responses the client saw on the edge in the window; null without responses. */
  readonly successRate: number | null;
}

export interface EdgesQuery {
  readonly kind: ResourceKind;
  /** Only edges with an end in this namespace; undefined for all. */
  readonly namespace?: string;
  readonly window: string;
}

function namespaceOfIdentity(id: string): string | undefined {
  try {
    return parseDnsIdentity(id).namespace;
  } catch {
    return undefined;
  }
}

export async function queryEdges(prometheus: Querier, q: EdgesQuery): Promise<Edge[]> {
  checkWindow(q.window);
  if (!isWorkloadKind(q.kind) && q.kind !== 'pod') throw new InvalidArgumentError(`edges are reported for workloads and pods, not ${q.kind}s`);
  const l = labelOf(q.kind);
  const outGroup = ['namespace', l, 'dst_namespace', `dst_${l}`, 'server_id', 'tls'];
  const inGroup = ['namespace', l, 'client_id', 'tls'];
  const pairGroup = ['namespace', l, 'dst_namespace', `dst_${l}`];
  const outbound = `direction="outbound",dst_${l}!=""`;
  const [out, outRps, inbound, responses, successes] = await Promise.all([
    prometheus.query(windowIncrease('request_total', outbound, outGroup, q.window)),
    prometheus.query(`sum by (${pairGroup.join(', ')}) (rate(request_total{${outbound}}[${q.window}]))`),
    prometheus.query(windowIncrease('request_total', `direction="inbound",client_id!=""`, inGroup, q.window)),
    prometheus.query(windowIncrease('response_total', outbound, pairGroup, q.window)),
    prometheus.query(windowIncrease('response_total', `${outbound},classification="success"`, pairGroup, q.window)),
  ]);
  const k = (ns: string | undefined, name: string | undefined) => `${ns ?? ''}/${name ?? ''}`;
  // What clients call each destination: its identity.
  const identityOf = new Map<string, string>();
  for (const s of out) if (s.labels.server_id) identityOf.set(k(s.labels.dst_namespace, s.labels[`dst_${l}`]), s.labels.server_id);
  const clientIdsAt = new Map<string, Set<string>>();
  for (const s of inbound) {
    if (s.value <= 0) continue;
    const key = k(s.labels.namespace, s.labels[l]);
    if (!clientIdsAt.has(key)) clientIdsAt.set(key, new Set());
    clientIdsAt.get(key)!.add(s.labels.client_id!);
  }
  const pairKey = (s: { labels: Readonly<Record<string, string>> }) => k(s.labels.namespace, s.labels[l]) + '>' + k(s.labels.dst_namespace, s.labels[`dst_${l}`]);
  const rps = new Map(outRps.map((s) => [pairKey(s), s.value]));
  const responsesOf = new Map(responses.map((s) => [pairKey(s), s.value]));
  const successesOf = new Map(successes.map((s) => [pairKey(s), s.value]));

  const edges = new Map<string, { src: EdgeEnd; dst: EdgeEnd; serverId: string; requests: number; tlsRequests: number }>();
  for (const s of out) {
    if (s.value <= 0) continue;
    const src = { namespace: s.labels.namespace ?? '', name: s.labels[l] ?? '' };
    const dst = { namespace: s.labels.dst_namespace ?? '', name: s.labels[`dst_${l}`] ?? '' };
    const key = k(src.namespace, src.name) + '>' + k(dst.namespace, dst.name);
    const e = edges.get(key) ?? { src, dst, serverId: '', requests: 0, tlsRequests: 0 };
    e.requests += s.value;
    if (s.labels.tls === 'true') {
      e.tlsRequests += s.value;
      e.serverId ||= s.labels.server_id ?? '';
    }
    edges.set(key, e);
  }
  const known = new Set(identityOf.values());
  const result: Edge[] = [];
  for (const [key, e] of edges) {
    if (q.namespace && e.src.namespace !== q.namespace && e.dst.namespace !== q.namespace) continue;
    const seen = clientIdsAt.get(k(e.dst.namespace, e.dst.name)) ?? new Set<string>();
    let clientId = identityOf.get(k(e.src.namespace, e.src.name)) ?? '';
    if (clientId && !seen.has(clientId)) clientId = '';
    if (!clientId) {
      const candidates = [...seen].filter((id) => namespaceOfIdentity(id) === e.src.namespace && !known.has(id));
      if (candidates.length === 1) clientId = candidates[0]!;
    }
    const mtls = e.requests > 0 && e.tlsRequests === e.requests;
    const resp = responsesOf.get(key) ?? 0;
    result.push({
      src: e.src,
      dst: e.dst,
      kind: q.kind,
      clientId: mtls ? clientId : '',
      serverId: mtls ? e.serverId : '',
      mtls,
      requests: Math.round(e.requests),
      rps: rps.get(key) ?? 0,
      successRate: resp > 0 ? (successesOf.get(key) ?? 0) / resp : null,
    });
  }
  result.sort((a, b) => k(a.src.namespace, a.src.name).localeCompare(k(b.src.namespace, b.src.name)) || k(a.dst.namespace, a.dst.name).localeCompare(k(b.dst.namespace, b.dst.name)));
  return result;
}

