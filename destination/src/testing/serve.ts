/**
 * Test support: the real destination service over mTLS on free loopback
 * ports, with a throwaway CA, and a gRPC client that presents a mesh
 * identity — what a proxy in a pod talks to.
 */
import { destination } from '@weft/api';
import { createGrpcClient } from '@weft/common/grpc';
import type { Logger } from '@weft/common/log';
import { TestPki, type CertAndKey } from '@weft/common/testing/pki';
import { startDestination, type DestinationController } from '../destination.js';
import type { DiscoverySource } from '../sources/source.js';

/** destination's own identity: proxies verify it as the server name. */
export const DESTINATION_ID = 'destination.weft.serviceaccount.identity.weft.cluster.local';

export interface ClientTls {
  readonly ca: string;
  readonly serverName: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface TestDestination {
  readonly controller: DestinationController;
  readonly anchor: CertAndKey;
  /** TLS options of a client presenting this mesh identity (default `client.demo`); `null`: no client certificate. */
  clientTls(identity?: string | null): ClientTls;
  /** A Destination client presenting `client.demo` (or the given identity). */
  client(identity?: string): ReturnType<typeof createGrpcClient<typeof destination.Destination>>;
  close(): Promise<void>;
}

export async function startTestDestination(source: DiscoverySource, log: Logger): Promise<TestDestination> {
  const pki = new TestPki();
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
  const server = pki.cert({ subject: '/CN=destination', issuer: anchor, dns: [DESTINATION_ID] });
  const controller = await startDestination({
    source,
    log,
    tls: { ca: anchor.cert, cert: server.cert, key: server.key },
    destinationPort: 0,
    policyPort: 0,
    adminPort: 0,
  });
  const clientTls = (identity: string | null = 'client.demo.serviceaccount.identity.weft.cluster.local'): ClientTls => {
    if (identity === null) return { ca: anchor.cert, serverName: DESTINATION_ID };
    const me = pki.cert({ subject: '/CN=client', issuer: anchor, dns: [identity] });
    return { ca: anchor.cert, serverName: DESTINATION_ID, cert: me.cert, key: me.key };
  };
  return {
    controller,
    anchor,
    clientTls,
    client(identity) {
      return createGrpcClient(destination.Destination, {
        ...clientTls(identity),
        baseUrl: `https://127.0.0.1:${controller.destinationPort}`,
      });
    },
    async close() {
      await controller.close();
      pki.dispose();
    },
  };
}
