/**
 * A script for keep-shapes.test.ts, run as its own process with `--expose-gc --trace-gc --trace-deopt`: 3,000
 * HTTP/1 requests through an in-process mesh (client proxy ══mTLS, weft.mux══▶ server proxy → a backend), then every
 * client connection closed and two full collections as an idle proxy runs them, then `forgetNewest` (keep-shapes.ts)
 * and two more. V8 prints a line per collection (`…: Mark-Compact … testing; …`) and, during one, a line per optimized
 * function it throws away (`[marking dependent code … <SharedFunctionInfo name> … reason: weak objects]`), all on
 * stdout in order; the test reads which functions were thrown away in each pair.
 *
 *   node --expose-gc --trace-gc --trace-deopt dist/testing/shape-probe.js
 */
import http from 'node:http';
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
await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
const appPort = (backend.address() as AddressInfo).port;
const mesh = await startMesh({ appPort });
mesh.discovery.set('web.test.svc:80', [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENT });
const get = () =>
  new Promise<void>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: mesh.client.ports.outbound, path: '/', headers: { host: 'web.test.svc' }, agent }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
  });
let sent = 0;
await Promise.all(
  Array.from({ length: CONCURRENT }, async () => {
    while (sent < REQUESTS) {
      sent += 1;
      await get();
    }
  }),
);

// Quiet: the application's connections close, as when a pod's callers stop.
agent.destroy();
await new Promise((resolve) => setTimeout(resolve, 300));
collect();
collect();
forgetNewest();
collect();
collect();
await mesh.close();
backend.close();
