import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiPath, spanUrl } from './tracing.js';

test('a Kubernetes API path gives its template, resource and namespace', () => {
  assert.deepEqual(apiPath('/apis/authentication.k8s.io/v1/tokenreviews'), { template: '/apis/authentication.k8s.io/v1/tokenreviews', resource: 'tokenreviews.authentication.k8s.io', namespace: undefined });
  assert.deepEqual(apiPath('/api/v1/namespaces/weft/secrets/weft-identity-issuer'), { template: '/api/v1/namespaces/{namespace}/secrets/{name}', resource: 'secrets', namespace: 'weft' });
  assert.deepEqual(apiPath('/apis/gateway.networking.k8s.io/v1/namespaces/a/httproutes/r/status'), { template: '/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/httproutes/{name}/status', resource: 'httproutes.gateway.networking.k8s.io/status', namespace: 'a' });
  assert.deepEqual(apiPath('/api/v1/pods'), { template: '/api/v1/pods', resource: 'pods', namespace: undefined });
  assert.deepEqual(apiPath('/version'), { template: '/version', resource: undefined, namespace: undefined });
});

test('url.full keeps selectors and versions, redacts other query values and drops credentials', () => {
  assert.equal(
    spanUrl('https://u:p@10.0.0.1:6443/api/v1/pods?labelSelector=app%3Dweb&limit=500&continue=eyJzZWNyZXQiOjF9'),
    'https://10.0.0.1:6443/api/v1/pods?labelSelector=app%3Dweb&limit=500&continue=REDACTED',
  );
});
