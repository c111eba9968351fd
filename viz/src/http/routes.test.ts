// Tap over HTTP with the `kubernetes` mode: the namespace authorized is the
// namespace tapped. A user whose Role allows tap only in `mine` is refused
// every spelling of a tap of `shop` and can still tap `mine`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { StaticTargetSource, type ProxyTarget } from '../targets.js';
import { KubernetesAuthorizer, type KubernetesReviews } from '../tap/authorizer.js';
import { startViz, type Viz } from '../viz.js';

// Tap ports nothing listens on: each tapped proxy becomes one error line naming it, then the stream ends.
const proxy = (namespace: string, name: string, workload: string): ProxyTarget => ({
  name,
  namespace,
  workload: { kind: 'deployment', name: workload },
  adminAddr: '127.0.0.1:1',
  tapAddr: '127.0.0.1:1',
  identity: `${workload}.${namespace}.serviceaccount.identity.weft.cluster.local`,
});

/** RBAC as the API server applies it: alice holds a Role with `*\/tap` in `mine` only; a namespace-less review asks for a cluster-wide grant. */
const asked: Array<string | undefined> = [];
const reviews: KubernetesReviews = {
  audience: 'tap.weft.io',
  tokenReview: async (token) => (token === 'alice-token' ? { username: 'alice', groups: [] } : undefined),
  subjectAccessReview: async (user, attrs) => {
    asked.push(attrs.namespace);
    return { allowed: user.username === 'alice' && attrs.namespace === 'mine' };
  },
};

let viz: Viz;

before(async () => {
  viz = await startViz({
    prometheusUrl: 'http://127.0.0.1:9',
    targets: new StaticTargetSource([proxy('mine', 'x-1', 'x'), proxy('mine', 'web-1', 'web'), proxy('shop', 'x-1', 'x'), proxy('shop', 'books-1', 'books')]),
    tapTls: { ca: '', cert: '', key: '' },
    authorizer: new KubernetesAuthorizer(reviews),
    api: { host: '127.0.0.1', port: 0 },
    tap: { host: '127.0.0.1', port: 0 },
    web: { host: '127.0.0.1', port: 0 },
  });
});

after(() => viz?.close());

async function tap(query: string, base = viz.tapUrl): Promise<{ status: number; lines: Array<{ proxy?: { namespace: string; pod: string }; error?: unknown }> }> {
  const res = await fetch(`${base}/api/v1/tap?${query}`, { headers: { authorization: 'Bearer alice-token' } });
  const text = await res.text();
  return { status: res.status, lines: text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { proxy?: { namespace: string; pod: string } }) };
}

test('every spelling of a tap of another namespace is refused', async () => {
  const spellings = [
    'resource=ns/shop&namespace=mine',
    'resource=ns/shop',
    'resource=namespaces/shop&namespace=mine',
    'resource=NS/shop&namespace=mine',
    'resource=ns&namespace=shop',
    'resource=ns',
    'resource=ns/shop&resource=ns/mine&namespace=mine',
    'resource=deploy/x&namespace=shop',
    'resource=deploy/x',
    'resource=deploy/x&namespace=',
    'resource=deploy&namespace=shop',
    'resource=deploy/x&namespace=shop&namespace=mine',
    'resource=po/x-1&namespace=shop',
    'resource=po/x-1',
  ];
  for (const q of spellings) {
    for (const base of [viz.tapUrl, viz.webUrl]) {
      const r = await tap(q, base);
      assert.equal(r.status, 403, `${q} on ${base}: ${JSON.stringify(r.lines)}`);
    }
  }
  assert.ok(!asked.includes('mine'), `a tap of shop was authorized against mine: ${JSON.stringify(asked)}`);
});

test('the namespace the user may tap is still tapped, and only its proxies', async () => {
  const cases: Array<[string, string[]]> = [
    ['resource=ns/mine', ['mine/x-1', 'mine/web-1']],
    ['resource=ns&namespace=mine', ['mine/x-1', 'mine/web-1']],
    // A named namespace is the namespace tapped; the namespace parameter does not move it.
    ['resource=ns/mine&namespace=shop', ['mine/x-1', 'mine/web-1']],
    ['resource=deploy/x&namespace=mine', ['mine/x-1']],
    ['resource=deploy/x&namespace=mine&namespace=shop', ['mine/x-1']],
    ['resource=po/x-1&namespace=mine', ['mine/x-1']],
  ];
  for (const [q, pods] of cases) {
    const r = await tap(q);
    assert.equal(r.status, 200, `${q}: ${JSON.stringify(r.lines)}`);
    assert.deepEqual(r.lines.map((l) => `${l.proxy?.namespace}/${l.proxy?.pod}`).sort(), [...pods].sort(), q);
  }
});

test('a tap of a service is a bad request, not a tap of nothing', async () => {
  const r = await tap('resource=svc/web&namespace=mine');
  assert.equal(r.status, 400);
});
