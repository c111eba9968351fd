/**
 * The demo's control plane: a throwaway trust anchor, identity signing with
 * it (a demo token authority stands in for TokenReview), and destination on a
 * local discovery file. Control-plane components get their certificates
 * through Certify, like the proxies.
 */
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { formatDnsIdentity } from '@weft/common/identity-name';
import { createRegistry } from '@weft/common/metrics';
import { startIdentityService, generateLocalCa, certify, MemorySource, type IdentityService } from '@weft/identity';
import { startDestination, FileSource, type DestinationController } from '@weft/destination';
import { DemoTokenAuthority } from '../tokens.js';
import { CONTROL_NS, TRUST_DOMAIN } from '../topology.js';
import type { Teardown } from './teardown.js';

export interface MeshCertificate {
  readonly name: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface ControlPlane {
  readonly anchorPem: string;
  readonly anchorFingerprint: string;
  readonly tokens: DemoTokenAuthority;
  readonly identity: IdentityService;
  /** `host:port` proxies dial for Certify. */
  readonly identityAddr: string;
  /** A certificate for a control-plane ServiceAccount, obtained through Certify. */
  certificate(serviceAccount: string): Promise<MeshCertificate>;
}

export async function startControlPlane(c: { host: string; dir: string; log: Logger; teardown: Teardown }): Promise<ControlPlane> {
  const ca = await generateLocalCa({ trustDomain: TRUST_DOMAIN });
  const tokens = new DemoTokenAuthority();
  const identity = await startIdentityService({
    host: c.host,
    port: 0,
    trustDomain: TRUST_DOMAIN,
    controlNamespace: CONTROL_NS,
    validator: tokens,
    issuerSource: new MemorySource(ca.issuer),
    trustSource: new MemorySource(ca.anchorPem),
    log: c.log.child({ component: 'identity' }),
    registry: createRegistry('identity'),
  });
  c.teardown.add('identity', () => identity.close());
  const identityAddr = `${c.host}:${identity.port}`;
  return {
    anchorPem: ca.anchorPem,
    anchorFingerprint: new X509Certificate(ca.anchorPem).fingerprint256,
    tokens,
    identity,
    identityAddr,
    async certificate(serviceAccount) {
      const tokenFile = join(c.dir, `token-${serviceAccount}`);
      writeFileSync(tokenFile, tokens.issue({ serviceAccount, namespace: CONTROL_NS, podName: `${serviceAccount}-0` }), { mode: 0o600 });
      const name = formatDnsIdentity({ serviceAccount, namespace: CONTROL_NS, controlNamespace: CONTROL_NS, trustDomain: TRUST_DOMAIN });
      const creds = await certify({
        addr: identityAddr,
        serverName: identity.serverName,
        trustAnchorsPem: ca.anchorPem,
        tokenFile,
        identity: name,
      });
      return { name, ca: ca.anchorPem, cert: creds.certPem + creds.chainPem, key: creds.keyPem };
    },
  };
}

export interface DestinationOnFile {
  readonly controller: DestinationController;
  /** The identity destination's certificate names (proxies verify it). */
  readonly name: string;
}

export async function startDestinationOnFile(c: {
  host: string;
  discoveryFile: string;
  control: ControlPlane;
  log: Logger;
  teardown: Teardown;
}): Promise<DestinationOnFile> {
  const tls = await c.control.certificate('weft-destination');
  const controller = await startDestination({
    source: new FileSource(c.discoveryFile, c.log.child({ component: 'destination-source' })),
    tls,
    log: c.log.child({ component: 'destination' }),
    host: c.host,
    destinationPort: 0,
    policyPort: 0,
  });
  c.teardown.add('destination', () => controller.close());
  return { controller, name: tls.name };
}
