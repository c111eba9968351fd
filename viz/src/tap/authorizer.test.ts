// Who may tap: loopback, a bearer token, or a Kubernetes user allowed by a SubjectAccessReview.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnyOfAuthorizer, KubernetesAuthorizer, LoopbackAuthorizer, TokenAuthorizer, type KubernetesReviews, type TapCaller } from './authorizer.js';
import { PermissionDeniedError, UnauthenticatedError } from '../errors.js';

const caller = (remoteAddress: string, authorization?: string): TapCaller => ({
  remoteAddress,
  headers: authorization ? { authorization } : {},
  scope: { namespace: 'shop', resource: { kind: 'deployment', name: 'web' } },
});

test('loopback mode allows 127/8 and ::1 (also IPv4-mapped) and refuses the rest', async () => {
  const a = new LoopbackAuthorizer();
  for (const ip of ['127.0.0.1', '127.3.2.1', '::1', '::ffff:127.0.0.1']) assert.equal(await a.authorize(caller(ip)), 'loopback');
  await assert.rejects(a.authorize(caller('10.0.0.8')), PermissionDeniedError);
  await assert.rejects(a.authorize(caller('::ffff:10.0.0.8')), PermissionDeniedError);
});

test('token mode needs the exact bearer token', async () => {
  const a = new TokenAuthorizer('s3cret');
  assert.equal(await a.authorize(caller('10.0.0.8', 'Bearer s3cret')), 'token');
  await assert.rejects(a.authorize(caller('10.0.0.8')), UnauthenticatedError);
  await assert.rejects(a.authorize(caller('10.0.0.8', 'Bearer s3cre')), PermissionDeniedError);
  await assert.rejects(a.authorize(caller('10.0.0.8', 'Basic czNjcmV0')), UnauthenticatedError);
});

test('kubernetes mode asks TokenReview who the caller is and SubjectAccessReview whether they may tap', async () => {
  const asked: unknown[] = [];
  const reviews: KubernetesReviews = {
    audience: 'tap.weft.io',
    tokenReview: async (token) => (token === 'alice-token' ? { username: 'alice', groups: ['dev'] } : undefined),
    subjectAccessReview: async (user, attrs) => {
      asked.push({ user: user.username, ...attrs });
      return { allowed: user.username === 'alice' && attrs.namespace === 'shop' };
    },
  };
  const a = new KubernetesAuthorizer(reviews);
  assert.equal(await a.authorize(caller('10.0.0.8', 'Bearer alice-token')), 'alice');
  assert.deepEqual(asked, [{ user: 'alice', namespace: 'shop', resource: 'deployments', name: 'web' }]);
  await assert.rejects(a.authorize(caller('10.0.0.8', 'Bearer mallory')), (e: unknown) => e instanceof UnauthenticatedError && /rejected by TokenReview for audience tap\.weft\.io/.test((e as Error).message));
  await assert.rejects(a.authorize({ ...caller('10.0.0.8', 'Bearer alice-token'), scope: { namespace: 'prod', resource: { kind: 'deployment', name: 'web' } } }), /may not watch deployments\/tap in tap\.weft\.io in namespace prod/);
  await assert.rejects(a.authorize({ ...caller('10.0.0.8', 'Bearer alice-token'), scope: { namespace: undefined, resource: { kind: 'deployment', name: 'web' } } }), /in every namespace.*a ClusterRole/);
});

test('any-of allows when one mode allows and reports every refusal otherwise', async () => {
  const a = new AnyOfAuthorizer([new LoopbackAuthorizer(), new TokenAuthorizer('t')]);
  assert.equal(await a.authorize(caller('127.0.0.1')), 'loopback');
  assert.equal(await a.authorize(caller('10.0.0.8', 'Bearer t')), 'token');
  await assert.rejects(a.authorize(caller('10.0.0.8', 'Bearer x')), (e: unknown) => e instanceof PermissionDeniedError && /loopback: .*; token: the tap token is not valid/.test((e as Error).message));
});
