/**
 * Test and bench support: the environment a pod's proxy container gets from
 * the injector, on loopback — its four listeners, identity's address, name
 * and trust anchors, the ServiceAccount token file, and destination and
 * policy at `controlPlane` (a closed port when the control plane is not up).
 */
export interface PodEnvOptions {
  readonly ports: { readonly admin: number; readonly outbound: number; readonly inbound: number; readonly tap: number };
  readonly identity: { readonly port: number; readonly serverName: string; readonly anchorPem: string; readonly tokenFile: string; readonly localName: string };
  /** Destination and policy: both at this loopback port. */
  readonly controlPlanePort: number;
  readonly namespace: string;
  readonly pod: string;
}

export function podEnv(o: PodEnvOptions): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    WEFT_PROXY_LOG_LEVEL: 'warn',
    WEFT_PROXY_OUTBOUND_LISTEN_ADDR: `127.0.0.1:${o.ports.outbound}`,
    WEFT_PROXY_INBOUND_LISTEN_ADDR: `127.0.0.1:${o.ports.inbound}`,
    WEFT_PROXY_ADMIN_LISTEN_ADDR: `127.0.0.1:${o.ports.admin}`,
    WEFT_PROXY_TAP_LISTEN_ADDR: `127.0.0.1:${o.ports.tap}`,
    WEFT_PROXY_IDENTITY_SVC_ADDR: `127.0.0.1:${o.identity.port}`,
    WEFT_PROXY_IDENTITY_SVC_NAME: o.identity.serverName,
    WEFT_PROXY_IDENTITY_TRUST_ANCHORS: o.identity.anchorPem,
    WEFT_PROXY_IDENTITY_TOKEN_FILE: o.identity.tokenFile,
    WEFT_PROXY_IDENTITY_LOCAL_NAME: o.identity.localName,
    WEFT_PROXY_DESTINATION_SVC_ADDR: `127.0.0.1:${o.controlPlanePort}`,
    WEFT_PROXY_DESTINATION_SVC_NAME: 'destination',
    WEFT_PROXY_POLICY_SVC_ADDR: `127.0.0.1:${o.controlPlanePort}`,
    WEFT_PROXY_POD_NAMESPACE: o.namespace,
    WEFT_PROXY_POD_NAME: o.pod,
  };
}
