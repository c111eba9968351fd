/**
 * The Kubernetes-shaped objects destination works on. Every discovery source
 * (Kubernetes informers, the local file, the in-memory test source) feeds
 * these same shapes, so one resolution path serves them all.
 */
import {
  DEFAULT_INBOUND_POLICY_ANNOTATION,
  OPAQUE_PORTS_ANNOTATION,
  PROXY_INBOUND_PORT_ANNOTATION,
  PROXY_VERSION_ANNOTATION,
} from '@weft/api/names';
import type { k8s } from '@weft/common/k8s/client';

export type Service = k8s.V1Service;
export type Pod = k8s.V1Pod;
export type EndpointSlice = k8s.V1EndpointSlice;
export type Namespace = k8s.V1Namespace;

/** A custom resource (weft's, or the Gateway API's); `spec` is validated where it is used. */
export interface CustomObject {
  apiVersion?: string;
  kind?: string;
  metadata: k8s.V1ObjectMeta;
  spec?: unknown;
  status?: unknown;
}

/** Gateway API kinds destination reads (docs/routes.md). */
export const ROUTE_KINDS = ['HTTPRoute', 'GRPCRoute'] as const;
export type RouteKind = (typeof ROUTE_KINDS)[number];

export const POLICY_KINDS = ['Server', 'AuthorizationPolicy', 'MeshTLSAuthentication', 'NetworkAuthentication'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

export interface KindMap {
  Service: Service;
  EndpointSlice: EndpointSlice;
  Pod: Pod;
  Namespace: Namespace;
  ServiceProfile: CustomObject;
  Server: CustomObject;
  AuthorizationPolicy: CustomObject;
  MeshTLSAuthentication: CustomObject;
  NetworkAuthentication: CustomObject;
  HTTPRoute: CustomObject;
  GRPCRoute: CustomObject;
  ReferenceGrant: CustomObject;
}
export type Kind = keyof KindMap;
export const KINDS: readonly Kind[] = ['Service', 'EndpointSlice', 'Pod', 'Namespace', 'ServiceProfile', ...POLICY_KINDS, ...ROUTE_KINDS, 'ReferenceGrant'];

/** Where objects go: a source calls these as objects appear, change and disappear. */
export interface ObjectSink {
  apply<K extends Kind>(kind: K, obj: KindMap[K]): void;
  delete<K extends Kind>(kind: K, obj: KindMap[K]): void;
}

/** Annotations destination reads (their names: @weft/api/names). */
export const ANNOTATION = {
  proxyVersion: PROXY_VERSION_ANNOTATION,
  proxyInboundPort: PROXY_INBOUND_PORT_ANNOTATION,
  opaquePorts: OPAQUE_PORTS_ANNOTATION,
  defaultInboundPolicy: DEFAULT_INBOUND_POLICY_ANNOTATION,
} as const;
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export function objectKey(meta: { namespace?: string; name?: string } | undefined): string {
  return `${meta?.namespace ?? ''}/${meta?.name ?? ''}`;
}
