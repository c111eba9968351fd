/**
 * Starts the destination controller in-process: the discovery source, the
 * Destination (8086) and Inbound policy (8090) gRPC servers over mTLS with
 * client certificates required, and optionally the admin server (9996).
 * main.ts, the local demo and the e2e tests all start it through here.
 */
import { startAdminServer, startGrpcServer, type AdminServer, type GrpcServer, type TlsMaterial } from '@weft/common';
import type { Tracing } from '@weft/common/trace/tracing';
import { Registry } from 'prom-client';
import type { Logger } from '@weft/common/log';
import { WatchHub } from './watch-hub.js';
import { createMetrics } from './metrics.js';
import { destinationRoutes, policyRoutes } from './server.js';
import type { DiscoverySource } from './sources/source.js';
import { DEFAULT_SETTINGS, type MeshSettings } from './settings.js';

export interface DestinationOptions {
  readonly source: DiscoverySource;
  readonly tls: TlsMaterial;
  readonly log: Logger;
  readonly settings?: Partial<MeshSettings>;
  /** Listen host (default 127.0.0.1). */
  readonly host?: string;
  /** 0 picks a free port (tests). Defaults 8086 / 8090. */
  readonly destinationPort?: number;
  readonly policyPort?: number;
  /** Admin server port; omit for no admin server. */
  readonly adminPort?: number;
  /** Traces the gRPC calls (docs/tracing.md); its span counters are served with destination's metrics. */
  readonly tracing?: Tracing;
}

export interface DestinationController {
  readonly discovery: WatchHub;
  readonly destinationPort: number;
  readonly policyPort: number;
  readonly adminPort: number | undefined;
  /** Replaces the served certificate (rotation) without dropping streams. */
  setTls(tls: TlsMaterial): void;
  close(): Promise<void>;
}

export async function startDestination(opts: DestinationOptions): Promise<DestinationController> {
  const settings: MeshSettings = { ...DEFAULT_SETTINGS, ...opts.settings };
  const host = opts.host ?? '127.0.0.1';
  const discovery = new WatchHub(settings, opts.log);
  const metrics = createMetrics(discovery.cache);
  let notReady: string | undefined = `syncing ${opts.source.name}`;
  let admin: AdminServer | undefined;
  const servers: GrpcServer[] = [];
  let stopRouteStatus: (() => Promise<void>) | undefined;
  const close = async (): Promise<void> => {
    await stopRouteStatus?.();
    await Promise.all(servers.map((s) => s.close()));
    await opts.source.stop();
    discovery.close();
    await admin?.close();
  };
  try {
    if (opts.adminPort !== undefined) {
      admin = await startAdminServer({ host, port: opts.adminPort, registry: opts.tracing ? Registry.merge([metrics.registry, opts.tracing.registry]) : metrics.registry, notReadyReason: () => notReady });
    }
    await opts.source.start(discovery.cache);
    stopRouteStatus = opts.source.publishRouteStatus?.(discovery.cache, settings, opts.log);
    servers.push(
      await startGrpcServer({ host, port: opts.destinationPort ?? 8086, tls: opts.tls, requireClientCert: true, routes: destinationRoutes(discovery, metrics, opts.log), tracer: opts.tracing?.tracer }),
      await startGrpcServer({ host, port: opts.policyPort ?? 8090, tls: opts.tls, requireClientCert: true, routes: policyRoutes(discovery, metrics, opts.log), tracer: opts.tracing?.tracer }),
    );
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  notReady = undefined;
  opts.log.info({ source: opts.source.name, destinationPort: servers[0]!.port, policyPort: servers[1]!.port }, 'destination serving');
  return {
    discovery,
    destinationPort: servers[0]!.port,
    policyPort: servers[1]!.port,
    adminPort: admin?.port,
    setTls: (tls) => servers.forEach((s) => s.setTls(tls)),
    close,
  };
}
