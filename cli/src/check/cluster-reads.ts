/**
 * The cluster reads `weft check` needs, behind one small interface so the
 * checks run on in-memory inputs in tests and on the API server for users.
 */

export interface ServerVersion {
  readonly major: number;
  readonly minor: number;
  readonly gitVersion: string;
}

export interface ControlPlaneDeployment {
  readonly name: string;
  readonly desired: number;
  readonly ready: number;
  /** `app.kubernetes.io/version` of the Deployment. */
  readonly version: string | undefined;
}

export interface MeshedPod {
  readonly namespace: string;
  readonly name: string;
  /** `weft.io/proxy-version` annotation set by the injector. */
  readonly proxyVersion: string | undefined;
  /** The weft-proxy container is ready. */
  readonly proxyReady: boolean;
  /** The trust anchors the injector gave this proxy (PEM), when readable from its spec. */
  readonly trustAnchorsPem?: string;
}

/** What `weft check` reads of a CustomResourceDefinition. */
export interface CrdVersions {
  /** The version new writes are encoded at. */
  readonly storageVersion: string | undefined;
  /** `status.storedVersions`: every version objects may still be encoded at in etcd. */
  readonly storedVersions: readonly string[];
}

export interface ClusterReads {
  serverVersion(): Promise<ServerVersion>;
  /** SelfSubjectAccessReview for the current user. */
  canI(verb: string, group: string, resource: string, namespace?: string): Promise<boolean>;
  namespaceExists(name: string): Promise<boolean>;
  deployments(namespace: string): Promise<ControlPlaneDeployment[]>;
  /** ConfigMap data, or undefined when the ConfigMap does not exist. */
  configMap(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** Secret data (decoded), or undefined when the Secret does not exist. */
  secret(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** The PEM caBundle of each webhook of a MutatingWebhookConfiguration, or undefined when it does not exist. */
  webhookCaBundles(name: string): Promise<string[] | undefined>;
  /** Pods injected by the control plane in `controlNamespace`. */
  meshedPods(controlNamespace: string): Promise<MeshedPod[]>;
  /** The CRD `name`'s versions, or undefined when it is not installed. */
  crd(name: string): Promise<CrdVersions | undefined>;
}

/** Reads for when no kubeconfig could be loaded: every call fails with why. */
export function unreachableReads(reason: Error): ClusterReads {
  const no = () => Promise.reject(reason);
  return { serverVersion: no, canI: no, namespaceExists: no, deployments: no, configMap: no, secret: no, webhookCaBundles: no, meshedPods: no, crd: no };
}
