import { PROXY_PORTS, type InboundPolicy } from '@weft/api/names';

export { INBOUND_POLICIES as DEFAULT_INBOUND_POLICIES } from '@weft/api/names';
export type DefaultInboundPolicy = InboundPolicy;

/** Cluster-wide settings the resolvers need (parsed once from config at the edge). */
export interface MeshSettings {
  /** Kubernetes DNS domain of services (`cluster.local`). */
  readonly clusterDomain: string;
  /** Identity trust domain (`cluster.local`). */
  readonly trustDomain: string;
  /** Namespace of the control plane, part of DNS identities (`weft`). */
  readonly controlNamespace: string;
  /** The proxies' inbound port (4143). */
  readonly proxyInboundPort: number;
  readonly defaultInboundPolicy: DefaultInboundPolicy;
  /** CIDRs that count as "the cluster" for `cluster-authenticated`. */
  readonly clusterNetworks: readonly string[];
  /** Weight given to every endpoint (Kubernetes has no per-endpoint weight). */
  readonly endpointWeight: number;
}

export const DEFAULT_SETTINGS: MeshSettings = {
  clusterDomain: 'cluster.local',
  trustDomain: 'cluster.local',
  controlNamespace: 'weft',
  proxyInboundPort: PROXY_PORTS.inbound,
  defaultInboundPolicy: 'all-unauthenticated',
  clusterNetworks: ['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16', 'fd00::/8'],
  endpointWeight: 10_000,
};
