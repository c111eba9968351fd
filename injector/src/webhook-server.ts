/**
 * The admission webhook's HTTPS server: `POST /inject` (AdmissionReview v1)
 * and `GET /ready`. Its certificate and key are read from files and swapped
 * in without a restart when they change (cert-manager renews them).
 *
 * Anything in the cluster can reach this port, so what one flood can make it
 * hold is bounded: bodies (413 past `maxBodyBytes`), reviews in progress (429
 * past `maxConcurrentReviews`, answered before the body is read), open
 * connections, and how long headers and a whole request may take.
 *
 * With a tracer, each AdmissionReview is a SERVER span (`POST /inject`) under
 * the API server's `traceparent` when it sends one (docs/tracing.md).
 */
import https from 'node:https';
import type http from 'node:http';
import { createSecureContext } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { SpanRecord } from '@weft/common/trace/span';
import { activeSpan, type Tracer } from '@weft/common/trace/tracer';
import { ConfigError, WeftError } from '@weft/common/errors';
import type { Logger } from '@weft/common/log';
import { admit, parseAdmissionReview, MalformedAdmissionReview, type AdmissionContext, type AdmissionOutcome } from './admission.js';
import { watchFiles, type FileWatch } from './file-watch.js';

export interface WebhookLimits {
  /** The API server accepts at most 3 MiB requests; a review body beyond this is not a real one. */
  readonly maxBodyBytes: number;
  /** Reviews being read or decided at once; more get 429 at once instead of waiting in memory. */
  readonly maxConcurrentReviews: number;
  /** Open connections (each holds TLS state); new ones beyond this are closed. */
  readonly maxConnections: number;
  /** Time to send the request headers. */
  readonly headersTimeoutMs: number;
  /** Time to send a whole request; 30 s is the longest the API server waits for a webhook. */
  readonly requestTimeoutMs: number;
  /**
   * How long an idle kept-alive connection stays open. Longer than the API server keeps one (90 s, Go's idle
   * connection timeout): a server that closes first races the API server's next review on that connection, which
   * then fails ("connection reset by peer") and, under failurePolicy Ignore, admits the pod without its proxy.
   */
  readonly keepAliveTimeoutMs: number;
}

export const DEFAULT_WEBHOOK_LIMITS: WebhookLimits = {
  maxBodyBytes: 4 * 1024 * 1024,
  maxConcurrentReviews: 16,
  maxConnections: 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 120_000,
};

export interface WebhookServerOptions {
  readonly host: string;
  readonly port: number;
  readonly certFile: string;
  readonly keyFile: string;
  /** How often to re-read the certificate files besides file events. */
  readonly certPollMs: number;
  readonly admission: AdmissionContext;
  /** Why the webhook cannot serve yet (e.g. namespace cache not synced), or undefined. */
  readonly notReadyReason: () => string | undefined;
  readonly log: Logger;
  /** Defaults: DEFAULT_WEBHOOK_LIMITS. */
  readonly limits?: Partial<WebhookLimits>;
  /** Called once per request to /inject with its result, for metrics. */
  readonly onAdmission?: (result: AdmissionOutcome['result'] | 'malformed' | 'too-large' | 'overloaded') => void;
  readonly onCertificateReload?: (ok: boolean) => void;
  /** Traces each AdmissionReview; undefined: off. */
  readonly tracer?: Tracer;
}

export interface WebhookServer {
  readonly port: number;
  /**
   * After SIGTERM: keep answering, but close each connection after its answer (and idle ones now). The API server
   * keeps its webhook connection alive, so without this it would go on calling this terminating pod for the whole
   * drain instead of reaching a live one through the Service; during an upgrade the old injector would write the
   * old proxy version into pods created meanwhile.
   */
  drain(): void;
  close(): Promise<void>;
}

