/**
 * The demo app: traffic → web (HTTP/1.1) → authors (gRPC) → books (HTTP/1.1,
 * flaky). One pod per workload, all in namespace `demo`, each with its own
 * ServiceAccount and so its own weft identity.
 */
import { formatDnsIdentity } from '@weft/common/identity-name';

export const DEMO_NAMESPACE = 'demo';
/** The control plane's namespace and trust domain, as in a default install. */
export const CONTROL_NS = 'weft';
export const TRUST_DOMAIN = 'cluster.local';
export const VIZ_SERVICE_ACCOUNT = 'weft-viz';
/** The only identity the demo proxies let tap them. */
export const VIZ_IDENTITY = formatDnsIdentity({
  serviceAccount: VIZ_SERVICE_ACCOUNT,
  namespace: CONTROL_NS,
  controlNamespace: CONTROL_NS,
  trustDomain: TRUST_DOMAIN,
});
/** Virtual service addresses of the demo (netns mode), like a cluster's service CIDR. */
export const CLUSTER_IP_PREFIX = '10.232.0';

export interface DemoWorkload {
  readonly name: 'web' | 'authors' | 'books' | 'traffic';
  /** The app's port; undefined for the traffic generator, which serves nothing. */
  readonly port: number | undefined;
  readonly protocol: 'http' | 'grpc' | undefined;
}

export const WORKLOADS: readonly DemoWorkload[] = [
  { name: 'books', port: 8082, protocol: 'http' },
  { name: 'authors', port: 8081, protocol: 'grpc' },
  { name: 'web', port: 8080, protocol: 'http' },
  { name: 'traffic', port: undefined, protocol: undefined },
];

export function serviceHost(name: string): string {
  return `${name}.${DEMO_NAMESPACE}.svc.cluster.local`;
}

/**
 * ServiceProfiles of the demo services, so `weft viz routes` has routes to
 * show and books' idempotent reads are retried (within the retry budget).
 */
export const DEMO_PROFILES: Record<string, unknown> = {
  web: {
    routes: [
      { name: 'GET /authors/{id}', matches: [{ method: 'GET', path: { regex: '^/authors/\\d+$' } }], timeout: '10s' },
      { name: 'GET /', matches: [{ method: 'GET', path: { exact: '/' } }] },
    ],
  },
  authors: {
    routes: [
      { name: 'GetAuthor', matches: [{ method: 'POST', path: { exact: '/weft.demo.v1.Authors/GetAuthor' } }], timeout: '5s' },
      { name: 'ListAuthors', matches: [{ method: 'POST', path: { exact: '/weft.demo.v1.Authors/ListAuthors' } }] },
    ],
  },
  books: {
    routes: [{ name: 'GET /books/{id}', matches: [{ method: 'GET', path: { regex: '^/books/\\d+$' } }], timeout: '2s', isRetryable: true }],
    retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttl: '10s' },
  },
};
