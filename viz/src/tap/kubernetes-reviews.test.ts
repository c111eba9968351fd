// The `kubernetes` tap mode's API calls: the presented token is reviewed for
// viz's audience and accepted only when the API server confirms that
// audience; the access review asks for the tapped namespace. Against a small
// fake API server over the real client here; against a real API server (the
// e2e environment, when WEFT_E2E_KUBECONFIG is set): a ServiceAccount's token
// is reviewed, and a Role on `deployments/tap` in `tap.weft.io` decides per namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { k8s, loadKubeConfig } from '@weft/common/k8s/client';
import { KubernetesAuthorizer, TAP_TOKEN_AUDIENCE } from './authorizer.js';
import { kubernetesReviews, userOfTokenReview } from './kubernetes-reviews.js';

const reviewed = (audiences: string[] | undefined): k8s.V1TokenReview => ({ spec: {}, status: { authenticated: true, user: { username: 'alice', groups: ['dev'] }, ...(audiences ? { audiences } : {}) } });

test('a TokenReview counts only when it confirms the tap audience', () => {
  assert.deepEqual(userOfTokenReview(reviewed(['tap.weft.io']), 'tap.weft.io'), { username: 'alice', groups: ['dev'] });
  assert.deepEqual(userOfTokenReview(reviewed(['other', 'viz.example']), 'viz.example'), { username: 'alice', groups: ['dev'] });
  // An API server that ignored spec.audiences: the token may be one for the API server itself.
  assert.equal(userOfTokenReview(reviewed(undefined), 'tap.weft.io'), undefined);
  assert.equal(userOfTokenReview(reviewed([]), 'tap.weft.io'), undefined);
  assert.equal(userOfTokenReview(reviewed(['https://kubernetes.default.svc.cluster.local']), 'tap.weft.io'), undefined);
  assert.equal(userOfTokenReview({ spec: {}, status: { authenticated: false, audiences: ['tap.weft.io'], error: 'token has expired' } }, 'tap.weft.io'), undefined);
  assert.equal(userOfTokenReview({ spec: {} }, 'tap.weft.io'), undefined);
});

