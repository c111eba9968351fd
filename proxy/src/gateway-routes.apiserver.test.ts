// Gateway API routes end to end on the real kube-apiserver of the e2e
// environment (WEFT_E2E_KUBECONFIG): an HTTPRoute created with the API is
// validated by the real CRDs, watched by the real destination (Kubernetes
// source), streamed over GetProfile to a client proxy and applied to real
// traffic through two proxies (mTLS): a 75/25 split measured over 4,000
// requests, a header match, a redirect and a request timeout; destination
// writes the route's status conditions back to the API server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createLogger } from '@weft/common/log';
import { k8s, loadKubeConfig } from '@weft/common/k8s/client';
import { waitFor } from '@weft/common/poll';
import { KubernetesSource } from '@weft/destination/sources/kubernetes';
import { installGatewayApiCrds } from '@weft/destination/testing/gateway-api-crds';
import { startTestDestination } from '@weft/destination/testing/serve';
import { startMesh, SERVER_ID } from './testing/mesh.js';
import { endpoint } from './discovery/discovery.js';
import { DestinationProfiles } from './discovery/profiles.js';

const kubeconfig = process.env['WEFT_E2E_KUBECONFIG'];
const kubectl = new URL('../../.bin/kubectl', import.meta.url).pathname;
const skip = !kubeconfig
  ? 'WEFT_E2E_KUBECONFIG is not set: no real API server (run under `node test/e2e/run.mjs --control-plane-only --exec -- node --test proxy/dist/gateway-routes.apiserver.test.js`)'
  : !existsSync(kubectl)
    ? 'kubectl missing (run `node ci/tools.mjs`)'
    : false;
if (skip) console.log(`# proxy Gateway API test skipped: ${skip}`);

test(
  'an HTTPRoute created on the real API server is applied by real proxies: split, header match, redirect, timeout, status',
  { skip, timeout: 300_000 },
  async (t) => {
    const kc = loadKubeConfig({ kubeconfig: kubeconfig! });
    const removeCrds = installGatewayApiCrds((args, input) =>
      execFileSync(kubectl, ['--kubeconfig', kubeconfig!, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] }),
    );
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const ns = `weft-gwp-${randomBytes(3).toString('hex')}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    for (const name of ['web', 'web-v2'])
      await core.createNamespacedService({ namespace: ns, body: { metadata: { name }, spec: { ports: [{ name: 'http', port: 80 }] } } });
    const web = `web.${ns}.svc.cluster.local:80`;
    const v2 = `web-v2.${ns}.svc.cluster.local:80`;

    const apps: http.Server[] = [];
    const app = async (name: string) => {
      const s = http.createServer((req, res) => {
        if (req.url?.startsWith('/slow')) setTimeout(() => res.writeHead(200).end(name), 3000);
        else res.writeHead(200).end(name);
      });
      s.listen(0, '127.0.0.1');
      await once(s, 'listening');
      apps.push(s);
      return (s.address() as AddressInfo).port;
    };
    const [p1, p2] = [await app('web'), await app('web-v2')];
    const mesh = await startMesh();
    mesh.discovery.set(web, [endpoint('127.0.0.1', p1, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);
    mesh.discovery.set(v2, [endpoint('127.0.0.1', p2, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);

    const log = createLogger('gateway-apiserver-test', 'warn');
    const source = new KubernetesSource(kc, log);
    const dest = await startTestDestination(source, log);
    const client = dest.client();
    const profiles = new DestinationProfiles(() => client, `{"ns":"${ns}"}`, log);
    profiles.watch(web).subscribe((p) => mesh.profiles.set(web, p));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    t.after(async () => {
      agent.destroy();
      profiles.close();
      await dest.close();
      await mesh.close();
      for (const s of apps) s.close();
      await core.deleteNamespace({ name: ns }).catch(() => undefined);
      removeCrds();
    });

    await custom.createNamespacedCustomObject({
      group: 'gateway.networking.k8s.io',
      version: 'v1',
      namespace: ns,
      plural: 'httproutes',
      body: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'web-routes', namespace: ns },
        spec: {
          parentRefs: [{ group: '', kind: 'Service', name: 'web', port: 80 }],
          rules: [
            {
              name: 'canary',
              matches: [{ path: { type: 'PathPrefix', value: '/split' } }],
              backendRefs: [
                { name: 'web', port: 80, weight: 75 },
                { name: 'web-v2', port: 80, weight: 25 },
              ],
            },
            { name: 'tester', matches: [{ headers: [{ name: 'x-tester', value: 'yes' }] }], backendRefs: [{ name: 'web-v2', port: 80 }] },
            {
              name: 'moved',
              matches: [{ path: { type: 'Exact', value: '/moved' } }],
              filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'new.example', statusCode: 302 } }],
            },
            { name: 'slow', matches: [{ path: { type: 'PathPrefix', value: '/slow' } }], timeouts: { request: '500ms' } },
          ],
        },
      },
    });
    await waitFor(
      'the HTTPRoute on the GetProfile stream',
      () => ((profiles.watch(web).current()?.routes.length ?? 0) >= 4 ? true : undefined),
      { timeoutMs: 60_000 },
    );

    const get = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; body: string; location?: string }>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: mesh.client.ports.outbound, path, headers: { host: web, ...headers }, agent }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode!, body, location: res.headers.location }));
          })
          .on('error', reject);
      });

    const counts: Record<string, number> = { web: 0, 'web-v2': 0, failed: 0 };
    let left = 4000;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (left-- > 0) {
          const r = await get('/split');
          counts[r.status === 200 ? r.body : 'failed']!++;
        }
      }),
    );
    const share = counts['web-v2']! / (counts.web! + counts['web-v2']!);
    console.log(
      `# gateway api e2e: split web/web-v2 = ${counts.web}/${counts['web-v2']} (web-v2 ${(share * 100).toFixed(1)} %, want 25 ± 3), failed ${counts.failed}`,
    );
    assert.equal(counts.failed, 0);
    assert.ok(Math.abs(share - 0.25) <= 0.03, `web-v2 share ${share}`);

    assert.equal((await get('/any', { 'x-tester': 'yes' })).body, 'web-v2');
    assert.equal((await get('/any', { 'x-tester': 'no' })).body, 'web');
    console.log('# gateway api e2e: header match x-tester: yes → web-v2, otherwise → web');

    const moved = await get('/moved');
    assert.equal(moved.status, 302);
    assert.equal(moved.location, 'http://new.example/moved');
    console.log(`# gateway api e2e: redirect /moved → ${moved.status} ${moved.location}`);

    const slow = await get('/slow');
    assert.equal(slow.status, 504, 'timeouts.request 500ms ends a 3 s response');
    console.log('# gateway api e2e: timeouts.request 500ms → 504');

    const status = await waitFor(
      'status.parents written by destination',
      async () => {
        const o = (await custom.getNamespacedCustomObject({
          group: 'gateway.networking.k8s.io',
          version: 'v1',
          namespace: ns,
          plural: 'httproutes',
          name: 'web-routes',
        })) as {
          status?: { parents?: { controllerName: string; conditions: { type: string; status: string; reason: string }[] }[] };
        };
        const ours = o.status?.parents?.find((p) => p.controllerName === 'weft.io/destination');
        return ours ? ours.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`).join(' ') : undefined;
      },
      { timeoutMs: 60_000 },
    );
    assert.equal(status, 'Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs');
    console.log(`# gateway api e2e: status ${status}`);
  },
);
