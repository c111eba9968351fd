/**
 * Starts a weft proxy: the outbound (4140), inbound (4143), admin (4191)
 * and tap (4190) listeners around the two stacks. Everything environment-
 * or platform-specific is injectable so tests, the demo and the netns test
 * can run it in-process: the pod identity (default: Certify against
 * identity), discovery (default: destination Get streams), the original-
 * destination lookup (default: the SO_ORIGINAL_DST addon when it is built)
 * and the balancer (default: P2C peak-EWMA).
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { createLogger, type Logger } from '@weft/common/log';
import { createRegistry } from '@weft/common/metrics';
import { startAdminServer, type AdminServer } from '@weft/common/admin';
import { createGrpcClient, type GrpcServer } from '@weft/common/grpc';
import { setUserTimeout } from './native/tcp-user-timeout.js';
import { destination } from '@weft/api';
import type { NewEndpointBalancer, SocketAddr } from './svc.js';
import type { ProxyConfig } from './config.js';
import { type LocalIdentity, CertifyingIdentity, type TlsCredentials } from './identity/local-identity.js';
import type { Discovery } from './discovery/discovery.js';
import { DestinationDiscovery, type DestinationClient } from './discovery/destination-client.js';
import { DestinationProfiles, type Profiles } from './discovery/profiles.js';
import { ProxyMetrics } from './metrics/proxy-metrics.js';
import { TapHub } from './tap/tap-hub.js';
import { startTapServer } from './tap/tap-server.js';
import { H2Pool } from './http/h2-client.js';
import { Http1Client } from './http/h1-client.js';
import { MuxPool } from './transport/mux.js';
import type { ConnectionSettings } from './transport/connections.js';
import { outboundStack } from './outbound/stack.js';
import { inboundStack } from './inbound/stack.js';
import { WatchedPolicies, type InboundPolicies } from './policy/policies.js';
import { policyClientFactory } from './policy/policy-client.js';
import { defaultPolicy } from './policy/server-policy.js';
import { P2cEndpointBalancer } from './outbound/p2c.js';
import { ProxyPorts } from './inbound/app-target.js';
import { isLoopback } from './transport/loopback.js';
import { Tracer } from './trace/tracer.js';
import { OtlpHttpExporter } from './trace/exporter.js';
import { h1Collector } from './trace/collector.js';
import { loadNativeAddon } from './native/addon.js';
import { startWorkerThreads, type WorkerThreads } from './workers/primary.js';

/** Where a redirected connection was going; undefined when it was not redirected. */
export type OriginalDstLookup = (socket: net.Socket) => SocketAddr | undefined;

export interface ProxyOptions {
  readonly config: ProxyConfig;
  /** The pod identity; default: a key + CSR certified by the identity service, renewed at 70 %. */
  readonly identity?: LocalIdentity;
  /** Default: destination `Get` streams over mTLS. */
  readonly discovery?: Discovery;
  /** Default: destination `GetProfile` streams over mTLS. */
  readonly profiles?: Profiles;
  /** Default: destination's policy `Watch` per inbound port over mTLS, with the default inbound policy as fallback. */
  readonly policies?: InboundPolicies;
  /** Default: the SO_ORIGINAL_DST addon (proxy/native) when built; `null` forces explicit mode (no lookup). */
  readonly originalDst?: OriginalDstLookup | null;
  readonly newBalancer?: NewEndpointBalancer;
  readonly log?: Logger;
  /** Shutdown grace for in-flight requests (default 10 s). */
  readonly drainMs?: number;
  /** Time allowed to receive a request's headers (or an HTTP/2 session's first request); default 10 s. */
  readonly headersTimeoutMs?: number;
  /** Default: a hub of this proxy's own. */
  readonly tap?: TapHub;
  /**
   * The module worker threads run when `config.workers` > 1: the proxy's main (main.ts). Default: dist/main.js next
   * to this module; a bundle passes its own file.
   */
  readonly workerEntry?: URL;
  /**
   * Set in a worker thread (workers/worker.ts): listen on these ports beside the main thread's listeners
   * (SO_REUSEPORT), and serve no admin or tap port (the main thread does).
   */
  readonly worker?: { readonly ports: { readonly outbound: number; readonly inbound: number } };
}

