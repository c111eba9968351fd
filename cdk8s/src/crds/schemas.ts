/**
 * OpenAPI v3 schemas of weft's custom resources, as documented in
 * docs/destination.md (the destination component reads them).
 */
type S = Record<string, unknown>;

const str = (description: string, extra: S = {}): S => ({ type: 'string', description, ...extra });
const duration = (description: string): S => str(description, { pattern: '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$' });
const obj = (properties: S, required: string[] = [], description?: string): S => ({
  type: 'object',
  ...(description ? { description } : {}),
  ...(required.length ? { required } : {}),
  properties,
});
const arr = (items: S, description: string, minItems?: number): S => ({ type: 'array', description, items, ...(minItems ? { minItems } : {}) });
const statusRange = obj({ min: { type: 'integer', minimum: 100, maximum: 599 }, max: { type: 'integer', minimum: 100, maximum: 599 } }, ['min', 'max']);

const labelSelector = obj(
  {
    matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
    matchExpressions: arr(
      obj({ key: str('label key'), operator: str('operator', { enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] }), values: arr({ type: 'string' }, 'values') }, ['key', 'operator']),
      'label selector requirements',
    ),
  },
  [],
  'Pods this Server selects ({} selects all pods of the namespace).',
);

export const serviceProfileSpec = obj({
  routes: arr(
    obj(
      {
        name: str('Route name (metrics label rt_route).'),
        matches: arr(
          obj({
            method: str('HTTP method; empty matches any.'),
            path: { ...obj({ exact: str('exact path'), prefix: str('path prefix'), regex: str('ECMAScript regex') }), maxProperties: 1, minProperties: 1 },
            headers: arr({ ...obj({ name: str('header name (case-insensitive)'), exact: str('exact value'), regex: str('regex') }, ['name']) }, 'All must match.'),
          }),
          'The route matches when any entry matches.',
          1,
        ),
        timeout: duration('Per-attempt timeout, until the response body ended.'),
        totalTimeout: duration('Timeout across retries, until the response body ended.'),
        idleTimeout: duration('Ends a stream when no bytes move either way for this long.'),
        isRetryable: { type: 'boolean', description: 'Retry failed requests on this route.' },
        retryStatuses: arr(statusRange, 'Statuses that are retried (default 500-599).'),
        retryableGrpcStatuses: arr(
          { 'x-kubernetes-int-or-string': true, description: 'A gRPC status name (UNAVAILABLE) or code (1-16).' },
          'gRPC statuses that are retried (a retryable route naming them also opts its gRPC calls in).',
        ),
        responseClasses: arr(obj({ status: statusRange, isFailure: { type: 'boolean' } }, ['status']), 'Statuses that count as failures.'),
      },
      ['name', 'matches'],
    ),
    'Routes; the first that matches wins.',
  ),
  retryBudget: obj(
    { retryRatio: { type: 'number', minimum: 0 }, minRetriesPerSecond: { type: 'integer', minimum: 0 }, ttl: duration('Window of the budget.') },
    [],
    'Limits retries to a ratio of requests.',
  ),
  dstOverrides: arr(obj({ authority: str('host:port of a backend'), weight: { type: 'integer', minimum: 0 } }, ['authority', 'weight']), 'Traffic split across backends.'),
});

export const serverSpec = obj(
  {
    podSelector: labelSelector,
    port: { 'x-kubernetes-int-or-string': true, description: 'Port number (1-65535) or the name of a container port.' },
    proxyProtocol: str('Protocol; unknown means detect.', { enum: ['unknown', 'HTTP/1', 'HTTP/2', 'gRPC', 'opaque'], default: 'unknown' }),
  },
  ['podSelector', 'port'],
);

export const authorizationPolicySpec = obj(
  {
    targetRef: obj(
      { group: str('policy.weft.io for Server, gateway.networking.k8s.io for HTTPRoute (route-level), empty for Namespace'), kind: str('kind', { enum: ['Server', 'HTTPRoute', 'Namespace'] }), name: str('name') },
      ['kind', 'name'],
    ),
    requiredAuthenticationRefs: arr(
      obj(
        { group: str('API group'), kind: str('kind', { enum: ['MeshTLSAuthentication', 'NetworkAuthentication', 'ServiceAccount'] }), name: str('name'), namespace: str('namespace (default: the policy namespace)') },
        ['kind', 'name'],
      ),
      'All must be satisfied; empty allows any client.',
    ),
  },
  ['targetRef'],
);

export const meshTLSAuthenticationSpec = {
  ...obj({
    identities: arr({ type: 'string' }, 'DNS or SPIFFE identities; "*" means any authenticated client.', 1),
    identityRefs: arr(obj({ kind: str('kind', { enum: ['ServiceAccount', 'Namespace'] }), name: str('name'), namespace: str('namespace') }, ['kind', 'name']), 'ServiceAccounts or Namespaces.', 1),
  }),
  oneOf: [{ required: ['identities'] }, { required: ['identityRefs'] }],
};

export const networkAuthenticationSpec = obj(
  { networks: arr(obj({ cidr: str('IPv4 or IPv6 CIDR'), except: arr({ type: 'string' }, 'CIDRs excluded') }, ['cidr']), 'Client networks.', 1) },
  ['networks'],
);
