// DNS rebinding defence: viz's three listeners answer only requests whose Host
// is localhost, an IP address, one of its Service names or a configured extra;
// anything else is 403 before a route runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { StaticTargetSource } from '../targets.js';
import { startViz, type Viz } from '../viz.js';
import { AllowedHosts, hostOf, serviceHostNames, VIZ_SERVICE_NAMES } from './allowed-hosts.js';

test('the host of a Host header is lower-cased without port, brackets or trailing dot', () => {
  assert.equal(hostOf('LocalHost:8084'), 'localhost');
  assert.equal(hostOf('[::1]:8085'), '::1');
  assert.equal(hostOf('weft-web.weft-viz.svc.cluster.local.:8084'), 'weft-web.weft-viz.svc.cluster.local');
  assert.equal(hostOf('10.1.2.3'), '10.1.2.3');
  assert.equal(hostOf('a:b:c'), undefined);
  assert.equal(hostOf('[::1'), undefined);
});

test('localhost, IP addresses, the Service names and the extras are allowed; other names are not', () => {
  const hosts = new AllowedHosts([...serviceHostNames(VIZ_SERVICE_NAMES, 'weft-viz', 'cluster.local'), 'Viz.Example.com']);
  for (const h of ['localhost:8084', '127.0.0.1:8085', '127.3.0.1', '[::1]:8088', '10.244.0.7:8084', '[fd00::7]:8084', 'weft-web.weft-viz.svc:8084', 'weft-tap.weft-viz:8088', 'weft-metrics-api.weft-viz.svc.cluster.local', 'viz.example.com', 'VIZ.EXAMPLE.COM.:443']) {
    assert.ok(hosts.allows(h), h);
  }
  for (const h of [undefined, '', 'evil.example', 'evil.example:8084', 'localhost.evil.example', '127.0.0.1.evil.example', 'weft-web.weft-viz.svc.evil.example', 'weft-web', 'weft-web.other-ns.svc', 'example.com', '0x7f.1', 'localhost:8084@evil.example']) {
    assert.ok(!hosts.allows(h), String(h));
  }
});

test('an extra host that is not a DNS name or IP address is refused', () => {
  assert.throws(() => new AllowedHosts(['http://viz.example.com']), /not a DNS name or IP address/);
  assert.throws(() => new AllowedHosts(['viz.example.com:8084']), /not a DNS name or IP address/);
  assert.throws(() => new AllowedHosts(['*.example.com']), /not a DNS name or IP address/);
});

let viz: Viz;

before(async () => {
  viz = await startViz({
    prometheusUrl: 'http://127.0.0.1:9',
    targets: new StaticTargetSource([]),
    tapTls: { ca: '', cert: '', key: '' },
    api: { host: '127.0.0.1', port: 0 },
    tap: { host: '127.0.0.1', port: 0 },
    web: { host: '127.0.0.1', port: 0 },
    allowedHosts: ['weft-web.weft-viz.svc', 'viz.example.com'],
  });
});

after(() => viz?.close());

// fetch() may not set Host (a forbidden header): a browser after a DNS rebinding sends the attacker's name.
function get(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { host } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

test('every listener refuses a foreign Host with 403 and serves its own names', async () => {
  const urls = [`${viz.apiUrl}/api/v1/proxies`, `${viz.webUrl}/api/v1/proxies`, `${viz.webUrl}/`, `${viz.tapUrl}/api/v1/tap?resource=deploy/web&namespace=shop`];
  for (const url of urls) {
    for (const host of ['evil.example', 'evil.example:8084', 'localhost.evil.example', 'weft-web.weft-viz.svc.evil.example']) {
      const r = await get(url, host);
      assert.equal(r.status, 403, `${url} with Host ${host}`);
      assert.match(r.body, /not a name viz answers to/);
    }
  }
  const port = (u: string) => new URL(u).port;
  for (const host of [`127.0.0.1:${port(viz.apiUrl)}`, `localhost:${port(viz.apiUrl)}`, '10.244.0.7:8085', 'weft-web.weft-viz.svc:8084', 'viz.example.com']) {
    assert.equal((await get(`${viz.apiUrl}/api/v1/proxies`, host)).status, 200, host);
    assert.equal((await get(`${viz.webUrl}/`, host)).status, 200, host);
  }
  // Past the Host check, tap is decided by its own authorization (404: no proxies of deploy/web here).
  assert.equal((await get(`${viz.tapUrl}/api/v1/tap?resource=deploy/web&namespace=shop`, 'localhost')).status, 404);
});

test('a request without a Host header is refused', async () => {
  const { port } = new URL(viz.apiUrl);
  const head = await new Promise<string>((resolve, reject) => {
    let out = '';
    const sock = net.connect(Number(port), '127.0.0.1', () => sock.write('GET /api/v1/proxies HTTP/1.0\r\n\r\n'));
    sock.on('data', (d: Buffer) => (out += d.toString()));
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
  });
  assert.match(head, /^HTTP\/1\.[01] 403 /);
});