/** Just the two review endpoints, recording what viz sent. */
async function fakeApiServer(answer: (spec: k8s.V1TokenReviewSpec) => k8s.V1TokenReviewStatus) {
  const tokenReviews: k8s.V1TokenReviewSpec[] = [];
  const accessReviews: k8s.V1SubjectAccessReviewSpec[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const obj = JSON.parse(body || '{}') as { spec: never };
      res.writeHead(201, { 'content-type': 'application/json' });
      if (req.url?.startsWith('/apis/authentication.k8s.io/v1/tokenreviews')) {
        tokenReviews.push(obj.spec);
        res.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: obj.spec, status: answer(obj.spec) }));
      } else {
        const spec = obj.spec as k8s.V1SubjectAccessReviewSpec;
        accessReviews.push(spec);
        res.end(JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec, status: { allowed: spec.resourceAttributes?.namespace === 'mine' } }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'viz', token: 'viz-sa-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'viz' }],
    currentContext: 'fake',
  });
  return { kc, tokenReviews, accessReviews, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('the presented token is reviewed for the configured audience and the tapped namespace is access-reviewed', async (t) => {
  // Like a real API server: a token authenticates only for the audiences it was minted for; `legacy` stands for an API server that ignores spec.audiences.
  const minted: Record<string, string[]> = { 'tap-token': ['viz.example'], 'apiserver-token': ['https://kubernetes.default.svc.cluster.local'] };
  const api = await fakeApiServer((spec) => {
    if (spec.token === 'legacy') return { authenticated: true, user: { username: 'bob' } };
    const audiences = (spec.audiences ?? []).filter((a) => minted[spec.token ?? '']?.includes(a));
    return audiences.length ? { authenticated: true, audiences, user: { username: 'alice', groups: ['dev'] } } : { authenticated: false, error: 'token audiences are invalid' };
  });
  t.after(() => api.close());
  const authorizer = new KubernetesAuthorizer(kubernetesReviews(api.kc, 'viz.example'));
  const caller = (token: string, namespace: string) => ({ remoteAddress: '10.0.0.9', headers: { authorization: `Bearer ${token}` }, scope: { namespace, resource: { kind: 'deployment' as const, name: 'web' } } });

  assert.equal(await authorizer.authorize(caller('tap-token', 'mine')), 'alice');
  await assert.rejects(authorizer.authorize(caller('tap-token', 'shop')), /may not watch deployments\/tap in tap\.weft\.io in namespace shop/);
  await assert.rejects(authorizer.authorize(caller('apiserver-token', 'mine')), /rejected by TokenReview for audience viz\.example/);
  await assert.rejects(authorizer.authorize(caller('legacy', 'mine')), /rejected by TokenReview/);

  assert.deepEqual(api.tokenReviews.map((s) => [s.token, s.audiences]), [['tap-token', ['viz.example']], ['tap-token', ['viz.example']], ['apiserver-token', ['viz.example']], ['legacy', ['viz.example']]]);
  assert.deepEqual(api.accessReviews.map((s) => [s.user, s.groups, s.resourceAttributes]), [
    ['alice', ['dev'], { group: 'tap.weft.io', resource: 'deployments', subresource: 'tap', verb: 'watch', namespace: 'mine', name: 'web' }],
    ['alice', ['dev'], { group: 'tap.weft.io', resource: 'deployments', subresource: 'tap', verb: 'watch', namespace: 'shop', name: 'web' }],
  ]);
});

test('a ServiceAccount with a tap Role may tap in its namespace and nowhere else', async (t) => {
  const kubeconfig = process.env.WEFT_E2E_KUBECONFIG;
  if (!kubeconfig) return t.skip('WEFT_E2E_KUBECONFIG is not set: no real API server for TokenReview/SubjectAccessReview');
  const kc = loadKubeConfig({ kubeconfig });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const ns = 'weft-tap-e2e';
  t.after(() => core.deleteNamespace({ name: ns }).catch(() => undefined));
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'tapper' } } });
  await rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: 'tap' }, rules: [{ apiGroups: ['tap.weft.io'], resources: ['deployments/tap'], verbs: ['watch'] }] } });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: { metadata: { name: 'tap' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tap' }, subjects: [{ kind: 'ServiceAccount', name: 'tapper', namespace: ns }] },
  });
  const mint = async (audiences: string[]) => (await core.createNamespacedServiceAccountToken({ namespace: ns, name: 'tapper', body: { spec: { audiences, expirationSeconds: 600 } } })).status?.token;
  const token = await mint([TAP_TOKEN_AUDIENCE]);
  // A token for the API server's own audience (what `kubectl create token tapper` gives without --audience).
  const apiServerToken = await mint([]);
  assert.ok(token && apiServerToken);
  const authorizer = new KubernetesAuthorizer(kubernetesReviews(kc, TAP_TOKEN_AUDIENCE));
  const caller = (namespace: string, kind: 'deployment' | 'statefulset' = 'deployment') => ({ remoteAddress: '10.0.0.9', headers: { authorization: `Bearer ${token}` }, scope: { namespace, resource: { kind, name: 'web' } } });
  assert.equal(await authorizer.authorize(caller(ns)), `system:serviceaccount:${ns}:tapper`);
  await assert.rejects(authorizer.authorize(caller('default')), /may not watch deployments\/tap in tap\.weft\.io in namespace default/);
  await assert.rejects(authorizer.authorize(caller(ns, 'statefulset')), /may not watch statefulsets\/tap/);
  await assert.rejects(authorizer.authorize({ ...caller(ns), headers: { authorization: 'Bearer not-a-token' } }), /rejected by TokenReview/);
  await assert.rejects(authorizer.authorize({ ...caller(ns), headers: { authorization: `Bearer ${apiServerToken}` } }), /rejected by TokenReview for audience tap\.weft\.io/);
});
