// Gateway API routes against the real kube-apiserver of the e2e environment
// (WEFT_E2E_KUBECONFIG), with the standard-channel CRDs of the published
// sigs.k8s.io/gateway-api module: the API server's own validation refuses a
// malformed HTTPRoute; HTTPRoutes and GRPCRoutes attached to a Service reach
// GetProfile live (matches, split weights, timeouts); destination writes
// status.parents conditions that say why a route is or is not applied; a
// ReferenceGrant created later resolves a cross-namespace backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pino } from 'pino';
import type { destination } from '@weft/api';
import { k8s, loadKubeConfig } from '@weft/common/k8s/client';
import { waitFor } from '@weft/common/poll';
import { WatchHub } from '../watch-hub.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { KubernetesSource } from './kubernetes.js';
import { installGatewayApiCrds } from '../testing/gateway-api-crds.js';

const kubeconfig = process.env['WEFT_E2E_KUBECONFIG'];
const kubectl = new URL('../../../.bin/kubectl', import.meta.url).pathname;
const skip = !kubeconfig
  ? 'WEFT_E2E_KUBECONFIG is not set: no real API server (run under `node test/e2e/run.mjs --exec -- node --test destination/dist/sources/gateway-api.test.js`)'
  : !existsSync(kubectl)
    ? 'kubectl missing (run `node ci/tools.mjs`)'
    : false;
if (skip) console.log(`# destination Gateway API test skipped: ${skip}`);

