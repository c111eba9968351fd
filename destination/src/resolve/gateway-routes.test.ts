// Gateway API routes attached to Services (GAMMA) become the Service's
// outbound routes: matches, precedence, GRPCRoute methods, timeouts, retry
// annotations, weighted backends, ReferenceGrants, ServiceProfile precedence,
// and the conditions that say why a route is not applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { destination } from '@weft/api';
import { WatchHub } from '../watch-hub.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { service, settle } from '../testing/fixtures.js';
import type { CustomObject, RouteKind } from '../model.js';
import { evaluateRoute, parseGatewayDuration } from './gateway-routes.js';

const log = pino({ level: 'silent' });
const AUTHORITY = 'web.demo.svc.cluster.local:80';

function route(kind: RouteKind, name: string, spec: Record<string, unknown>, meta: Partial<CustomObject['metadata']> = {}): CustomObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind,
    metadata: { name, namespace: 'demo', generation: 1, creationTimestamp: new Date('2026-01-01T00:00:00Z'), ...meta },
    spec: { parentRefs: [{ group: '', kind: 'Service', name: 'web', port: 80 }], ...spec },
  };
}

function hub(...objs: [RouteKind | 'ReferenceGrant' | 'ServiceProfile' | 'Server', CustomObject][]): WatchHub {
  const d = new WatchHub(DEFAULT_SETTINGS, log);
  d.cache.apply('Service', service('web', { clusterIP: '10.96.0.10', ports: [{ port: 80 }] }));
  d.cache.apply('Service', service('web-v2', { clusterIP: '10.96.0.11', ports: [{ port: 80 }] }));
  d.cache.apply('Service', service('web-eu', { namespace: 'eu', clusterIP: '10.96.0.12', ports: [{ port: 80 }] }));
  for (const [kind, o] of objs) d.cache.apply(kind, o);
  return d;
}

function profiles(d: WatchHub, authority = AUTHORITY): destination.DestinationProfile[] {
  const got: destination.DestinationProfile[] = [];
  d.watchProfile(authority, (p) => got.push(p));
  return got;
}

