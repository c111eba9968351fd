// The Kubernetes TokenReview validator: how TokenReview answers translate into
// accept/refuse, that it asks for weft's audience, that an unreachable API
// server is UNAVAILABLE (retry) rather than UNAUTHENTICATED, and the start-up
// RBAC check. Against a fake API server here; against the real one of the
// e2e environment when WEFT_E2E_KUBECONFIG is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { WeftError } from '@weft/common/errors';
import { k8s, loadKubeConfig } from '@weft/common/k8s/client';
import { KubernetesTokenValidator, POD_NAME_EXTRA, translateTokenReview } from './kubernetes-token-validator.js';
import { FakeApiServer } from './testing/fake-apiserver.js';
import { captureLog } from './testing/log-capture.js';

const podBound = (username: string, audiences = ['identity.weft.io'], extra: Record<string, string[]> = { [POD_NAME_EXTRA]: ['web-7d9f-abcde'] }): k8s.V1TokenReview => ({
  spec: {},
  status: { authenticated: true, audiences, user: { username, extra } },
});

function refusedWith(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof WeftError && err.code === 'UNAUTHENTICATED' && message.test(err.message));
}

test('a pod-bound ServiceAccount token for weft is translated to its ServiceAccount and pod', () => {
  assert.deepEqual(translateTokenReview(podBound('system:serviceaccount:demo:web')), { namespace: 'demo', serviceAccount: 'web', podName: 'web-7d9f-abcde' });
});

test('TokenReview refusals, foreign audiences, non-ServiceAccount users and unbound tokens are UNAUTHENTICATED', () => {
  refusedWith(() => translateTokenReview({ spec: {}, status: { authenticated: false, error: 'token has expired' } }), /token has expired/);
  refusedWith(() => translateTokenReview({ spec: {}, status: { authenticated: false } }), /not authenticated/);
  refusedWith(() => translateTokenReview({ spec: {} }), /no status/);
  refusedWith(() => translateTokenReview(podBound('system:serviceaccount:demo:web', ['https://kubernetes.default.svc'])), /not for audience identity\.weft\.io/);
  refusedWith(() => translateTokenReview(podBound('system:serviceaccount:demo:web', [])), /got none/);
  refusedWith(() => translateTokenReview(podBound('kubernetes-admin')), /"kubernetes-admin" is not a ServiceAccount token/);
  refusedWith(() => translateTokenReview(podBound('system:serviceaccount:demo:web', ['identity.weft.io'], {})), /not bound to a pod/);
});

test('the validator reviews the token for the identity.weft.io audience over the real client', async (t) => {
  const api = await new FakeApiServer().start();
  t.after(() => api.close());
  api.tokenReview = (spec) => ({ status: 201, body: { status: spec.token === 'good' ? podBound('system:serviceaccount:demo:web').status : { authenticated: false, error: 'invalid bearer token' } } });
  const validator = new KubernetesTokenValidator(api.kubeConfig, captureLog().log);
  assert.deepEqual(await validator.validate('good'), { namespace: 'demo', serviceAccount: 'web', podName: 'web-7d9f-abcde' });
  await assert.rejects(validator.validate('bad'), (err: unknown) => err instanceof WeftError && err.code === 'UNAUTHENTICATED' && /invalid bearer token/.test(err.message));
  assert.deepEqual(api.tokenReviews.map((s) => [s.token, s.audiences]), [['good', ['identity.weft.io']], ['bad', ['identity.weft.io']]]);
});

test('an API server error is UNAVAILABLE, not a verdict on the token', async (t) => {
  const api = await new FakeApiServer().start();
  t.after(() => api.close());
  api.tokenReview = () => ({ status: 500, body: { kind: 'Status', status: 'Failure', message: 'etcd is down' } });
  const { log, records } = captureLog();
  const validator = new KubernetesTokenValidator(api.kubeConfig, log);
  await assert.rejects(validator.validate('any'), (err: unknown) => err instanceof WeftError && err.code === 'UNAVAILABLE' && /HTTP 500/.test(err.message));
  assert.ok(records.some((r) => r.msg === 'TokenReview failed'));
});

test('the start-up check fails naming the missing tokenreviews permission, and passes once granted', async (t) => {
  const api = await new FakeApiServer().start();
  t.after(() => api.close());
  const validator = new KubernetesTokenValidator(api.kubeConfig, captureLog().log);
  await assert.rejects(validator.checkAccess(), (err: unknown) => err instanceof WeftError && err.code === 'FAILED_PRECONDITION' && /create tokenreviews\.authentication\.k8s\.io \(cluster-wide\)/.test(err.message));
  api.allowed.add('create authentication.k8s.io/tokenreviews');
  await validator.checkAccess();
});

// Real parts: the e2e environment's kube-apiserver mints and reviews real tokens.
const e2eKubeconfig = process.env['WEFT_E2E_KUBECONFIG'];
const skipReason = e2eKubeconfig ? false : 'WEFT_E2E_KUBECONFIG is not set (no real API server to review tokens against)';
if (skipReason) console.log(`# skipping real TokenReview test: ${skipReason}`);

test('a real TokenReview accepts a pod-bound projected token and refuses unbound or foreign-audience ones', { skip: skipReason }, async () => {
  const kc = loadKubeConfig({ kubeconfig: e2eKubeconfig! });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespace = `weft-identity-${randomBytes(4).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  try {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'web' } } });
    const pod = await core.createNamespacedPod({
      namespace,
      body: { metadata: { name: 'web-0' }, spec: { serviceAccountName: 'web', containers: [{ name: 'app', image: 'registry.invalid/none' }] } },
    });
    const token = async (audiences: string[], bound: boolean) =>
      (
        await core.createNamespacedServiceAccountToken({
          namespace,
          name: 'web',
          body: { spec: { audiences, expirationSeconds: 600, ...(bound ? { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'web-0', uid: pod.metadata!.uid! } } : {}) } },
        })
      ).status!.token;
    const validator = new KubernetesTokenValidator(kc, captureLog().log);
    await validator.checkAccess();
    assert.deepEqual(await validator.validate(await token(['identity.weft.io'], true)), { namespace, serviceAccount: 'web', podName: 'web-0' });
    await assert.rejects(validator.validate(await token(['identity.weft.io'], false)), /not bound to a pod/);
    await assert.rejects(validator.validate(await token(['somebody-else'], true)), (err: unknown) => err instanceof WeftError && err.code === 'UNAUTHENTICATED');
  } finally {
    await core.deleteNamespace({ name: namespace });
  }
});

