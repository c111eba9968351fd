/**
 * The Kubernetes-shaped objects destination works on. Every discovery source
 * (Kubernetes informers, the local file, the in-memory test source) feeds
 * these same shapes, so one resolution path serves them all.
 */
import type { k8s } from '@weft/common/k8s/client';

export type Service = k8s.V1Service;
export type Pod = k8s.V1Pod;
export type EndpointSlice = k8s.V1EndpointSlice;
export type Namespace = k8s.V1Namespace;

/** A weft custom resource; `spec` is validated where it is used. */
export interface CustomObject {
  apiVersion?: string;
  kind?: string;
  metadata: k8s.V1ObjectMeta;
  spec?: unknown;
}

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
}
export type Kind = keyof KindMap;
export const KINDS: readonly Kind[] = ['Service', 'EndpointSlice', 'Pod', 'Namespace', 'ServiceProfile', ...POLICY_KINDS];

/** Where objects go: a source calls these as objects appear, change and disappear. */
export interface ObjectSink {
  apply<K extends Kind>(kind: K, obj: KindMap[K]): void;
  delete<K extends Kind>(kind: K, obj: KindMap[K]): void;
}

/** API groups of weft's CRDs (docs/destination.md). */
export const PROFILE_GROUP = 'weft.io';
export const POLICY_GROUP = 'policy.weft.io';
export const CRD_VERSION = 'v1alpha1';

/** Annotations and labels destination reads. */
export const ANNOTATION = {
  proxyVersion: 'weft.io/proxy-version',
  /** Set by whoever runs the proxy on a non-default inbound port (the local demo). */
  proxyInboundPort: 'weft.io/proxy-inbound-port',
  opaquePorts: 'config.weft.io/opaque-ports',
  defaultInboundPolicy: 'config.weft.io/default-inbound-policy',
} as const;
export const PROXY_CONTAINER = 'weft-proxy';
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export function objectKey(meta: { namespace?: string; name?: string } | undefined): string {
  return `${meta?.namespace ?? ''}/${meta?.name ?? ''}`;
}