const conditions = (d: WatchHub, kind: RouteKind, o: CustomObject) =>
  evaluateRoute(d.cache, kind, o, DEFAULT_SETTINGS).parents.map((p) =>
    p.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`).join(' '),
  );

test('HTTPRoute matches become routes, most specific first (exact, longest prefix, method, headers)', () => {
  const r = route('HTTPRoute', 'web-routes', {
    rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/' } }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/books' }, method: 'GET' }] },
      {
        name: 'canary',
        matches: [{ path: { type: 'PathPrefix', value: '/books' }, method: 'GET', headers: [{ name: 'X-Canary', value: '1' }] }],
      },
      { matches: [{ path: { type: 'Exact', value: '/books/1' } }] },
      { matches: [{ path: { type: 'RegularExpression', value: '^/authors/\\d+$' } }] },
    ],
  });
  const [p] = profiles(hub(['HTTPRoute', r]));
  const order = p!.routes.map(
    (rt) => `${rt.name} ${rt.matches[0]!.method} ${JSON.stringify(rt.matches[0]!.path?.kind)} h${rt.matches[0]!.headers.length}`,
  );
  assert.deepEqual(order, [
    'web-routes  {"case":"exact","value":"/books/1"} h0',
    'web-routes/canary GET {"case":"prefix","value":"/books"} h1',
    'web-routes GET {"case":"prefix","value":"/books"} h0',
    'web-routes  {"case":"prefix","value":"/"} h0',
    'web-routes  {"case":"regex","value":"^/authors/\\\\d+$"} h0',
  ]);
  assert.equal(p!.routes[1]!.matches[0]!.headers[0]!.name, 'x-canary');
  assert.equal(p!.routes[0]!.metricsLabels['route_kind'], 'HTTPRoute');
});

test('GRPCRoute methods become POST paths; timeouts and retry annotations map onto the route', () => {
  const r = route(
    'GRPCRoute',
    'authors-grpc',
    {
      rules: [
        {
          matches: [{ method: { service: 'weft.demo.v1.Authors', method: 'GetAuthor' } }],
          timeouts: { request: '2s', backendRequest: '500ms' },
        },
        { matches: [{ method: { service: 'weft.demo.v1.Authors' } }] },
        { matches: [{ method: { type: 'RegularExpression', method: 'List.*' } }] },
      ],
    },
    { annotations: { 'retry.weft.io/grpc': 'unavailable,deadline-exceeded', 'retry.weft.io/http': '5xx' } },
  );
  const [p] = profiles(hub(['GRPCRoute', r]));
  const [exact, prefix, regex] = p!.routes;
  assert.deepEqual(exact!.matches[0]!.path?.kind, { case: 'exact', value: '/weft.demo.v1.Authors/GetAuthor' });
  assert.equal(exact!.matches[0]!.method, 'POST');
  assert.equal(exact!.totalTimeout?.seconds, 2n);
  assert.equal(exact!.timeout?.nanos, 500_000_000);
  assert.deepEqual(prefix!.matches[0]!.path?.kind, { case: 'prefix', value: '/weft.demo.v1.Authors/' });
  assert.deepEqual(regex!.matches[0]!.path?.kind, { case: 'regex', value: '^/(?:[^/]+)/(?:List.*)$' });
  assert.equal(exact!.isRetryable, true);
  assert.deepEqual([...exact!.retryGrpcStatuses], [14, 4]);
  assert.deepEqual(
    exact!.retryStatuses.map((s) => [s.min, s.max]),
    [[500, 599]],
  );
  assert.equal(exact!.metricsLabels['route_kind'], 'GRPCRoute');
});

test("weighted backendRefs split the rule's traffic; a cross-namespace backend needs a ReferenceGrant", async () => {
  const split = route('HTTPRoute', 'canary', {
    rules: [
      {
        backendRefs: [
          { name: 'web', port: 80, weight: 90 },
          { name: 'web-v2', port: 80, weight: 10 },
        ],
      },
    ],
  });
  const [p] = profiles(hub(['HTTPRoute', split]));
  assert.deepEqual(p!.dstOverrides, [], 'the split belongs to the route, not the whole Service');
  assert.deepEqual(
    p!.routes[0]!.backends.map((d) => [d.authority, d.weight]),
    [
      ['web.demo.svc.cluster.local:80', 90],
      ['web-v2.demo.svc.cluster.local:80', 10],
    ],
  );

  const cross = route('HTTPRoute', 'to-eu', { rules: [{ backendRefs: [{ name: 'web-eu', namespace: 'eu', port: 80 }] }] });
  const d = hub(['HTTPRoute', cross]);
  assert.deepEqual(conditions(d, 'HTTPRoute', cross), ['Accepted=True/Accepted ResolvedRefs=False/RefNotPermitted']);
  const seen = profiles(d);
  assert.deepEqual(seen.at(-1)!.routes[0]!.backends, [], 'no grant: the backend is left out');
  const grant: CustomObject = {
    metadata: { name: 'from-demo', namespace: 'eu' },
    spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'demo' }], to: [{ group: '', kind: 'Service' }] },
  };
  d.cache.apply('ReferenceGrant', grant);
  await settle();
  assert.deepEqual(conditions(d, 'HTTPRoute', cross), ['Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
  assert.deepEqual(
    seen.at(-1)!.routes[0]!.backends.map((o) => o.authority),
    ['web-eu.eu.svc.cluster.local:80'],
    'the grant applies live',
  );
});

test('what weft cannot apply is refused with a reason, never half-applied', () => {
  const filtered = route('HTTPRoute', 'mirror', {
    rules: [{ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'web-v2', port: 80 } } }] }],
  });
  const both = route('HTTPRoute', 'both', {
    rules: [
      {
        filters: [
          { type: 'RequestRedirect', requestRedirect: { scheme: 'https' } },
          { type: 'URLRewrite', urlRewrite: { hostname: 'x' } },
        ],
      },
    ],
  });
  const hostHeader = route('HTTPRoute', 'host', {
    rules: [{ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'Host', value: 'evil' }] } }] }],
  });
  const prefixOnExact = route('HTTPRoute', 'prefix-on-exact', {
    rules: [
      {
        matches: [{ path: { type: 'Exact', value: '/a' } }],
        filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/b' } } }],
      },
    ],
  });
  const missing = route('HTTPRoute', 'missing', { parentRefs: [{ group: '', kind: 'Service', name: 'nope' }], rules: [{}] });
  const badPort = route('HTTPRoute', 'port', { parentRefs: [{ group: '', kind: 'Service', name: 'web', port: 8080 }], rules: [{}] });
  const gateway = route('HTTPRoute', 'gw', { parentRefs: [{ name: 'public-gateway' }], rules: [{}] });
  const d = hub(
    ['HTTPRoute', filtered],
    ['HTTPRoute', both],
    ['HTTPRoute', hostHeader],
    ['HTTPRoute', prefixOnExact],
    ['HTTPRoute', missing],
    ['HTTPRoute', badPort],
    ['HTTPRoute', gateway],
  );
  const message = (r: CustomObject) => evaluateRoute(d.cache, 'HTTPRoute', r, DEFAULT_SETTINGS).parents[0]!.conditions[0].message;
  assert.match(conditions(d, 'HTTPRoute', filtered)[0]!, /Accepted=False\/UnsupportedValue/);
  assert.match(message(filtered), /filter RequestMirror is not supported/);
  assert.match(conditions(d, 'HTTPRoute', both)[0]!, /Accepted=False\/IncompatibleFilters/);
  assert.match(conditions(d, 'HTTPRoute', hostHeader)[0]!, /Accepted=False\/UnsupportedValue/);
  assert.match(message(hostHeader), /does not let routes change Host/);
  assert.match(conditions(d, 'HTTPRoute', prefixOnExact)[0]!, /Accepted=False\/Invalid/);
  assert.match(message(prefixOnExact), /ReplacePrefixMatch needs a PathPrefix match \(spec\.rules\[0\]\.matches\[0\]\)/);
  assert.match(conditions(d, 'HTTPRoute', missing)[0]!, /Accepted=False\/NoMatchingParent/);
  assert.match(conditions(d, 'HTTPRoute', badPort)[0]!, /Accepted=False\/NoMatchingParent/);
  assert.deepEqual(conditions(d, 'HTTPRoute', gateway), [], "a Gateway parent is not weft's to answer");
  assert.deepEqual(profiles(d)[0]!.routes, [], 'none of them is applied');
});

test('query parameter matches and filters reach the proxy route of each match', () => {
  const r = route('HTTPRoute', 'shaped', {
    rules: [
      {
        matches: [
          { path: { type: 'PathPrefix', value: '/api' }, queryParams: [{ name: 'v', value: '2' }] },
          { path: { type: 'PathPrefix', value: '/old' }, queryParams: [{ type: 'RegularExpression', name: 'id', value: '^[0-9]+$' }] },
        ],
        filters: [
          {
            type: 'RequestHeaderModifier',
            requestHeaderModifier: { set: [{ name: 'X-Version', value: '2' }], add: [{ name: 'x-tag', value: 'a' }], remove: ['x-debug'] },
          },
          { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'x-served-by', value: 'v2' }] } },
          { type: 'URLRewrite', urlRewrite: { hostname: 'web-v2', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } } },
        ],
      },
      {
        matches: [{ path: { type: 'Exact', value: '/moved' } }],
        filters: [
          {
            type: 'RequestRedirect',
            requestRedirect: { hostname: 'new.example', statusCode: 301, path: { type: 'ReplaceFullPath', replaceFullPath: '/here' } },
          },
        ],
      },
    ],
  });
  const d = hub(['HTTPRoute', r]);
  assert.deepEqual(conditions(d, 'HTTPRoute', r), ['Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
  const routes = profiles(d)[0]!.routes;
  const byPath = (v: string) => routes.find((x) => x.matches[0]!.path?.kind.value === v)!;
  const api = byPath('/api');
  assert.deepEqual(
    api.matches[0]!.queryParams.map((q) => [q.name, q.value.case, q.value.value]),
    [['v', 'exact', '2']],
  );
  assert.deepEqual(byPath('/old').matches[0]!.queryParams[0]!.value, { case: 'regex', value: '^[0-9]+$' });
  assert.deepEqual(
    api.filters.map((f) => f.kind.case),
    ['requestHeaderModifier', 'responseHeaderModifier', 'urlRewrite'],
  );
  const reqMod = api.filters[0]!.kind.value as { set: { name: string; value: string }[]; add: { name: string }[]; remove: string[] };
  assert.deepEqual(
    reqMod.set.map((h) => [h.name, h.value]),
    [['x-version', '2']],
    'names lower-cased',
  );
  assert.deepEqual(reqMod.remove, ['x-debug']);
  const rw = api.filters[2]!.kind.value as { hostname: string; path?: { kind: { case: string; value: string } } };
  assert.equal(rw.hostname, 'web-v2');
  assert.deepEqual(rw.path?.kind, { case: 'prefix', value: '/v2' });
  const moved = byPath('/moved').filters[0]!.kind;
  assert.equal(moved.case, 'requestRedirect');
  const redirect = moved.value as { hostname: string; statusCode: number; path?: { kind: { case: string; value: string } } };
  assert.equal(redirect.hostname, 'new.example');
  assert.equal(redirect.statusCode, 301);
  assert.deepEqual(redirect.path?.kind, { case: 'full', value: '/here' });
});

test('each rule keeps its own backends: rules naming different backend sets are both applied', () => {
  const r = route('HTTPRoute', 'per-rule', {
    rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/beta' } }], backendRefs: [{ name: 'web-v2', port: 80 }] },
      {
        backendRefs: [
          { name: 'web', port: 80, weight: 3 },
          { name: 'web-v2', port: 80, weight: 1 },
        ],
      },
      { matches: [{ path: { type: 'PathPrefix', value: '/self' } }], backendRefs: [{ name: 'web', port: 80 }] },
    ],
  });
  const d = hub(['HTTPRoute', r]);
  const routes = profiles(d)[0]!.routes;
  const of = (v: string) => routes.find((x) => x.matches[0]!.path?.kind.value === v)!.backends.map((b) => `${b.authority}=${b.weight}`);
  assert.deepEqual(of('/beta'), ['web-v2.demo.svc.cluster.local:80=1']);
  assert.deepEqual(of('/'), ['web.demo.svc.cluster.local:80=3', 'web-v2.demo.svc.cluster.local:80=1']);
  assert.deepEqual(of('/self'), [], 'the Service itself needs no split');
});

test('a ServiceProfile takes precedence over HTTPRoutes for the same Service', async () => {
  const r = route('HTTPRoute', 'web-routes', { rules: [{ matches: [{ path: { type: 'Exact', value: '/x' } }] }] });
  const sp: CustomObject = {
    metadata: { name: 'web.demo.svc.cluster.local', namespace: 'demo' },
    spec: { routes: [{ name: 'from-sp', matches: [{ path: { exact: '/y' } }] }] },
  };
  const d = hub(['HTTPRoute', r]);
  const seen = profiles(d);
  assert.equal(seen.at(-1)!.routes[0]!.name, 'web-routes');
  d.cache.apply('ServiceProfile', sp);
  await settle();
  assert.equal(seen.at(-1)!.routes[0]!.name, 'from-sp');
  assert.match(conditions(d, 'HTTPRoute', r)[0]!, /Accepted=False\/Overridden/);
  d.cache.delete('ServiceProfile', sp);
  await settle();
  assert.equal(seen.at(-1)!.routes[0]!.name, 'web-routes', 'the route applies again once the ServiceProfile is gone');
});

test('Gateway API durations', () => {
  assert.equal(parseGatewayDuration('1h'), 3_600_000);
  assert.equal(parseGatewayDuration('1m30s'), 90_000);
  assert.equal(parseGatewayDuration('500ms'), 500);
  assert.equal(parseGatewayDuration('0s'), 0);
  for (const bad of ['1.5s', '10', '-1s', '1d']) assert.throws(() => parseGatewayDuration(bad), /not a Gateway API duration/);
});

test('an HTTPRoute with a weft Server parent is an inbound route: status from the Server, never an outbound route of a Service', () => {
  const server: CustomObject = { metadata: { name: 'web', namespace: 'demo' }, spec: { podSelector: {}, port: 8080 } };
  const inbound = route('HTTPRoute', 'admin', {
    parentRefs: [{ group: 'policy.weft.io', kind: 'Server', name: 'web' }],
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/admin' } }] }],
  });
  const missing = route('HTTPRoute', 'nowhere', { parentRefs: [{ group: 'policy.weft.io', kind: 'Server', name: 'nope' }], rules: [{}] });
  const d = hub(['Server', server], ['HTTPRoute', inbound], ['HTTPRoute', missing]);
  assert.deepEqual(conditions(d, 'HTTPRoute', inbound), ['Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
  assert.deepEqual(conditions(d, 'HTTPRoute', missing), ['Accepted=False/NoMatchingParent ResolvedRefs=True/ResolvedRefs']);
  assert.deepEqual(profiles(d)[0]!.routes, [], 'a Server named like the Service does not attach the route to the Service');
});