test(
  'HTTPRoutes and GRPCRoutes on the real API server: validation, live routes, split, status conditions, ReferenceGrant',
  { skip },
  async (t) => {
    const run = (args: string[], input?: string) =>
      execFileSync(kubectl, ['--kubeconfig', kubeconfig!, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
    const removeCrds = installGatewayApiCrds(run);

    const kc = loadKubeConfig({ kubeconfig: kubeconfig! });
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const id = randomBytes(3).toString('hex');
    const ns = `weft-gw-${id}`;
    const other = `weft-gw-eu-${id}`;
    for (const n of [ns, other]) await core.createNamespace({ body: { metadata: { name: n } } });
    const svc = (name: string, namespace: string) =>
      core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { ports: [{ name: 'http', port: 80 }] } } });
    await svc('web', ns);
    await svc('web-v2', ns);
    await svc('web-eu', other);

    const log = pino({ level: 'warn' });
    const d = new WatchHub(DEFAULT_SETTINGS, log);
    const source = new KubernetesSource(kc, log);
    const stops: (() => Promise<void>)[] = [];
    t.after(async () => {
      for (const stop of stops) await stop();
      await source.stop();
      for (const n of [ns, other]) await core.deleteNamespace({ name: n }).catch(() => undefined);
      removeCrds();
    });
    await source.start(d.cache);
    stops.push(source.publishRouteStatus(d.cache, DEFAULT_SETTINGS, log));

    // The API server validates routes with the CRD's schema and CEL rules.
    const bad = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'bad', namespace: ns },
      spec: { parentRefs: [{ group: '', kind: 'Service', name: 'web' }], rules: [{ matches: [{ path: { type: 'Bogus', value: '/' } }] }] },
    };
    assert.throws(() => run(['create', '-f', '-'], JSON.stringify(bad)), /Unsupported value: "Bogus"/);

    const profiles: destination.DestinationProfile[] = [];
    d.watchProfile(`web.${ns}.svc.cluster.local:80`, (p) => profiles.push(p));
    const create = (plural: string, body: Record<string, unknown>) =>
      custom.createNamespacedCustomObject({
        group: 'gateway.networking.k8s.io',
        version: plural === 'referencegrants' ? 'v1beta1' : 'v1',
        namespace: (body.metadata as { namespace: string }).namespace,
        plural,
        body,
      });
    const parentRefs = [{ group: '', kind: 'Service', name: 'web', port: 80 }];
    /** An HTTPRoute in the test namespace attached to web:80 (or to `parents`). */
    const httpRoute = (name: string, rules: unknown[], parents: unknown[] = parentRefs) =>
      create('httproutes', {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name, namespace: ns },
        spec: { parentRefs: parents, rules },
      });
    const canarySplit = [
      { name: 'web', port: 80, weight: 90 },
      { name: 'web-v2', port: 80, weight: 10 },
    ];
    await httpRoute('canary', [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/books' }, headers: [{ name: 'x-canary', value: '1' }] }],
        timeouts: { request: '3s' },
        backendRefs: canarySplit,
      },
      { backendRefs: canarySplit },
    ]);
    const current = () => profiles.at(-1);
    await waitFor('the HTTPRoute on the GetProfile stream', () => (current()?.routes.length ?? 0) >= 2 || undefined, { timeoutMs: 60_000 });
    const first = current()!.routes[0]!;
    assert.equal(first.name, 'canary');
    assert.deepEqual(first.matches[0]!.path?.kind, { case: 'prefix', value: '/books' });
    assert.equal(first.matches[0]!.headers[0]!.name, 'x-canary');
    assert.equal(first.totalTimeout?.seconds, 3n);
    for (const r of current()!.routes.filter((x) => x.name === 'canary')) {
      assert.deepEqual(
        r.backends.map((o) => `${o.authority}=${o.weight}`),
        [`web.${ns}.svc.cluster.local:80=90`, `web-v2.${ns}.svc.cluster.local:80=10`],
      );
    }
    console.log(
      `# gateway api: HTTPRoute canary → ${current()!.routes.length} routes, split ${current()!
        .routes[0]!.backends.map((o) => o.weight)
        .join('/')} per rule`,
    );

    type Status = {
      parents?: { controllerName: string; conditions: { type: string; status: string; reason: string; message: string }[] }[];
    };
    const conditionsOf = async (plural: string, name: string, namespace = ns) => {
      const o = (await custom.getNamespacedCustomObject({
        group: 'gateway.networking.k8s.io',
        version: 'v1',
        namespace,
        plural,
        name,
      })) as { status?: Status };
      const ours = o.status?.parents?.find((p) => p.controllerName === 'weft.io/destination');
      return ours ? ours.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`).join(' ') : undefined;
    };
    const statusIs = (plural: string, name: string, want: string, namespace = ns) =>
      waitFor(`${plural} ${name} status ${want}`, async () => ((await conditionsOf(plural, name, namespace)) === want ? true : undefined), {
        timeoutMs: 60_000,
      });

    await statusIs('httproutes', 'canary', 'Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs');

    await httpRoute('shaped', [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/api' }, queryParams: [{ name: 'v', value: '2' }] }],
        filters: [
          { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-version', value: '2' }] } },
          { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } } },
        ],
      },
      {
        matches: [{ path: { type: 'Exact', value: '/moved' } }],
        filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }],
      },
    ]);
    await statusIs('httproutes', 'shaped', 'Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs');
    await waitFor(
      'the filtered routes on the GetProfile stream',
      () => current()!.routes.some((r) => r.name === 'shaped' && r.filters.length > 0) || undefined,
      {
        timeoutMs: 60_000,
      },
    );
    const shaped = current()!.routes.filter((r) => r.name === 'shaped');
    assert.deepEqual(shaped.map((r) => r.filters.map((f) => f.kind.case).join('+')).sort(), [
      'requestHeaderModifier+urlRewrite',
      'requestRedirect',
    ]);
    assert.equal(shaped.find((r) => r.filters.length === 2)!.matches[0]!.queryParams[0]!.name, 'v');
    console.log(
      '# gateway api: HTTPRoute shaped (query match, header modifier, URL rewrite, redirect) accepted and on the GetProfile stream',
    );

    await httpRoute('mirror', [{ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'web-v2', port: 80 } } }] }]);
    await statusIs('httproutes', 'mirror', 'Accepted=False/UnsupportedValue ResolvedRefs=True/ResolvedRefs');
    console.log('# gateway api: status says why RequestMirror is not applied (Accepted=False/UnsupportedValue)');

    await create('grpcroutes', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GRPCRoute',
      metadata: { name: 'authors', namespace: ns },
      spec: { parentRefs, rules: [{ matches: [{ method: { service: 'weft.demo.v1.Authors', method: 'GetAuthor' } }] }] },
    });
    await waitFor(
      'the GRPCRoute on the GetProfile stream',
      () => current()!.routes.some((r) => r.metricsLabels['route_kind'] === 'GRPCRoute') || undefined,
      { timeoutMs: 60_000 },
    );
    assert.deepEqual(current()!.routes.find((r) => r.name === 'authors')!.matches[0]!.path?.kind, {
      case: 'exact',
      value: '/weft.demo.v1.Authors/GetAuthor',
    });
    await statusIs('grpcroutes', 'authors', 'Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs');

    // A backend in another namespace needs a ReferenceGrant there.
    await core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name: 'geo' }, spec: { ports: [{ name: 'http', port: 80 }] } },
    });
    await httpRoute(
      'to-eu',
      [{ backendRefs: [{ name: 'web-eu', namespace: other, port: 80 }] }],
      [{ group: '', kind: 'Service', name: 'geo' }],
    );
    await statusIs('httproutes', 'to-eu', 'Accepted=True/Accepted ResolvedRefs=False/RefNotPermitted');
    await create('referencegrants', {
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { name: 'from-routes', namespace: other },
      spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: ns }], to: [{ group: '', kind: 'Service' }] },
    });
    await statusIs('httproutes', 'to-eu', 'Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs');
    console.log('# gateway api: ReferenceGrant resolves the cross-namespace backend (ResolvedRefs=True)');
  },
);
