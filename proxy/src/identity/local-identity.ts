/**
 * The pod's own identity: its DNS name, the trust anchors, and the current
 * certificate once one is held. The proxy is not ready (`/ready` 503) and
 * does not accept or originate mesh mTLS until `current()` is defined.
 *
 * Two sources: `StaticIdentity` (tests, or a certificate mounted by the
 * operator) and `CertifyingIdentity` (key + CSR + identity `Certify`, renewed
 * at 70 % of the lifetime while the old certificate keeps serving).
 */
import { X509Certificate } from 'node:crypto';
import type { Logger } from '@weft/common/log';

export interface TlsCredentials {
  /** PEM chain, leaf first. */
  readonly cert: string;
  readonly key: string;
  readonly expiresAt: Date;
}

export interface LocalIdentity {
  /** DNS identity, e.g. `web.emojivoto.serviceaccount.identity.weft.cluster.local`. */
  readonly name: string;
  /** PEM bundle of trust anchors that verify peers. */
  readonly trustAnchors: string;
  current(): TlsCredentials | undefined;
  /** Called after every (re)certification, so servers and clients swap contexts. */
  onChange(listener: (creds: TlsCredentials) => void): void;
  close(): void;
}

export class StaticIdentity implements LocalIdentity {
  private readonly listeners: Array<(c: TlsCredentials) => void> = [];
  private creds: TlsCredentials | undefined;

  constructor(
    readonly name: string,
    readonly trustAnchors: string,
    creds?: { cert: string; key: string },
  ) {
    if (creds) this.set(creds);
  }

  /** Installs (or replaces) the certificate, e.g. to test `/ready` gating. */
  set(creds: { cert: string; key: string }): void {
    this.creds = { ...creds, expiresAt: new Date(new X509Certificate(creds.cert).validTo) };
    for (const l of this.listeners) l(this.creds);
  }

  current(): TlsCredentials | undefined {
    return this.creds;
  }

  onChange(listener: (creds: TlsCredentials) => void): void {
    this.listeners.push(listener);
  }

  close(): void {}
}

/** Obtains a fresh certificate for the local identity (identity `Certify` with a new key and CSR). */
export type Certifier = () => Promise<TlsCredentials>;

const MAX_TIMER_MS = 2 ** 31 - 1;

export class CertifyingIdentity implements LocalIdentity {
  private readonly listeners: Array<(c: TlsCredentials) => void> = [];
  private creds: TlsCredentials | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly name: string,
    readonly trustAnchors: string,
    private readonly certify: Certifier,
    private readonly log: Logger,
  ) {
    void this.renew();
  }

  current(): TlsCredentials | undefined {
    return this.creds;
  }

  onChange(listener: (creds: TlsCredentials) => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async renew(attempt = 0): Promise<void> {
    if (this.closed) return;
    try {
      const creds = await this.certify();
      this.creds = creds;
      for (const l of this.listeners) l(creds);
      const lifetime = creds.expiresAt.getTime() - Date.now();
      this.log.info({ identity: this.name, expiresAt: creds.expiresAt.toISOString() }, 'certified');
      this.schedule(Math.max(1000, lifetime * 0.7), 0);
    } catch (err) {
      // Keep serving with the old certificate (if any) and retry with backoff capped at 30 s.
      const delay = Math.min(30_000, 500 * 2 ** attempt);
      this.log.warn({ err, retryInMs: delay }, 'certification failed');
      this.schedule(delay, attempt + 1);
    }
  }

  private schedule(ms: number, attempt: number): void {
    if (this.closed) return;
    // setTimeout fires at once for delays above 2^31-1 ms (~24.8 days): wait in steps until the renewal is due.
    const dueAt = Date.now() + ms;
    const step = (): void => {
      const left = dueAt - Date.now();
      this.timer = left > MAX_TIMER_MS ? setTimeout(step, MAX_TIMER_MS) : setTimeout(() => void this.renew(attempt), Math.max(0, left));
      this.timer.unref();
    };
    step();
  }
}
