/**
 * The demo app: traffic → web (HTTP/1.1) → authors (gRPC) → books (HTTP/1.1,
 * flaky). One pod per workload, all in namespace `demo`, each with its own
 * ServiceAccount and so its own weft identity.
 */
export const DEMO_NAMESPACE = 'demo';

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
