/**
 * In-process mesh for tests: a test PKI (real openssl), a client proxy and a
 * server proxy on loopback with real mTLS between them, and in-memory
 * discovery. Explicit mode: no iptables, outbound HTTP is routed by Host and
 * the server proxy forwards unmeshed plaintext to a default app port.
 */
import { TestPki, type CertAndKey } from '@weft/common/testing/pki';
import { createLogger, type Logger } from '@weft/common/log';
import type { ProxyConfig } from '../config.js';
import { startProxy, type Proxy, type OriginalDstLookup } from '../proxy.js';
import { StaticIdentity } from '../identity/local-identity.js';
import { StaticDiscovery } from '../discovery/discovery.js';
import { StaticProfiles } from '../discovery/profiles.js';
import type { InboundPolicies } from '../policy/policies.js';
import { DEFAULT_CONNECTIONS, type ConnectionSettings } from '../transport/connections.js';

export const CLIENT_ID = 'client.test.serviceaccount.identity.weft.cluster.local';
/** The viz tap identity test proxies accept on their tap port. */
export const TAP_ID = 'weft-viz.weft-viz.serviceaccount.identity.weft.cluster.local';
export const SERVER_ID = 'server.test.serviceaccount.identity.weft.cluster.local';

export function testConfig(name: string, overrides: Partial<ProxyConfig> = {}): ProxyConfig {
  const any = { host: '127.0.0.1', port: 0 };
  return {
    logLevel: 'silent',
    logFormat: 'json',
    outbound: any,
    inbound: any,
    admin: any,
    tap: any,
    identity: { localName: name, trustAnchors: '', tokenFile: '/dev/null', svcAddr: 'unused:1', svcName: 'unused' },
    destination: { svcAddr: 'unused:1', svcName: 'unused', contextToken: '{}' },
    policySvcAddr: 'unused:1',
    pod: { namespace: 'test', name: `${name.split('.')[0]}-pod`, workloadKind: 'deployment', workloadName: name.split('.')[0]! },
    opaquePorts: [],
    inboundPorts: [],
    defaultInboundPolicy: 'all-unauthenticated',
    detectTimeoutMs: 1000,
    connections: DEFAULT_CONNECTIONS,
    meshHttp1: 'mux',
    appHost: '127.0.0.1',
    inboundAppPort: undefined,
    shutdownEndpoint: false,
    tapClientId: TAP_ID,
    workers: 1,
    ...overrides,
  };
}

export class TestMeshPki {
  readonly pki = new TestPki();
  readonly root: CertAndKey;

  constructor() {
    this.root = this.pki.cert({ subject: '/CN=weft test root', ca: true });
  }

  leaf(identity: string): CertAndKey {
    return this.pki.cert({ subject: `/CN=${identity}`, dns: [identity], issuer: this.root });
  }

  identity(name: string, withCert = true): StaticIdentity {
    return new StaticIdentity(name, this.root.cert, withCert ? this.leaf(name) : undefined);
  }

  dispose(): void {
    this.pki.dispose();
  }
}

export interface Mesh {
  readonly pki: TestMeshPki;
  readonly discovery: StaticDiscovery;
  readonly profiles: StaticProfiles;
  readonly client: Proxy;
  readonly server: Proxy;
  close(): Promise<void>;
}

export interface MeshOptions {
  /** Server proxy: the application port for plaintext connections without an original destination. */
  readonly appPort?: number;
  readonly clientOriginalDst?: OriginalDstLookup;
  readonly clientConfig?: Partial<ProxyConfig>;
  readonly serverConfig?: Partial<ProxyConfig>;
  /** Server proxy: inbound policies (default: the default policy of its config). */
  readonly serverPolicies?: InboundPolicies;
  /** Both proxies' logger (default: silent). */
  readonly log?: Logger;
  /** Both proxies' connection settings (default: DEFAULT_CONNECTIONS; a proxy's own config may still replace them). */
  readonly connections?: Partial<ConnectionSettings>;
}

export async function startMesh(opts: MeshOptions = {}): Promise<Mesh> {
  const pki = new TestMeshPki();
  const discovery = new StaticDiscovery();
  const profiles = new StaticProfiles();
  const log = opts.log ?? createLogger('proxy-test', 'silent');
  const connections: ConnectionSettings = { ...DEFAULT_CONNECTIONS, ...opts.connections };
  const client = await startProxy({
    config: testConfig(CLIENT_ID, { connections, ...opts.clientConfig }),
    identity: pki.identity(CLIENT_ID),
    discovery,
    profiles,
    originalDst: opts.clientOriginalDst ?? null,
    log,
    drainMs: 500,
    headersTimeoutMs: 2000,
  });
  const server = await startProxy({
    config: testConfig(SERVER_ID, { inboundAppPort: opts.appPort, connections, ...opts.serverConfig }),
    identity: pki.identity(SERVER_ID),
    ...(opts.serverPolicies ? { policies: opts.serverPolicies } : {}),
    discovery,
    profiles,
    originalDst: null,
    log,
    drainMs: 500,
    headersTimeoutMs: 2000,
  });
  return {
    pki,
    discovery,
    profiles,
    client,
    server,
    async close() {
      await Promise.all([client.shutdown(), server.shutdown()]);
      pki.dispose();
    },
  };
}

/** Reads a metric value from a Prometheus text exposition: the sum of samples whose labels include all of `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
