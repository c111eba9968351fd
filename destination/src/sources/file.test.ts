// The local file source: the demo's description becomes services, endpoints,
// identities, profiles and policies; edits stream as diffs; a broken edit
// keeps the last good state; every mistake is named by its path.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { destination, policy } from '@weft/api';
import { WatchHub } from '../watch-hub.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { FileSource } from './file.js';
import { parseDiscoveryFile } from './file-format.js';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'weft-dst-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const demo = (webPort2: number) => `
namespaces:
  - name: demo
    defaultInboundPolicy: all-authenticated
services:
  - name: web
    namespace: demo
    ports: [{ name: http, port: 80, targetPort: 8080 }]
    endpoints:
      - { ip: 127.0.0.1, port: 18080, pod: web-1, serviceAccount: web, meshed: true, proxyInboundPort: 14143, workload: { kind: deployment, name: web }, labels: { app: web } }
      - { ip: 127.0.0.1, port: ${webPort2}, pod: web-2, serviceAccount: web, meshed: true, proxyInboundPort: 14144 }
    profile:
      routes: [{ name: books, matches: [{ path: { prefix: /books } }], isRetryable: true }]
  - name: db
    namespace: demo
    opaquePorts: [5432]
    ports: [{ port: 5432 }]
    endpoints: [{ ip: 127.0.0.2 }]
policies:
  - kind: Server
    name: web-http
    namespace: demo
    spec: { podSelector: { matchLabels: { app: web } }, port: 18080, proxyProtocol: HTTP/1 }
`;

async function until<T>(what: string, check: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('the demo file serves endpoints with identities and per-endpoint ports, profiles and policies; edits stream as diffs', async (t) => {
  const path = join(dir, 'mesh.yaml');
  writeFileSync(path, demo(18081));
  const d = new WatchHub(DEFAULT_SETTINGS, log);
  const source = new FileSource(path, log, 'cluster.local', 10);
  await source.start(d.cache);
  t.after(() => source.stop());

  const updates: destination.Update[] = [];
  d.watchEndpoints('web.demo.svc.cluster.local:80', (u) => updates.push(u));
  const set = updates[0]!.update.value as destination.WeightedAddrSet;
  assert.deepEqual(set.addrs.map((a) => `${a.addr!.ip}:${a.addr!.port}:${a.protocolHint?.inboundPort}`).sort(), ['127.0.0.1:18080:14143', '127.0.0.1:18081:14144']);
  const web1 = set.addrs.find((a) => a.addr!.port === 18080)!;
  assert.equal(web1.tlsIdentity?.dnsName, 'web.demo.serviceaccount.identity.weft.cluster.local');
  assert.equal(web1.metricLabels.deployment, 'web');

  const profiles: destination.DestinationProfile[] = [];
  d.watchProfile('web.demo.svc.cluster.local:80', (p) => profiles.push(p));
  assert.deepEqual(profiles[0]!.routes.map((r) => r.name), ['books']);
  const db: destination.DestinationProfile[] = [];
  d.watchProfile('db.demo.svc.cluster.local:5432', (p) => db.push(p));
  assert.equal(db[0]!.opaqueProtocol, true);

  const servers: policy.Server[] = [];
  d.watchPolicy('demo:web-1', 18080, (s) => servers.push(s));
  assert.equal(servers[0]!.labels.name, 'web-http');
  const other: policy.Server[] = [];
  d.watchPolicy('demo:web-2', 18081, (s) => other.push(s));
  assert.equal(other[0]!.labels.name, 'all-authenticated', 'namespace default from the file');

  // An editor-style replace (write elsewhere, rename over) moving web-2 to another port.
  writeFileSync(join(dir, 'mesh.tmp'), demo(18082));
  renameSync(join(dir, 'mesh.tmp'), path);
  await until('the port change to stream', () => (updates.length >= 3 ? true : undefined));
  assert.deepEqual(updates.slice(1).map((u) => u.update.case).sort(), ['add', 'remove']);
  const removed = updates.find((u) => u.update.case === 'remove')!.update.value as destination.AddrSet;
  assert.deepEqual(removed.addrs.map((a) => a.port), [18081]);
  assert.equal(profiles.length, 1, 'the unchanged profile is not re-sent');

  // A broken edit is reported and the previous state stays.
  writeFileSync(path, 'services: [ { name: web, ports: [ { port: nope } ] } ]');
  await until('the broken edit to be noticed', () => source.lastError);
  assert.match(source.lastError!, /services\[0\]\.ports\[0\]\.port: must be a port/);
  assert.equal(updates.length, 3);
  assert.equal(d.cache.service('demo', 'web')?.spec?.ports?.[0]?.port, 80);
});

test('file mistakes are reported together, each with its path', () => {
  const text = `
services:
  - name: Web_1
    ports: []
    endpoints: [{ port: 99999 }]
  - name: ok
    ports: [{ port: 80, targetPort: http }]
    endpoints: [{ ip: 10.0.0.1 }]
policies:
  - { kind: Gateway, name: x, spec: {} }
namespaces:
  - { name: demo, defaultInboundPolicy: allow-all }
extra: 1
`;
  assert.throws(
    () => parseDiscoveryFile(text, 'mesh.yaml'),
    (err: Error) => {
      for (const m of [
        'services[0].name: must be a DNS label',
        'services[0].ports: at least one port is required',
        'services[0].endpoints[0].ip: is required',
        'services[0].endpoints[0].port',
        'services[1].endpoints[0].ports: service port 80 has a named targetPort',
        'policies[0].kind: must be one of',
        'namespaces[0].defaultInboundPolicy: must be one of',
        'extra: unknown key',
      ]) {
        assert.ok(err.message.includes(m), `missing "${m}" in:\n${err.message}`);
      }
      return err.message.startsWith('mesh.yaml:');
    },
  );
  assert.throws(() => parseDiscoveryFile('services: [', 'x.yaml'), /x\.yaml: not valid YAML/);
  assert.throws(() => parseDiscoveryFile('- a', 'x.yaml'), /top level must be a map/);
});

test('a missing or invalid file at start fails start() with the reason', async () => {
  const d = new WatchHub(DEFAULT_SETTINGS, log);
  await assert.rejects(new FileSource(join(dir, 'absent.yaml'), log).start(d.cache), /ENOENT/);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'services: 3');
  await assert.rejects(new FileSource(bad, log).start(d.cache), /services: must be a list/);
});