function loadPair(certFile: string, keyFile: string): { cert: string; key: string } {
  const pair = { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  createSecureContext(pair); // throws when the key does not match the certificate
  return pair;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

class BodyTooLarge extends HttpError {
  constructor(max: number) {
    super(413, `body larger than ${max} bytes`);
  }
}

/** The body, refused as soon as its announced or received size passes `max`; nothing past `max` is kept. */
function readBody(req: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > max) {
      reject(new BodyTooLarge(max));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size <= max) {
        chunks.push(c);
        return;
      }
      req.off('data', onData);
      req.pause();
      chunks.length = 0;
      reject(new BodyTooLarge(max));
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Answers 413 and closes the connection, but first reads and discards up to
 * `drainBytes` more of the body: closing a socket with unread input resets it,
 * and the reset can overtake the answer at a client that is still sending.
 */
function refuseBody(req: http.IncomingMessage, res: http.ServerResponse, message: string, drainBytes: number): void {
  const text = `${message}\n`;
  res.writeHead(413, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text), connection: 'close' });
  res.write(text);
  let drained = 0;
  const finish = (): void => {
    req.off('data', onData);
    res.end();
  };
  const onData = (c: Buffer): void => {
    drained += c.length;
    if (drained > drainBytes) finish();
  };
  if (req.complete) {
    res.end();
    return;
  }
  req.on('data', onData);
  req.once('end', finish);
  req.resume();
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  let pair: { cert: string; key: string };
  try {
    pair = loadPair(opts.certFile, opts.keyFile);
  } catch (err) {
    throw new ConfigError([`webhook certificate ${opts.certFile} / key ${opts.keyFile}: ${(err as Error).message}`]);
  }
  const { log } = opts;
  const limits: WebhookLimits = { ...DEFAULT_WEBHOOK_LIMITS, ...opts.limits };
  let reviewsInProgress = 0;
  let draining = false;

  /** The review's span, ended with the answer (whatever it is: a patch, 400, 413, 429). */
  function traceReview(req: http.IncomingMessage, res: http.ServerResponse): SpanRecord | undefined {
    const tracer = opts.tracer;
    if (tracer === undefined || !tracer.sampled(req.headers)) return undefined;
    const { span } = tracer.start(req.headers, 'POST /inject', 'server', performance.now());
    span.set('http.request.method', req.method ?? 'POST');
    span.set('http.route', '/inject');
    span.set('url.path', '/inject');
    span.set('client.address', req.socket.remoteAddress);
    res.once('close', () => {
      span.set('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) {
        span.set('error.type', String(res.statusCode));
        span.error = `HTTP ${res.statusCode}`;
      }
      tracer.finish(span);
    });
    return span;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/ready') {
      const reason = opts.notReadyReason();
      res.writeHead(reason === undefined ? 200 : 503, { 'content-type': 'text/plain', ...(draining ? { connection: 'close' } : {}) }).end(reason === undefined ? 'ready\n' : `not ready: ${reason}\n`);
      return;
    }
    if (path !== '/inject') throw new HttpError(404, `no route ${path}; the webhook serves POST /inject and GET /ready`);
    if (req.method !== 'POST') throw new HttpError(405, 'POST an AdmissionReview to /inject');
    const span = traceReview(req, res);
    if (reviewsInProgress >= limits.maxConcurrentReviews) {
      // Answered before reading the body: shedding load must cost next to nothing.
      throw new HttpError(429, `more than ${limits.maxConcurrentReviews} admission reviews in progress; retry`, { 'retry-after': '1' });
    }
    reviewsInProgress++;
    // 'close' follows both a sent response and a client that went away.
    res.once('close', () => reviewsInProgress--);
    let body: string;
    try {
      body = await readBody(req, limits.maxBodyBytes);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      log.warn({ status: 413, err: err.message }, 'bad webhook request');
      opts.onAdmission?.('too-large');
      refuseBody(req, res, err.message, limits.maxBodyBytes);
      return;
    }
    const request = parseAdmissionReview(body);
    span?.set('weft.admission.operation', request.operation);
    span?.set('weft.admission.kind', request.kind.kind);
    span?.set('k8s.namespace.name', request.namespace);
    // The namespace lookups and any Kubernetes call the decision makes are children of the review's span.
    const outcome = span ? await activeSpan.run(span, () => admit(request, opts.admission)) : await admit(request, opts.admission);
    span?.set('weft.admission.result', outcome.result);
    span?.set('weft.injected', outcome.result === 'injected');
    opts.onAdmission?.(outcome.result);
    log.debug({ uid: outcome.review.response.uid, result: outcome.result, reason: outcome.reason }, 'admission');
    res.writeHead(200, { 'content-type': 'application/json', ...(draining ? { connection: 'close' } : {}) }).end(JSON.stringify(outcome.review));
  }

  const server = https.createServer({ ...pair, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : err instanceof MalformedAdmissionReview ? 400 : err instanceof WeftError ? err.httpStatus : 500;
      const message = err instanceof MalformedAdmissionReview ? `malformed AdmissionReview: ${err.message}` : (err as Error).message;
      if (status >= 500) log.error({ err: message }, 'admission failed');
      // A flood is counted in injector_admission_total{result="overloaded"}; a log line each would feed it.
      else if (status === 429) log.debug({ status, err: message }, 'admission review shed');
      else log.warn({ status, err: message }, 'bad webhook request');
      if (err instanceof MalformedAdmissionReview) opts.onAdmission?.('malformed');
      else if (status === 429) opts.onAdmission?.('overloaded');
      const headers = err instanceof HttpError ? err.headers : {};
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain', connection: 'close', ...headers });
      res.end(`${message}\n`);
    });
  });
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // Garbage on the TLS port (port scans, plaintext HTTP) must not take the server down.
  server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake failed'));
  server.on('clientError', (_err, socket) => socket.destroy());

  const certWatch: FileWatch = watchFiles([opts.certFile, opts.keyFile], opts.certPollMs, ([cert, key]) => {
    try {
      createSecureContext({ cert, key });
      server.setSecureContext({ cert: cert!, key: key!, minVersion: 'TLSv1.2' });
      log.info({ certFile: opts.certFile }, 'webhook certificate reloaded');
      opts.onCertificateReload?.(true);
    } catch (err) {
      // Mid-rotation the cert and key may briefly disagree; keep serving the old pair.
      log.warn({ err: (err as Error).message }, 'new webhook certificate does not load yet; keeping the old one');
      opts.onCertificateReload?.(false);
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    drain() {
      draining = true;
      server.closeIdleConnections();
    },
    close: () =>
      new Promise<void>((resolve) => {
        certWatch.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
