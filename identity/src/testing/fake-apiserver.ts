/**
 * A minimal in-process Kubernetes API server over plain HTTP for tests: the
 * TokenReview and SelfSubjectAccessReview endpoints, and list + watch of
 * namespaced Secrets and ConfigMaps, enough for @kubernetes/client-node's
 * real clients and informers. Not a conformance fake: only what identity uses.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { k8s } from '@weft/common/k8s/client';

type Obj = { metadata: { name: string; namespace: string; resourceVersion?: string } } & Record<string, unknown>;
const KINDS = { secrets: 'Secret', configmaps: 'ConfigMap' } as const;
type Resource = keyof typeof KINDS;

interface Watcher {
  readonly resource: Resource;
  readonly namespace: string;
  readonly name: string | undefined;
  readonly res: http.ServerResponse;
}

export class FakeApiServer {
  private readonly objects = new Map<string, Obj>();
  private readonly watchers = new Set<Watcher>();
  private rv = 1;
  private server!: http.Server;
  /** TokenReview answers; the default refuses every token. */
  tokenReview: (spec: k8s.V1TokenReviewSpec) => { status: number; body: unknown } = () => ({ status: 201, body: { status: { authenticated: false } } });
  /** Permissions allowed to the caller, as `verb group/resource`. */
  readonly allowed = new Set<string>();
  readonly tokenReviews: k8s.V1TokenReviewSpec[] = [];
  /** Access reviews wait for this before answering (tests observe a process that is still starting). */
  accessReviewGate: Promise<void> = Promise.resolve();

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.route(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get kubeConfig(): k8s.KubeConfig {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: 'identity', token: 'identity-sa-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'identity' }],
      currentContext: 'fake',
    });
    return kc;
  }

  /** Creates or replaces an object and tells the watchers. */
  put(resource: Resource, obj: Obj): void {
    const key = `${resource}/${obj.metadata.namespace}/${obj.metadata.name}`;
    const type = this.objects.has(key) ? 'MODIFIED' : 'ADDED';
    const stored = { ...obj, apiVersion: 'v1', kind: KINDS[resource], metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
    this.objects.set(key, stored);
    this.notify(resource, type, stored);
  }

  remove(resource: Resource, namespace: string, name: string): void {
    const key = `${resource}/${namespace}/${name}`;
    const obj = this.objects.get(key);
    if (!obj) return;
    this.objects.delete(key);
    this.notify(resource, 'DELETED', { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } });
  }

  /** Number of open watch streams (tests wait for the informer to be watching). */
  get watching(): number {
    return this.watchers.size;
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private notify(resource: Resource, type: string, obj: Obj): void {
    for (const w of this.watchers) {
      if (w.resource !== resource || w.namespace !== obj.metadata.namespace) continue;
      if (w.name !== undefined && w.name !== obj.metadata.name) continue;
      w.res.write(JSON.stringify({ type, object: obj }) + '\n');
    }
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const body = req.method === 'POST' ? JSON.parse(await readBody(req)) : undefined;
    if (req.method === 'POST' && url.pathname === '/apis/authentication.k8s.io/v1/tokenreviews') {
      this.tokenReviews.push(body.spec);
      const answer = this.tokenReview(body.spec);
      return json(res, answer.status, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: body.spec, ...(answer.body as object) });
    }
    if (req.method === 'POST' && url.pathname === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') {
      await this.accessReviewGate;
      const a = body.spec.resourceAttributes;
      const allowed = this.allowed.has(`${a.verb} ${a.group ?? ''}/${a.resource}`);
      return json(res, 201, { ...body, status: { allowed, ...(allowed ? {} : { reason: 'no RBAC policy matched' }) } });
    }
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/(secrets|configmaps)$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      const namespace = m[1]!;
      const resource = m[2] as Resource;
      const name = /^metadata\.name=(.+)$/.exec(url.searchParams.get('fieldSelector') ?? '')?.[1];
      if (url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.flushHeaders();
        const watcher = { resource, namespace, name, res };
        this.watchers.add(watcher);
        res.on('close', () => this.watchers.delete(watcher));
        return;
      }
      const items = [...this.objects.entries()]
        .filter(([key, o]) => key.startsWith(`${resource}/${namespace}/`) && (name === undefined || o.metadata.name === name))
        .map(([, o]) => o);
      return json(res, 200, { apiVersion: 'v1', kind: `${KINDS[resource]}List`, metadata: { resourceVersion: String(this.rv) }, items });
    }
    json(res, 404, { kind: 'Status', status: 'Failure', code: 404, reason: 'NotFound', message: `fake apiserver has no ${req.method} ${url.pathname}` });
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
