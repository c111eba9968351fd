/** Mesh configs for tests: fixed versions and the committed test trust anchor, so golden files are stable. */
import { fileURLToPath } from 'node:url';
import { loadMeshConfig, type MeshConfig } from '../mesh-config.js';

export const TESTDATA = fileURLToPath(new URL('../../testdata/', import.meta.url));

export function testMesh(env: NodeJS.ProcessEnv = {}): MeshConfig {
  return loadMeshConfig({
    WEFT_INJECTOR_TRUST_ANCHORS_FILE: `${TESTDATA}trust-anchors.pem`,
    WEFT_INJECTOR_PROXY_VERSION: 'v0.0.0-test',
    WEFT_INJECTOR_KUBERNETES_VERSION: '1.30',
    ...env,
  });
}
