/**
 * Real weft proxies for viz tests: the proxy's own in-process test mesh
 * (a client and a server proxy with real mTLS between them, in-memory
 * discovery) in front of a small app, a real Prometheus scraping both admin
 * servers, and viz over them. `client` is deployment `client`, `server` is
 * deployment `server`, both in namespace `test`; requests go through the
 * client proxy's outbound listener to `books.test.svc:80`.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { startMesh, CLIENT_ID, SERVER_ID, TAP_ID, type Mesh } from '@weft/proxy/testing/mesh';
import { endpoint } from '@weft/proxy';
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import { renderScrapeConfig } from '../metrics/scrape-config.js';
import { StaticTargetSource, type ProxyTarget } from '../targets.js';
import { startViz, type Viz } from '../viz.js';
import { startPrometheus, type TestPrometheus } from './prometheus.js';

export { CLIENT_ID, SERVER_ID };
export const AUTHORITY = 'books.test.svc:80';

export interface RealProxyMesh {
  readonly mesh: Mesh;
  readonly prometheus: TestPrometheus;
  readonly viz: Viz;
  /** The app's own port (for unmeshed destinations). */
  readonly appPort: number;
  /** One request through the client proxy (to `authority`, default books.test.svc:80); resolves with the status. */
  send(path: string, authority?: string): Promise<number>;
  close(): Promise<void>;
}

export interface RealProxyMeshOptions {
  /** How long the app takes to answer (default 120 ms). */
  readonly appDelayMs?: number;
  /**
   * A service profile for books.test.svc with routes `fail` (prefix
   * /books/fail, retryable: the client proxy retries its 500s within a
   * budget) and `books` (the rest of /books/), so route and retry series
   * exist. Off by default: retries change the request counts tests pin.
   */
  readonly routes?: boolean;
}

export async function startRealProxyMesh(opts: RealProxyMeshOptions = {}): Promise<RealProxyMesh> {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    // The app behind the server proxy; /books/fail answers 500.
    const app = http.createServer((req, res) => {
      req.resume();
      setTimeout(() => res.writeHead(req.url?.startsWith('/books/fail') ? 500 : 200, { 'content-type': 'text/plain' }).end('books\n'), opts.appDelayMs ?? 120);
    });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    cleanups.push(() => {
      app.closeAllConnections();
      app.close();
    });
    const appPort = (app.address() as AddressInfo).port;
    const mesh = await startMesh({ appPort });
    cleanups.push(() => mesh.close());
    if (opts.routes) {
      const prefix = (value: string) => [{ method: 'GET', path: { kind: { case: 'prefix' as const, value } } }];
      mesh.profiles.set(
        AUTHORITY,
        create(destination.DestinationProfileSchema, {
          routes: [
            { name: 'fail', matches: prefix('/books/fail'), isRetryable: true },
            { name: 'books', matches: prefix('/books/') },
          ],
          retryBudget: { retryRatio: 0.5, minRetriesPerSecond: 1, ttl: { seconds: 10n, nanos: 0 } },
        }),
      );
    }
    mesh.discovery.set(AUTHORITY, [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound, labels: { namespace: 'test', deployment: 'server', pod: 'server-pod', service: 'books' } })]);
    const target = (p: Mesh['client'], pod: string, deployment: string, identity: string, tapPort: number): ProxyTarget => ({
      name: pod, namespace: 'test', workload: { kind: 'deployment', name: deployment }, adminAddr: `127.0.0.1:${p.ports.admin}`, tapAddr: `127.0.0.1:${tapPort}`, identity,
    });
    const targets = [target(mesh.client, 'client-pod', 'client', CLIENT_ID, await mesh.client.tapPort), target(mesh.server, 'server-pod', 'server', SERVER_ID, await mesh.server.tapPort)];
    const prometheus = await startPrometheus(renderScrapeConfig(targets, { scrapeInterval: '1s' }), targets.length);
    cleanups.push(() => prometheus.stop());
    const vizCert = mesh.pki.leaf(TAP_ID);
    const viz = await startViz({
      prometheusUrl: prometheus.url,
      targets: new StaticTargetSource(targets),
      tapTls: { ca: mesh.pki.root.cert, cert: vizCert.cert, key: vizCert.key },
      api: { host: '127.0.0.1', port: 0 },
      tap: { host: '127.0.0.1', port: 0 },
      web: { host: '127.0.0.1', port: 0 },
    });
    cleanups.push(() => viz.close());
    const send = (path: string, authority = AUTHORITY) =>
      new Promise<number>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: mesh.client.ports.outbound, path, headers: { host: authority }, agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject);
      });
    return { mesh, prometheus, viz, appPort, send, close };
  } catch (err) {
    await close();
    throw err;
  }
}
