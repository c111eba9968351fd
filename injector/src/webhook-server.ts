/**
 * The admission webhook's HTTPS server: `POST /inject` (AdmissionReview v1)
 * and `GET /ready`. Its certificate and key are read from files and swapped
 * in without a restart when they change (cert-manager renews them).
 */
import https from 'node:https';
import type http from 'node:http';
import { createSecureContext } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { ConfigError, WeftError } from '@weft/common/errors';
import type { Logger } from '@weft/common/log';
import { admit, parseAdmissionReview, MalformedAdmissionReview, type AdmissionContext, type AdmissionOutcome } from './admission.js';
import { watchFiles, type FileWatch } from './file-watch.js';

/** The API server sends at most 3 MiB objects; a body beyond that is not a real review. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

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
  /** Called once per request to /inject with its result, for metrics. */
  readonly onAdmission?: (result: AdmissionOutcome['result'] | 'malformed') => void;
  readonly onCertificateReload?: (ok: boolean) => void;
}

export interface WebhookServer {
  readonly port: number;
  close(): Promise<void>;
}

function loadPair(certFile: string, keyFile: string): { cert: string; key: string } {
  const pair = { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  createSecureContext(pair); // throws when the key does not match the certificate
  return pair;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  let pair: { cert: string; key: string };
  try {
    pair = loadPair(opts.certFile, opts.keyFile);
  } catch (err) {
    throw new ConfigError([`webhook certificate ${opts.certFile} / key ${opts.keyFile}: ${(err as Error).message}`]);
  }
  const { log } = opts;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/ready') {
      const reason = opts.notReadyReason();
      res.writeHead(reason === undefined ? 200 : 503, { 'content-type': 'text/plain' }).end(reason === undefined ? 'ready\n' : `not ready: ${reason}\n`);
      return;
    }
    if (path !== '/inject') throw new HttpError(404, `no route ${path}; the webhook serves POST /inject and GET /ready`);
    if (req.method !== 'POST') throw new HttpError(405, 'POST an AdmissionReview to /inject');
    const body = await readBody(req);
    const outcome = await admit(parseAdmissionReview(body), opts.admission);
    opts.onAdmission?.(outcome.result);
    log.debug({ uid: outcome.review.response.uid, result: outcome.result, reason: outcome.reason }, 'admission');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(outcome.review));
  }

  const server = https.createServer({ ...pair, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : err instanceof MalformedAdmissionReview ? 400 : err instanceof WeftError ? err.httpStatus : 500;
      const message = err instanceof MalformedAdmissionReview ? `malformed AdmissionReview: ${err.message}` : (err as Error).message;
      if (status >= 500) log.error({ err: message }, 'admission failed');
      else log.warn({ status, err: message }, 'bad webhook request');
      if (err instanceof MalformedAdmissionReview) opts.onAdmission?.('malformed');
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
      res.end(`${message}\n`);
    });
  });
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
    close: () =>
      new Promise<void>((resolve) => {
        certWatch.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
