/**
 * Test support: the standard-channel Gateway API CRDs weft reads, from the
 * published `sigs.k8s.io/gateway-api` module (served by the Go module proxy),
 * installed on a real API server for the duration of a test.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The Gateway API release whose standard-channel CRDs the tests install (docs/routes.md). */
export const GATEWAY_API_VERSION = 'v1.3.0';

/** The HTTPRoute, GRPCRoute and ReferenceGrant CRD manifests of the module. */
export function gatewayApiCrds(): string[] {
  const out = execFileSync('go', ['mod', 'download', '-json', `sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}`], {
    encoding: 'utf8',
    cwd: '/',
  });
  const dir = join((JSON.parse(out) as { Dir: string }).Dir, 'config/crd/standard');
  return readdirSync(dir)
    .filter((f) => /_(httproutes|grpcroutes|referencegrants)\.yaml$/.test(f))
    .map((f) => readFileSync(join(dir, f), 'utf8'));
}

/**
 * Creates the CRDs the cluster lacks and waits until they are established;
 * returns a function that deletes the ones it created.
 */
export function installGatewayApiCrds(kubectl: (args: string[], input?: string) => string): () => void {
  const created: string[] = [];
  for (const manifest of gatewayApiCrds()) {
    const name = /^\s*name:\s*(\S+)/m.exec(manifest.slice(manifest.indexOf('metadata:')))![1]!;
    try {
      kubectl(['get', 'crd', name]);
    } catch {
      kubectl(['create', '-f', '-'], manifest);
      created.push(name);
    }
  }
  for (const name of created) kubectl(['wait', '--for=condition=Established', '--timeout=60s', `crd/${name}`]);
  return () => {
    for (const name of created) kubectl(['delete', 'crd', name, '--wait=false']);
  };
}
