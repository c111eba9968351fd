/**
 * Kubernetes API calls as CLIENT spans (docs/tracing.md, "Control plane").
 * Every API client a component makes (`kc.makeApiClient`) sends through
 * `TracedHttpLibrary`: under the span the component is serving
 * (`activeSpan`, e.g. identity's Certify) the call is its child; outside one
 * (start-up, an informer's list) it starts a trace at the tracer's rate. The
 * request carries `traceparent`, so an API server that traces sees the same
 * trace. Watch streams (informers) are not spans: they stay open for hours.
 */
import * as k8s from '@kubernetes/client-node';
import { activeSpan, traceparentOf, type Tracer } from '../trace/tracer.js';

// Query parameters of the Kubernetes API written to url.full as they are; any other value (a `continue` token) is redacted.
const PLAIN_QUERY = new Set(['labelSelector', 'fieldSelector', 'watch', 'resourceVersion', 'resourceVersionMatch', 'limit', 'timeoutSeconds', 'allowWatchBookmarks', 'dryRun', 'fieldManager', 'fieldValidation', 'force', 'propagationPolicy', 'pretty']);

/** The URL for `url.full`: no credentials, query values other than selectors and versions redacted. */
export function spanUrl(raw: string): string {
  const url = new URL(raw);
  url.username = '';
  url.password = '';
  for (const key of [...url.searchParams.keys()]) if (!PLAIN_QUERY.has(key)) url.searchParams.set(key, 'REDACTED');
  return url.toString();
}

export interface ApiPath {
  /** The path with the namespace and object name replaced: `/api/v1/namespaces/{namespace}/secrets/{name}`. */
  readonly template: string;
  /** `secrets`, `tokenreviews.authentication.k8s.io` (plus `/subresource`). */
  readonly resource: string | undefined;
  readonly namespace: string | undefined;
}

/** Reads a Kubernetes API path: `/api/v1/...` (core) or `/apis/<group>/<version>/...`. */
export function apiPath(path: string): ApiPath {
  const parts = path.split('/').filter(Boolean);
  const prefix = parts[0] === 'api' ? 2 : parts[0] === 'apis' ? 3 : -1;
  if (prefix < 0 || parts.length <= prefix) return { template: path, resource: undefined, namespace: undefined };
  const group = parts[0] === 'apis' ? parts[1] : '';
  const rest = parts.slice(prefix);
  let namespace: string | undefined;
  const template = parts.slice(0, prefix);
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    template.push('namespaces', '{namespace}');
    rest.splice(0, 2);
  }
  const [resource, name, sub] = rest;
  template.push(resource!);
  if (name !== undefined) template.push('{name}');
  if (sub !== undefined) template.push(sub);
  return { template: `/${template.join('/')}`, resource: `${resource}${group ? `.${group}` : ''}${sub ? `/${sub}` : ''}`, namespace };
}

/** The Kubernetes client's HTTP library, tracing each request it sends. */
export class TracedHttpLibrary implements k8s.HttpLibrary {
  constructor(
    private readonly tracer: Tracer,
    private readonly inner: k8s.HttpLibrary = new k8s.IsomorphicFetchHttpLibrary(),
  ) {}

  send(request: k8s.RequestContext): k8s.Observable<k8s.ResponseContext> {
    const method = request.getHttpMethod().toString();
    const url = new URL(request.getUrl());
    const api = apiPath(url.pathname);
    const span = this.tracer.startChild(activeSpan.getStore(), `${method} ${api.template}`, 'client');
    if (span === undefined) return this.inner.send(request);
    span.set('http.request.method', method);
    span.set('server.address', url.hostname);
    span.set('server.port', url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80);
    span.set('url.full', spanUrl(url.toString()));
    span.set('url.template', api.template);
    span.set('k8s.resource', api.resource);
    span.set('k8s.request.namespace', api.namespace);
    request.setHeaderParam('traceparent', traceparentOf(span));
    const done = this.inner
      .send(request)
      .toPromise()
      .then(
        (rsp) => {
          span.set('http.response.status_code', rsp.httpStatusCode);
          if (rsp.httpStatusCode >= 400) {
            span.set('error.type', String(rsp.httpStatusCode));
            span.error = `HTTP ${rsp.httpStatusCode}`;
          }
          this.tracer.finish(span);
          return rsp;
        },
        (err: unknown) => {
          span.set('error.type', (err as { code?: string }).code ?? (err as Error).name ?? 'error');
          span.error = (err as Error).message;
          this.tracer.finish(span);
          throw err;
        },
      );
    return new k8s.Observable(done);
  }
}

/**
 * A KubeConfig whose API clients trace their requests. Components get it from `loadKubeConfig` when tracing
 * is on; the clients they make with `makeApiClient` need no change.
 */
export class TracedKubeConfig extends k8s.KubeConfig {
  constructor(private readonly tracer: Tracer) {
    super();
  }

  override makeApiClient<T extends k8s.ApiType>(apiClientType: k8s.ApiConstructor<T>): T {
    const cluster = this.getCurrentCluster();
    if (!cluster) throw new Error('No active cluster!');
    const config = k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(cluster.server, {}),
      authMethods: { default: this },
      httpApi: new TracedHttpLibrary(this.tracer),
    });
    return new apiClientType(config);
  }
}
