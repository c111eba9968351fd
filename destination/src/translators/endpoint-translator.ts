/**
 * Turns successive endpoint states of one subscription into `Update`
 * messages: the first state is sent whole, later ones as diffs (`add` for
 * new or changed endpoints, `remove` for gone ones). An `add` for a known
 * address replaces what the proxy knew about it (e.g. the pod became meshed).
 * An empty set is an explicit `no_endpoints`, never silence.
 */
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import type { EndpointState, ResolvedEndpoint } from '../resolve/endpoints.js';

export type Update = destination.Update;

export class EndpointTranslator {
  /** Signature of every endpoint the proxy currently holds, by address key. */
  private readonly sent = new Map<string, string>();
  /** The `exists` flag of the last no_endpoints sent; undefined when the proxy holds endpoints (or nothing was sent). */
  private lastNone: boolean | undefined;
  private started = false;

  constructor(private readonly send: (update: Update) => void) {}

  update(state: EndpointState): void {
    if (state.kind === 'none') {
      this.removeAllBut(undefined);
      if (!this.started || this.lastNone !== state.exists) {
        this.send(create(destination.UpdateSchema, { update: { case: 'noEndpoints', value: { exists: state.exists } } }));
        this.lastNone = state.exists;
      }
      this.started = true;
      return;
    }
    this.removeAllBut(state.endpoints);
    const added: ResolvedEndpoint[] = [];
    for (const [key, ep] of state.endpoints) {
      const sig = signature(ep);
      if (this.sent.get(key) === sig) continue;
      this.sent.set(key, sig);
      added.push(ep);
    }
    if (added.length > 0) {
      this.send(
        create(destination.UpdateSchema, {
          update: { case: 'add', value: { addrs: added.map(toWeightedAddr), metricLabels: { ...state.setLabels } } },
        }),
      );
    }
    this.lastNone = undefined;
    this.started = true;
  }

  private removeAllBut(keep: ReadonlyMap<string, ResolvedEndpoint> | undefined): void {
    const gone: { ip: string; port: number }[] = [];
    for (const key of this.sent.keys()) {
      if (keep?.has(key)) continue;
      this.sent.delete(key);
      gone.push(parseKey(key));
    }
    if (gone.length > 0) this.send(create(destination.UpdateSchema, { update: { case: 'remove', value: { addrs: gone } } }));
  }
}

function signature(ep: ResolvedEndpoint): string {
  return JSON.stringify([ep.weight, ep.identity?.dnsName, ep.hint?.protocol, ep.hint?.inboundPort, ep.labels]);
}

function parseKey(key: string): { ip: string; port: number } {
  const i = key.lastIndexOf(':');
  const host = key.slice(0, i);
  return { ip: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(key.slice(i + 1)) };
}

export function toWeightedAddr(ep: ResolvedEndpoint): destination.WeightedAddr {
  return create(destination.WeightedAddrSchema, {
    addr: { ip: ep.ip, port: ep.port },
    weight: ep.weight,
    metricLabels: { ...ep.labels },
    ...(ep.identity ? { tlsIdentity: { dnsName: ep.identity.dnsName, spiffeUri: ep.identity.spiffeUri } } : {}),
    ...(ep.hint
      ? {
          protocolHint: {
            protocol: ep.hint.protocol === 'h2' ? { case: 'h2', value: {} } : { case: 'opaque', value: {} },
            inboundPort: ep.hint.inboundPort,
          },
        }
      : {}),
  });
}
