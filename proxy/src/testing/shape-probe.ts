/**
 * A script for keep-shapes.test.ts, run as its own process with V8's traces on stdout (`--expose-gc --trace-deopt`):
 * 3,000 HTTP/1 requests through an in-process mesh (client proxy ══mTLS, weft.mux══▶ server proxy → an HTTP/1
 * backend) and 3,000 HTTP/2 requests (══mTLS, HTTP/2══▶ an HTTP/2 backend), then every connection closed and two full
 * collections, as an idle proxy runs them. With the argument `forget`, `forgetNewest` (keep-shapes.ts) lets the kept
 * instances go before the collections (the test's control). V8 prints a line per optimized function it throws away
 * (`[marking dependent code … <SharedFunctionInfo name> … reason: weak objects]`).
 *
 *   node --expose-gc --trace-deopt --no-concurrent-recompilation --single-threaded-gc dist/testing/shape-probe.js [forget]
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { endpoint } from '../discovery/discovery.js';
import { forgetNewest } from '../keep-shapes.js';
import { SERVER_ID, startMesh } from './mesh.js';

const collect = (globalThis as { gc?: () => void }).gc;
if (collect === undefined) throw new Error('shape-probe needs --expose-gc');

const REQUESTS = 3000;
const CONCURRENT = 4;

const backend = http.createServer((req, res) => {
  req.resume();
  res.end('ok');
});
const h2Backend = http2.createServer((req, res) => {
  req.resume();
  res.end('ok');
});
const listen = async (server: http.Server | http2.Http2Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};
const appPort = await listen(backend);
const h2AppPort = await listen(h2Backend);
const mesh = await startMesh({ appPort });
const peer = { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound };
mesh.discovery.set('web.test.svc:80', [endpoint('127.0.0.1', appPort, peer)]);
mesh.discovery.set('h2.test.svc:80', [endpoint('127.0.0.1', h2AppPort, peer)]);

/** `REQUESTS` calls of `call`, `CONCURRENT` at a time. */
async function load(call: () => Promise<void>): Promise<void> {
  let sent = 0;
  await Promise.all(
    Array.from({ length: CONCURRENT }, async () => {
      while (sent < REQUESTS) {
        sent += 1;
        await call();
      }
    }),
  );
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENT });
await load(
  () =>
    new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: mesh.client.ports.outbound, path: '/', headers: { host: 'web.test.svc' }, agent }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`HTTP/1 status ${res.statusCode}`));
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
    }),
);
const h2Client = http2.connect(`http://127.0.0.1:${mesh.client.ports.outbound}`);
await load(
  () =>
    new Promise<void>((resolve, reject) => {
      const stream = h2Client.request({ ':path': '/', ':authority': 'h2.test.svc' });
      stream.on('response', (headers) => {
        if (headers[':status'] !== 200) reject(new Error(`HTTP/2 status ${headers[':status']}`));
      });
      stream.resume();
      stream.on('end', resolve);
      stream.on('error', reject);
    }),
);

// Everything closes: the application's connections, then both proxies (their connections to each other and to the
// backends) and the backends. Only what keep-shapes.ts holds is left of the load; an idle proxy that stays up also
// holds its pooled connections, whose last exchanges would keep some classes alive here by chance.
agent.destroy();
await new Promise<void>((resolve) => h2Client.close(resolve));
await mesh.close();
await Promise.all([backend, h2Backend].map((server) => new Promise((resolve) => server.close(resolve))));
if (process.argv[2] === 'forget') forgetNewest();
collect();
collect();
