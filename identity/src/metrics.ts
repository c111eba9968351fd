/** identity's Prometheus metrics; bound once at start. */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Outcome label of `weft_identity_certify_total`: `ok` or the refusal's gRPC status name (`resource_exhausted`: the source's rate limit). */
export type CertifyResult = 'ok' | 'unauthenticated' | 'permission_denied' | 'invalid_argument' | 'unavailable' | 'resource_exhausted' | 'internal';

export class IdentityMetrics {
  readonly certify: Counter<'result'>;
  readonly issuerReloads: Counter<'result'>;
  readonly issuerExpiry: Gauge;

  constructor(registry: Registry) {
    this.certify = new Counter({
      name: 'weft_identity_certify_total',
      help: 'Certify calls by result: ok (a leaf was issued) or the refusal reason',
      labelNames: ['result'],
      registers: [registry],
    });
    this.issuerReloads = new Counter({
      name: 'weft_identity_issuer_reloads_total',
      help: 'Issuer or trust bundle updates by result: ok (now in use) or rejected (old issuer kept)',
      labelNames: ['result'],
      registers: [registry],
    });
    this.issuerExpiry = new Gauge({
      name: 'weft_identity_issuer_expiry_timestamp_seconds',
      help: 'NotAfter of the issuer certificate in use, as a Unix timestamp',
      registers: [registry],
    });
  }
}
