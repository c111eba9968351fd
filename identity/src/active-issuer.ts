/**
 * The issuer in use, and its hot rotation. The issuer and trust sources are
 * watched; every change is validated in full before it replaces the current
 * state in one assignment, so a Certify running during a swap uses either the
 * old or the new issuer, never half of each. A broken update is logged and
 * ignored: identity never drops a working issuer.
 */
import type { Logger } from 'pino';
import { IssuerCertificate, IssuerError, type IssuerMaterial } from './issuer.js';
import type { IdentityMetrics } from './metrics.js';
import type { IssuerSource, TrustAnchorSource } from './sources.js';
import { TrustBundle } from './trust-bundle.js';

/** cert-manager renews well before this; an issuer this close to expiry means renewal is stuck. */
export const EXPIRY_WARNING_MS = 60 * 24 * 3_600_000;

export interface IssuerState {
  readonly issuer: IssuerCertificate;
  readonly trust: TrustBundle;
}

export interface ActiveIssuerOptions {
  readonly issuerSource: IssuerSource;
  readonly trustSource: TrustAnchorSource;
  readonly now: () => Date;
  readonly log: Logger;
  readonly metrics?: IdentityMetrics;
  /** Called after a new issuer or bundle is in use (identity re-issues its own serving certificate). */
  readonly onRotate?: (state: IssuerState) => void | Promise<void>;
}

export class ActiveIssuer {
  private state: IssuerState;
  /** The latest values the sources delivered, and the ones `state` was built from. */
  private material: IssuerMaterial;
  private trustPem: string;
  private applied: { material: IssuerMaterial; trustPem: string };
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    private readonly opts: ActiveIssuerOptions,
    initial: { state: IssuerState; material: IssuerMaterial; trustPem: string },
  ) {
    this.state = initial.state;
    this.material = initial.material;
    this.trustPem = initial.trustPem;
    this.applied = { material: initial.material, trustPem: initial.trustPem };
  }

  /** Loads and validates issuer and anchors; rejects with an IssuerError naming the problem (identity then refuses to start). */
  static async start(opts: ActiveIssuerOptions): Promise<ActiveIssuer> {
    // A change that arrives while start-up is still validating is held and applied right after.
    const relay: { to?: ActiveIssuer; held: { material?: IssuerMaterial; trustPem?: string } } = { held: {} };
    const deliver = (change: { material?: IssuerMaterial; trustPem?: string }): void => {
      if (relay.to) relay.to.update(change);
      else Object.assign(relay.held, change);
    };
    let state: IssuerState;
    let trustPem: string;
    let material: IssuerMaterial;
    try {
      trustPem = await opts.trustSource.start({
        change: (pem) => deliver({ trustPem: pem }),
        problem: (err) => relay.to?.reject('trust anchors', err),
      });
      material = await opts.issuerSource.start({
        change: (m) => deliver({ material: m }),
        problem: (err) => relay.to?.reject('issuer', err),
      });
      state = await ActiveIssuer.validate(material, trustPem, opts.now());
    } catch (err) {
      // Nothing may keep watching for a service that refused to start.
      await Promise.all([opts.issuerSource.stop(), opts.trustSource.stop()]);
      throw err;
    }
    relay.to = new ActiveIssuer(opts, { state, material, trustPem });
    relay.to.inUse('loaded');
    if (relay.held.material || relay.held.trustPem !== undefined) relay.to.update(relay.held);
    return relay.to;
  }

  get current(): IssuerState {
    return this.state;
  }

  /** Resolves once every update received so far has been applied or rejected (tests and shutdown). */
  settled(): Promise<void> {
    return this.queue;
  }

  async stop(): Promise<void> {
    await Promise.all([this.opts.issuerSource.stop(), this.opts.trustSource.stop()]);
    await this.queue;
  }

  private static async validate(material: IssuerMaterial, trustPem: string, now: Date): Promise<IssuerState> {
    let trust: TrustBundle;
    try {
      trust = TrustBundle.parse(trustPem);
    } catch (err) {
      throw new IssuerError(`trust anchors: ${(err as Error).message}`, { cause: err });
    }
    return { issuer: await IssuerCertificate.load(material, trust, now), trust };
  }

  private update(change: { material?: IssuerMaterial; trustPem?: string }): void {
    if (change.material) this.material = change.material;
    if (change.trustPem !== undefined) this.trustPem = change.trustPem;
    // Serialized so updates apply in arrival order. Each attempt uses the latest issuer *and* the latest bundle:
    // an issuer from a new anchor is accepted as soon as the bundle that holds the anchor arrives, in either order.
    this.queue = this.queue.then(() => this.apply());
  }

  private async apply(): Promise<void> {
    const material = this.material;
    const trustPem = this.trustPem;
    // Informer resyncs re-deliver unchanged objects; only real changes rotate.
    const same = material.certPem === this.applied.material.certPem && material.keyPem === this.applied.material.keyPem;
    if (same && trustPem === this.applied.trustPem) return;
    try {
      this.state = await ActiveIssuer.validate(material, trustPem, this.opts.now());
      this.applied = { material, trustPem };
    } catch (err) {
      this.reject('issuer update', err as Error);
      return;
    }
    this.inUse('rotated');
    try {
      await this.opts.onRotate?.(this.state);
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'rotation follow-up failed');
    }
  }

  private reject(what: string, err: Error): void {
    this.opts.metrics?.issuerReloads.inc({ result: 'rejected' });
    this.opts.log.error({ err: err.message, keeping: this.state.issuer.subject, until: this.state.issuer.notAfter.toISOString() }, `${what} rejected; still signing with the current issuer`);
  }

  private inUse(how: 'loaded' | 'rotated'): void {
    const { issuer, trust } = this.state;
    this.opts.metrics?.issuerExpiry.set(issuer.notAfter.getTime() / 1000);
    if (how === 'rotated') this.opts.metrics?.issuerReloads.inc({ result: 'ok' });
    this.opts.log.info({ issuer: issuer.subject, notAfter: issuer.notAfter.toISOString(), anchors: trust.anchors.length }, `issuer ${how}`);
    this.warnIfExpiring();
  }

  /** Logs a warning when the issuer in use expires within 60 days (at load, on rotation, and periodically). */
  warnIfExpiring(): void {
    const { issuer } = this.state;
    if (issuer.notAfter.getTime() - this.opts.now().getTime() < EXPIRY_WARNING_MS) {
      this.opts.log.warn({ issuer: issuer.subject, notAfter: issuer.notAfter.toISOString() }, 'issuer certificate expires within 60 days; check that cert-manager renews it');
    }
  }
}