export interface Proxy {
  readonly ports: { readonly outbound: number; readonly inbound: number; readonly admin: number };
  /** The tap port, once the proxy holds a certificate (the tap API is mTLS only). */
  readonly tapPort: Promise<number>;
  readonly identity: LocalIdentity;
  readonly registry: Registry;
  /** The worker threads when `config.workers` > 1 (the main thread serves requests too). */
  readonly workers: WorkerThreads | undefined;
  /** Why the proxy is not ready, or undefined when it is (it holds a certificate). */
  notReadyReason(): string | undefined;
  /** Stops accepting, lets in-flight requests finish (up to the drain time), then closes everything. */
  shutdown(): Promise<void>;
  /** Resolves once a shutdown (SIGTERM, POST /shutdown or `shutdown()`) completed. */
  readonly closed: Promise<void>;
}

const MAX_HEADER_SIZE = 64 * 1024;

export async function startProxy(opts: ProxyOptions): Promise<Proxy> {
  const c = opts.config;
  const log = opts.log ?? createLogger('proxy', c.logLevel);
  const registry = createRegistry('proxy', 'scrape');
  const own: Record<string, string> = { component: 'proxy', namespace: c.pod.namespace, pod: c.pod.name };
  if (c.pod.workloadKind && c.pod.workloadName) own[c.pod.workloadKind] = c.pod.workloadName;
  registry.setDefaultLabels(own);
  const metrics = new ProxyMetrics(registry);

  const identity =
    opts.identity ??
    new CertifyingIdentity(
      c.identity.localName,
      c.identity.trustAnchors,
      // Loaded only when certifying (a proxy given its certificate, as in tests and benches, never loads the client).
      () => import('./identity/certify.js').then((m) => m.certifyWithIdentityService(c.identity)),
      log,
    );
  const destinationClient = destinationClientFactory(c, identity);
  const discovery = opts.discovery ?? new DestinationDiscovery(destinationClient, c.destination.contextToken, log);
  const profiles = opts.profiles ?? new DestinationProfiles(destinationClient, c.destination.contextToken, log);
  const policies =
    opts.policies ??
    new WatchedPolicies(
      policyClientFactory(c.policySvcAddr, c.destination.svcName, identity),
      `${c.pod.namespace}:${c.pod.name}`,
      c.inboundPorts,
      defaultPolicy(c.defaultInboundPolicy, c.identity.localName),
      log,
    );
  const lookup = opts.originalDst === null ? undefined : (opts.originalDst ?? (await nativeOriginalDst(log)));
  // Threads serving requests: with more than one, each thread's tap hub hands out every `threads`-th stream id.
  const threads = opts.worker ? 0 : c.workers;
  const tap = opts.tap ?? new TapHub(0, Math.max(1, threads));
  const connections = c.connections;
  const h1 = new Http1Client(connections);
  const h2 = new H2Pool({ connections });
  const mux = new MuxPool({ pingMs: connections.peerPingMs });
  const opaquePorts = new Set(c.opaquePorts);
  const localMeta = { ...own };
  delete localMeta.component;
  const spans = c.tracing
    ? new OtlpHttpExporter({ url: c.tracing.collectorUrl, resource: c.tracing.resource, maxQueue: c.tracing.maxQueue, maxBatch: 512, flushIntervalMs: c.tracing.flushIntervalMs, timeoutMs: 10_000, registry, log, client: h1Collector(c.tracing.collectorUrl) })
    : undefined;
  const tracer = c.tracing && spans ? new Tracer(c.tracing.sampleRate, spans) : undefined;

  const outbound = outboundStack({
    log, identity, discovery, profiles, metrics, tap, h1, h2, mux, connections, localMeta, opaquePorts, tracer,
    newBalancer: opts.newBalancer ?? (() => new P2cEndpointBalancer()),
    detectTimeoutMs: c.detectTimeoutMs,
    meshHttp1: c.meshHttp1,
    headersTimeoutMs: opts.headersTimeoutMs ?? 10_000,
    maxHeaderSize: MAX_HEADER_SIZE,
  });
  const proxyPorts = new ProxyPorts([c.outbound.port, c.inbound.port, c.admin.port, c.tap.port]);
  const inbound = inboundStack({
    log, identity, metrics, tap, h1, h2, localMeta, opaquePorts, policies, profiles, proxyPorts, tracer,
    appHost: c.appHost,
    defaultAppPort: c.inboundAppPort,
    detectTimeoutMs: c.detectTimeoutMs,
    headersTimeoutMs: opts.headersTimeoutMs ?? 10_000,
    maxHeaderSize: MAX_HEADER_SIZE,
  });

  // More than one thread: every thread listens on its own socket for the same ports (SO_REUSEPORT) and the kernel
  // spreads the connections; a worker binds the ports the main thread got (they may have been 0).
  const reusePort = opts.worker !== undefined || threads > 1;
  const outboundListener = await listen(c.outbound.host, opts.worker?.ports.outbound ?? c.outbound.port, undefined, reusePort, (socket, port) => outbound.accept(socket, originalDstOf(socket, port, lookup, log)));
  const inboundListener = await listen(c.inbound.host, opts.worker?.ports.inbound ?? c.inbound.port, connections, reusePort, (socket, port) => inbound.accept(socket, originalDstOf(socket, port, lookup, log)));
  proxyPorts.add(outboundListener.port);
  proxyPorts.add(inboundListener.port);
  const drainMs = opts.drainMs ?? 10_000;
  /** Stops the request path: no new connection, in-flight work (and `also`) given up to the drain time, then the clients. */
  const stopServing = async (also?: Promise<void>): Promise<void> => {
    outbound.server.drain();
    inbound.server.drain();
    await Promise.all([outboundListener.close(drainMs), inboundListener.close(drainMs), also]);
    outbound.server.destroy();
    inbound.server.destroy();
    h1.close();
    h2.close();
    mux.close();
  };

  if (opts.worker) return workerProxy();
  const workers =
    threads > 1
      ? startWorkerThreads({
          entry: opts.workerEntry ?? new URL('./main.js', import.meta.url),
          count: threads - 1,
          config: c,
          ports: { outbound: outboundListener.port, inbound: inboundListener.port },
          identity, discovery, profiles, policies, tap, log, drainMs,
          headersTimeoutMs: opts.headersTimeoutMs,
        })
      : undefined;

  let shuttingDown: Promise<void> | undefined;
  const notReadyReason = (): string | undefined => {
    const creds = identity.current();
    if (!creds) return `no certificate yet for ${identity.name}`;
    // Peers refuse an expired certificate: serving with it would fail every meshed request.
    if (creds.expiresAt.getTime() <= Date.now()) return `the certificate for ${identity.name} expired at ${creds.expiresAt.toISOString()}`;
    return workers?.notReadyReason();
  };
  const admin: AdminServer = await startAdminServer({
    host: c.admin.host,
    port: c.admin.port,
    registry,
    notReadyReason,
    ...(workers ? { metrics: () => workers.metrics(registry) } : {}),
    routes: {
      '/shutdown': (req, res) => {
        // The admin port is open to the node (probes) and, without a policy, to other pods: only the pod itself may stop its proxy.
        if (!c.shutdownEndpoint || !isLoopback(req.socket.remoteAddress)) {
          res.writeHead(403).end(c.shutdownEndpoint ? 'shutdown is for loopback callers only\n' : 'shutdown endpoint disabled (WEFT_PROXY_SHUTDOWN_ENDPOINT_ENABLED)\n');
          return;
        }
        if (req.method !== 'POST') {
          res.writeHead(405, { allow: 'POST' }).end('use POST /shutdown\n');
          return;
        }
        res.writeHead(202).end('shutting down\n');
        void proxy.shutdown();
      },
    },
  });

  proxyPorts.add(admin.port);

  let tapServer: GrpcServer | undefined;
  const tapPort = new Promise<number>((resolve, reject) => {
    const clientId = c.tapClientId;
    if (clientId === undefined) {
      reject(new Error('tap is off: WEFT_PROXY_TAP_CLIENT_ID names no tap client identity'));
      return;
    }
    const start = (creds: TlsCredentials): void => {
      if (tapServer) {
        tapServer.setTls({ ca: identity.trustAnchors, cert: creds.cert, key: creds.key });
        return;
      }
      if (shuttingDown) return;
      startTapServer(tap, c.tap.host, c.tap.port, creds, identity.trustAnchors, clientId).then((s) => {
        tapServer = s;
        proxyPorts.add(s.port);
        resolve(s.port);
      }, reject);
    };
    const now = identity.current();
    if (now) start(now);
    identity.onChange(start);
  });
  tapPort.catch((err: unknown) => (c.tapClientId === undefined ? log.info((err as Error).message) : log.error({ err }, 'tap server failed to start')));

  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const proxy: Proxy = {
    ports: { outbound: outboundListener.port, inbound: inboundListener.port, admin: admin.port },
    tapPort,
    closed,
    identity,
    registry,
    workers,
    notReadyReason,
    shutdown() {
      return (shuttingDown ??= (async () => {
        log.info({ drainMs }, 'draining');
        await stopServing(workers?.shutdown(drainMs));
        discovery.close();
        profiles.close();
        policies.close();
        identity.close();
        await tapServer?.close();
        await spans?.close();
        await admin.close();
        markClosed();
      })());
    },
  };
  log.info({ outbound: proxy.ports.outbound, inbound: proxy.ports.inbound, admin: proxy.ports.admin, identity: identity.name, originalDst: lookup !== undefined, threads: Math.max(1, threads) }, 'proxy listening');
  return proxy;

  /** A worker thread's proxy: the two stacks on their listeners; the main thread holds the rest. */
  function workerProxy(): Proxy {
    let stopping: Promise<void> | undefined;
    let markStopped: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (markStopped = resolve));
    const tapPort = Promise.reject(new Error('tap is served by the main thread'));
    tapPort.catch(() => undefined);
    log.info({ outbound: outboundListener.port, inbound: inboundListener.port, identity: identity.name, originalDst: lookup !== undefined }, 'proxy listening');
    return {
      ports: { outbound: outboundListener.port, inbound: inboundListener.port, admin: 0 },
      tapPort,
      identity,
      registry,
      workers: undefined,
      notReadyReason: () => (identity.current() ? undefined : `no certificate yet for ${identity.name}`),
      closed: stopped,
      shutdown() {
        return (stopping ??= (async () => {
          await stopServing();
          await spans?.close();
          markStopped();
        })());
      },
    };
  }
}

