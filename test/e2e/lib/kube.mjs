// A small Kubernetes REST client over node:https for the harness, the node
// agent and the scenarios: enough for get/list/create/patch/delete/watch with
// either a client certificate or a bearer token. Kubeconfigs are written as
// JSON (valid YAML), with credentials inline so any client can load them.
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';

export class KubeError extends Error {
  constructor(status, body, what) {
    super(`${what}: HTTP ${status} ${typeof body === 'object' ? (body.message ?? JSON.stringify(body)) : body}`);
    this.status = status;
    this.body = body;
  }
}

/** Writes a kubeconfig for one user; `creds` has server, ca (PEM) and either cert+key (PEM) or token. */
export function writeKubeconfig(path, name, creds) {
  const b64 = (s) => Buffer.from(s).toString('base64');
  const user = creds.token ? { token: creds.token } : { 'client-certificate-data': b64(creds.cert), 'client-key-data': b64(creds.key) };
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'weft-e2e', cluster: { server: creds.server, 'certificate-authority-data': b64(creds.ca) } }],
    users: [{ name, user }],
    contexts: [{ name, context: { cluster: 'weft-e2e', user: name } }],
    'current-context': name,
  };
  writeFileSync(path, JSON.stringify(cfg, null, 2), { mode: 0o600 });
  return path;
}

/** Reads a kubeconfig this harness wrote. */
export function readKubeconfig(path) {
  const cfg = JSON.parse(readFileSync(path, 'utf8'));
  const cluster = cfg.clusters[0].cluster;
  const user = cfg.users[0].user;
  const d = (s) => (s ? Buffer.from(s, 'base64').toString() : undefined);
  return { server: cluster.server, ca: d(cluster['certificate-authority-data']), cert: d(user['client-certificate-data']), key: d(user['client-key-data']), token: user.token };
}

export class Kube {
  constructor(creds) {
    this.creds = creds;
    this.url = new URL(creds.server);
    this.agent = new https.Agent({ ca: creds.ca, cert: creds.cert, key: creds.key, keepAlive: true, maxSockets: 16 });
  }

  static fromKubeconfig(path) {
    return new Kube(readKubeconfig(path));
  }

  headers(extra = {}) {
    const h = { accept: 'application/json', ...extra };
    if (this.creds.token) h.authorization = `Bearer ${this.creds.token}`;
    return h;
  }

  /**
   * One request; resolves the parsed JSON body, rejects KubeError on non-2xx. With `warnings`, resolves
   * `{ body, warnings }`: the texts of the response's `Warning` headers (admission webhooks' warnings among them).
   */
  request(method, path, body, { contentType = 'application/json', timeoutMs = 30_000, warnings = false } = {}) {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: this.url.hostname,
          port: this.url.port,
          path,
          method,
          agent: this.agent,
          headers: this.headers(data ? { 'content-type': contentType, 'content-length': Buffer.byteLength(data) } : {}),
          timeout: timeoutMs,
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let parsed = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // non-JSON (e.g. /healthz)
            }
            if (res.statusCode >= 200 && res.statusCode < 300) resolve(warnings ? { body: parsed, warnings: warningTexts(res.rawHeaders) } : parsed);
            else reject(new KubeError(res.statusCode, parsed, `${method} ${path}`));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
  }

  get(path) {
    return this.request('GET', path);
  }
  create(path, obj) {
    return this.request('POST', path, obj);
  }
  /** POST that resolves `{ body, warnings }` (the API server's `Warning` headers). */
  createWarned(path, obj) {
    return this.request('POST', path, obj, { warnings: true });
  }
  put(path, obj) {
    return this.request('PUT', path, obj);
  }
  delete(path, body) {
    return this.request('DELETE', path, body);
  }
  /** JSON merge patch. */
  patch(path, obj) {
    return this.request('PATCH', path, obj, { contentType: 'application/merge-patch+json' });
  }
  /** Server-side apply as field manager `weft-e2e`. */
  apply(path, obj) {
    const sep = path.includes('?') ? '&' : '?';
    return this.request('PATCH', `${path}${sep}fieldManager=weft-e2e&force=true`, obj, { contentType: 'application/apply-patch+yaml' });
  }

  /** GET that resolves undefined on 404. */
  async getOrNull(path) {
    try {
      return await this.get(path);
    } catch (err) {
      if (err.status === 404) return undefined;
      throw err;
    }
  }

  /** Creates `obj`, or leaves an existing one alone (409). */
  async ensure(path, obj) {
    try {
      return await this.create(path, obj);
    } catch (err) {
      if (err.status === 409) return undefined;
      throw err;
    }
  }

  /**
   * Watches `path` (a list path with query) from `resourceVersion`, calling
   * onEvent({type, object}) per event, until stop() or the server ends it;
   * resolves when the stream ends, so callers re-list and re-watch.
   */
  watch(path, onEvent) {
    const sep = path.includes('?') ? '&' : '?';
    let req;
    const done = new Promise((resolve, reject) => {
      req = https.request(
        { host: this.url.hostname, port: this.url.port, path: `${path}${sep}watch=true&allowWatchBookmarks=true`, agent: this.agent, headers: this.headers() },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new KubeError(res.statusCode, '', `WATCH ${path}`));
            return;
          }
          let buf = '';
          res.on('data', (c) => {
            buf += c.toString();
            let i;
            while ((i = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, i);
              buf = buf.slice(i + 1);
              if (line.trim()) onEvent(JSON.parse(line));
            }
          });
          res.on('end', resolve);
          res.on('error', resolve);
          res.on('close', resolve);
        },
      );
      req.on('error', reject);
      req.end();
    });
    return { done, stop: () => req.destroy() };
  }

  close() {
    this.agent.destroy();
  }
}

/** The texts of `Warning: 299 - "<text>"` headers, each header on its own (a text may hold commas). */
function warningTexts(rawHeaders) {
  const out = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() !== 'warning') continue;
    const m = /^\d{3} \S+ "((?:[^"\\]|\\.)*)"/.exec(rawHeaders[i + 1]);
    out.push(m ? m[1].replace(/\\(.)/g, '$1') : rawHeaders[i + 1]);
  }
  return out;
}
