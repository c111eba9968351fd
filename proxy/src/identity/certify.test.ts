// The production identity path against the real identity service: the proxy
// generates its key and CSR, calls Certify with its token, is not ready until
// it holds the certificate, and then speaks mTLS with it to a peer proxy.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { TestPki } from '@weft/common/testing/pki';
import { createLogger } from '@weft/common/log';
import { createRegistry } from '@weft/common/metrics';
import { startIdentityService } from '@weft/identity/identity-service';
import { MemorySource } from '@weft/identity/sources';
import { FakeTokenValidator } from '@weft/identity/testing/fake-token-validator';
import { startProxy, type Proxy } from '../proxy.js';
import { StaticDiscovery, endpoint } from '../discovery/discovery.js';
import { testConfig } from '../testing/mesh.js';

const pki = new TestPki();
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
  pki.dispose();
});

const WEB = 'web.demo.serviceaccount.identity.weft.cluster.local';
const API = 'api.demo.serviceaccount.identity.weft.cluster.local';

async function waitReady(proxy: Proxy): Promise<void> {
  // Polls the real condition; the bound is only a safety net.
  for (let i = 0; i < 600; i++) {
    if ((await fetch(`http://127.0.0.1:${proxy.ports.admin}/ready`)).status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('proxy never became ready');
}

test('proxies certified by the identity service become ready and carry the caller identity over mTLS', { timeout: 60_000 }, async () => {
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
  const issuer = pki.cert({ subject: '/CN=issuer', ca: true, issuer: anchor });
  const validator = new FakeTokenValidator();
  const identity = await startIdentityService({
    host: '127.0.0.1',
    port: 0,
    trustDomain: 'cluster.local',
    controlNamespace: 'weft',
    validator,
    issuerSource: new MemorySource({ certPem: issuer.cert, keyPem: issuer.key }),
    trustSource: new MemorySource(anchor.cert),
    log: createLogger('identity-test', 'silent'),
    registry: createRegistry('identity-test'),
  });
  closers.push(() => identity.close());

  const app = http.createServer((req, res) => res.end(String(req.headers['weft-client-id'])));
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  closers.push(async () => void app.close());
  const appPort = (app.address() as AddressInfo).port;

  const discovery = new StaticDiscovery();
  const start = async (name: string, sa: string): Promise<Proxy> => {
    const tokenFile = pki.file(`${sa}.token`, validator.issue('demo', sa));
    const config = testConfig(name, {
      identity: { localName: name, trustAnchors: anchor.cert, tokenFile, svcAddr: `127.0.0.1:${identity.port}`, svcName: identity.serverName },
    });
    const proxy = await startProxy({ config, discovery, originalDst: null, log: createLogger('proxy-test', 'silent'), drainMs: 200 });
    closers.push(() => proxy.shutdown());
    return proxy;
  };
  const web = await start(WEB, 'web');
  const api = await start(API, 'api');
  await waitReady(web);
  await waitReady(api);
  assert.equal(web.notReadyReason(), undefined);

  discovery.set('api.demo.svc:80', [endpoint('127.0.0.1', appPort, { identity: API, inboundPort: api.ports.inbound })]);
  const body = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: web.ports.outbound, path: '/', agent: false, headers: { host: 'api.demo.svc' } }, (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () => resolve(b));
      })
      .on('error', reject);
  });
  assert.equal(body, WEB);
});
