// Round-trips every weft API over a real local mTLS HTTP/2 connection with
// the standard gRPC wire protocol: the server sees the client's certificate,
// messages survive encoding, server streams deliver in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { startGrpcServer, createGrpcClient, peerCertificate, subjectAltNames, type GrpcServer } from '@weft/common';
import { TestPki, type CertAndKey } from '@weft/common/testing/pki';
import { identity, destination, policy, tap, net } from './index.js';

const pki = new TestPki();
let anchor: CertAndKey;
let serverCert: CertAndKey;
let clientCert: CertAndKey;
let server: GrpcServer;
const seenClients: string[] = [];

before(async () => {
  anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
  serverCert = pki.cert({ subject: '/CN=control', issuer: anchor, dns: ['control.weft.serviceaccount.identity.weft.cluster.local'] });
  clientCert = pki.cert({ subject: '/CN=web', issuer: anchor, dns: ['web.demo.serviceaccount.identity.weft.cluster.local'] });
  server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    tls: { ca: anchor.cert, cert: serverCert.cert, key: serverCert.key },
    requireClientCert: true,
    routes(router) {
      router.service(identity.Identity, {
        certify(req, ctx) {
          const peer = peerCertificate(ctx);
          seenClients.push(peer ? subjectAltNames(peer).dns[0]! : 'none');
          if (req.certificateSigningRequest.length === 0) throw new ConnectError('empty CSR', Code.InvalidArgument);
          return {
            leafCertificate: req.certificateSigningRequest,
            intermediateCertificates: [new Uint8Array([1, 2, 3])],
            validUntil: timestampFromDate(new Date('2030-01-01T00:00:00Z')),
          };
        },
      });
      router.service(destination.Destination, {
        async *get(req) {
          yield create(destination.UpdateSchema, {
            update: {
              case: 'add',
              value: {
                addrs: [{ addr: { ip: '10.0.0.7', port: 8080 }, weight: 10, tlsIdentity: { dnsName: 'web.demo.serviceaccount.identity.weft.cluster.local' }, metricLabels: { pod: 'web-1' } }],
                metricLabels: { service: req.path },
              },
            },
          });
          yield create(destination.UpdateSchema, { update: { case: 'remove', value: { addrs: [{ ip: '10.0.0.7', port: 8080 }] } } });
          yield create(destination.UpdateSchema, { update: { case: 'noEndpoints', value: { exists: true } } });
        },
        async *getProfile(req) {
          yield create(destination.DestinationProfileSchema, {
            fullyQualifiedName: req.path,
            routes: [{ name: 'GET /books', isRetryable: true, matches: [{ method: 'GET', path: { kind: { case: 'prefix', value: '/books' } } }], timeout: { seconds: 1n } }],
            retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttl: { seconds: 10n } },
            dstOverrides: [{ authority: 'web-v2.demo.svc.cluster.local:80', weight: 100 }],
          });
        },
      });
      router.service(policy.Inbound, {
        async *watch(req) {
          yield create(policy.ServerSchema, {
            protocol: { kind: { case: 'http1', value: {} } },
            authorizations: [{ authentication: { permit: { case: 'meshTls', value: { identities: ['web.demo.serviceaccount.identity.weft.cluster.local'] } } }, labels: { name: 'web-only' } }],
            labels: { name: `server-${req.port}`, workload: req.workload },
          });
        },
      });
      router.service(tap.Tap, {
        async *observe(req) {
          for (let i = 0; i < req.limit; i++) {
            yield create(tap.TapEventSchema, {
              direction: tap.TapEvent_Direction.INBOUND,
              tls: true,
              source: create(net.TcpAddressSchema, { ip: '10.0.0.1', port: 40000 + i }),
              event: { case: 'requestInit', value: { method: req.match?.method ?? '', path: `/${i}` } },
            });
          }
        },
      });
    },
  });
});

after(async () => {
  await server.close();
  pki.dispose();
});

function client<S extends Parameters<typeof createGrpcClient>[0]>(service: S, withCert = true) {
  return createGrpcClient(service, {
    baseUrl: `https://127.0.0.1:${server.port}`,
    ca: anchor.cert,
    serverName: 'control.weft.serviceaccount.identity.weft.cluster.local',
    ...(withCert ? { cert: clientCert.cert, key: clientCert.key } : {}),
  });
}

test('identity.Certify round-trips and the server sees the client identity', async () => {
  const res = await client(identity.Identity).certify({ identity: 'web', token: new TextEncoder().encode('tok'), certificateSigningRequest: new Uint8Array([9, 9]) });
  assert.deepEqual([...res.leafCertificate], [9, 9]);
  assert.equal(res.intermediateCertificates.length, 1);
  assert.equal(res.validUntil?.seconds, BigInt(Date.parse('2030-01-01T00:00:00Z') / 1000));
  assert.ok(seenClients.includes('web.demo.serviceaccount.identity.weft.cluster.local'));
});

test('identity.Certify errors carry their gRPC code', async () => {
  await assert.rejects(client(identity.Identity).certify({ identity: 'web' }), (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument);
});

test('destination.Get streams add, remove and no-endpoints in order', async () => {
  const cases: string[] = [];
  for await (const u of client(destination.Destination).get({ scheme: 'k8s', path: 'web.demo.svc.cluster.local:80' })) {
    cases.push(u.update.case ?? 'none');
    if (u.update.case === 'add') {
      assert.equal(u.update.value.addrs[0]?.addr?.ip, '10.0.0.7');
      assert.equal(u.update.value.addrs[0]?.tlsIdentity?.dnsName, 'web.demo.serviceaccount.identity.weft.cluster.local');
      assert.equal(u.update.value.metricLabels['service'], 'web.demo.svc.cluster.local:80');
    }
  }
  assert.deepEqual(cases, ['add', 'remove', 'noEndpoints']);
});

test('destination.GetProfile carries routes, budgets and splits', async () => {
  for await (const p of client(destination.Destination).getProfile({ path: 'web.demo.svc.cluster.local:80' })) {
    assert.equal(p.fullyQualifiedName, 'web.demo.svc.cluster.local:80');
    assert.equal(p.routes[0]?.matches[0]?.path?.kind.case, 'prefix');
    assert.equal(p.routes[0]?.timeout?.seconds, 1n);
    assert.ok(Math.abs((p.retryBudget?.retryRatio ?? 0) - 0.2) < 1e-6);
    assert.equal(p.dstOverrides[0]?.weight, 100);
  }
});

test('policy.Inbound.Watch streams the server policy', async () => {
  const got = [];
  for await (const s of client(policy.Inbound).watch({ workload: 'demo:web-1', port: 8080 })) got.push(s);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.protocol?.kind.case, 'http1');
  assert.equal(got[0]!.labels['workload'], 'demo:web-1');
  assert.equal(got[0]!.authorizations[0]?.authentication?.permit.case, 'meshTls');
});

test('tap.Observe streams up to the limit', async () => {
  const paths = [];
  for await (const e of client(tap.Tap).observe({ limit: 3, match: { method: 'GET' } })) {
    assert.equal(e.direction, tap.TapEvent_Direction.INBOUND);
    if (e.event.case === 'requestInit') paths.push(e.event.value.path);
  }
  assert.deepEqual(paths, ['/0', '/1', '/2']);
});

test('a client without a certificate is refused when client certs are required', async () => {
  await assert.rejects(client(identity.Identity, false).certify({ identity: 'web' }));
});
