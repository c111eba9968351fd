// The `kubernetes` tap mode against a real API server (the e2e environment,
// when WEFT_E2E_KUBECONFIG is set): a ServiceAccount's token is reviewed, and
// a Role on `deployments/tap` in `tap.weft.io` decides per namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { k8s, loadKubeConfig } from '@weft/common/k8s/client';
import { KubernetesAuthorizer } from './authorizer.js';
import { kubernetesReviews } from './kubernetes-reviews.js';

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
  const token = (await core.createNamespacedServiceAccountToken({ namespace: ns, name: 'tapper', body: { spec: { audiences: [], expirationSeconds: 600 } } })).status?.token;
  assert.ok(token);
  const authorizer = new KubernetesAuthorizer(kubernetesReviews(kc));
  const caller = (namespace: string, kind: 'deployment' | 'statefulset' = 'deployment') => ({ remoteAddress: '10.0.0.9', headers: { authorization: `Bearer ${token}` }, scope: { namespace, resource: { kind, name: 'web' } } });
  assert.equal(await authorizer.authorize(caller(ns)), `system:serviceaccount:${ns}:tapper`);
  await assert.rejects(authorizer.authorize(caller('default')), /may not watch deployments\/tap in tap\.weft\.io in namespace default/);
  await assert.rejects(authorizer.authorize(caller(ns, 'statefulset')), /may not watch statefulsets\/tap/);
  await assert.rejects(authorizer.authorize({ ...caller(ns), headers: { authorization: 'Bearer not-a-token' } }), /rejected by TokenReview/);
});