interface Listener {
  readonly port: number;
  /** Stops accepting; waits for open connections up to `graceMs`, then destroys the rest. */
  close(graceMs: number): Promise<void>;
}

/**
 * `remote`: connections come from other hosts (the inbound's peers), not from the pod itself. TCP keepalive and the
 * user timeout (transport/connections.ts) then close one whose peer's node went away without closing it, idle or
 * with bytes in flight, so an opaque stream, a response or a session to a vanished caller is not held for good.
 */
async function listen(host: string, port: number, remote: ConnectionSettings | undefined, reusePort: boolean, onSocket: (socket: net.Socket, port: number) => void): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  // allowHalfOpen: an opaque client's FIN must not close the direction still flowing towards it.
  const options: net.ServerOpts = { allowHalfOpen: true, noDelay: true, ...(remote ? { keepAlive: true, keepAliveInitialDelay: remote.keepAliveMs } : {}) };
  const server = net.createServer(options, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (remote) setUserTimeout(socket, remote.userTimeoutMs);
    // A reset or garbage on one connection is that connection's problem only.
    socket.on('error', () => undefined);
    onSocket(socket, bound);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (reusePort) server.listen({ fd: loadNativeAddon().listenReusePort(host, port, 511) }, () => resolve());
    else server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

/** The original destination, ignoring connections that were not redirected (they report our own listener). */
function originalDstOf(socket: net.Socket, listenPort: number, lookup: OriginalDstLookup | undefined, log: Logger): SocketAddr | undefined {
  if (!lookup) return undefined;
  try {
    const dst = lookup(socket);
    if (!dst || dst.port === listenPort) return undefined;
    return dst;
  } catch (err) {
    log.warn({ err }, 'SO_ORIGINAL_DST lookup failed');
    return undefined;
  }
}

async function nativeOriginalDst(log: Logger): Promise<OriginalDstLookup | undefined> {
  try {
    const native = await import('./native/original-dst.js');
    const problem = native.nativeAddonProblem();
    if (problem) {
      log.error(
        { err: problem.message },
        'SO_ORIGINAL_DST unavailable: outbound HTTP is routed by Host/:authority; outbound opaque TCP without an original destination is refused',
      );
      return undefined;
    }
    return (socket) => {
      const d = native.originalDst(socket);
      return d ? { ip: d.address.startsWith('::ffff:') ? d.address.slice(7) : d.address, port: d.port } : undefined;
    };
  } catch (err) {
    log.error({ err }, 'SO_ORIGINAL_DST module missing: explicit mode only');
    return undefined;
  }
}

/** Destination clients present the pod certificate; the client is rebuilt when the certificate is renewed. */
function destinationClientFactory(c: ProxyConfig, identity: LocalIdentity): () => DestinationClient {
  let client: DestinationClient | undefined;
  let clientCreds: TlsCredentials | undefined;
  return (): DestinationClient => {
    const creds = identity.current();
    if (!creds) throw new Error('no certificate yet for the destination client');
    if (!client || clientCreds !== creds) {
      client = createGrpcClient(destination.Destination, {
        baseUrl: `https://${c.destination.svcAddr}`,
        ca: identity.trustAnchors,
        cert: creds.cert,
        key: creds.key,
        serverName: c.destination.svcName,
      });
      clientCreds = creds;
    }
    return client;
  };
}
