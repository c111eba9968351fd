/**
 * `weft.identity.v1.Identity/Certify` on the wire: the caller's rate limit,
 * then protobuf in, Certifier, protobuf out. WeftErrors become their gRPC
 * status here (the one mapping); anything unexpected is logged and returned as
 * INTERNAL without detail.
 */
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import type { Logger } from 'pino';
import { identity as api } from '@weft/api';
import { GRPC_STATUS, WeftError } from '@weft/common/errors';
import { peerAddress } from '@weft/common/grpc';
import type { Certifier } from './certifier.js';
import type { CertifyResult, IdentityMetrics } from './metrics.js';
import type { SourceRateLimiter } from './source-rate-limiter.js';

const RESULT: Partial<Record<Code, CertifyResult>> = {
  [Code.Unauthenticated]: 'unauthenticated',
  [Code.PermissionDenied]: 'permission_denied',
  [Code.InvalidArgument]: 'invalid_argument',
  [Code.Unavailable]: 'unavailable',
};

export function certifyRoutes(certifier: Certifier, limiter: SourceRateLimiter, metrics: IdentityMetrics, log: Logger): (router: ConnectRouter) => void {
  return (router) => {
    router.service(api.Identity, {
      async certify(req, ctx) {
        // Before anything that costs work, above all the TokenReview. A flood is counted, not logged line by line.
        const source = peerAddress(ctx) ?? 'unknown';
        const retryMs = limiter.take(source);
        if (retryMs > 0) {
          metrics.certify.inc({ result: 'resource_exhausted' });
          log.debug({ source, retryMs }, 'certify rate-limited');
          const { burst, perMinute } = limiter.limit;
          throw new ConnectError(`too many Certify calls from ${source} (at most ${burst} at once, then ${perMinute} a minute); retry in ${Math.ceil(retryMs / 1000)}s`, Code.ResourceExhausted);
        }
        try {
          const leaf = await certifier.certify({ identity: req.identity, token: req.token, csr: req.certificateSigningRequest });
          metrics.certify.inc({ result: 'ok' });
          log.debug({ identity: leaf.identity, validUntil: leaf.validUntil.toISOString() }, 'certified');
          return {
            leafCertificate: leaf.leafDer,
            intermediateCertificates: leaf.intermediatesDer,
            validUntil: timestampFromDate(leaf.validUntil),
          };
        } catch (err) {
          const status = toConnectError(err, log);
          metrics.certify.inc({ result: RESULT[status.code] ?? 'internal' });
          if (status.code !== Code.Internal) log.info({ identity: req.identity, code: Code[status.code], reason: status.rawMessage }, 'certify refused');
          throw status;
        }
      },
    });
  };
}

export function toConnectError(err: unknown, log: Logger): ConnectError {
  if (err instanceof WeftError) return new ConnectError(err.message, GRPC_STATUS[err.code] as Code);
  log.error({ err: (err as Error)?.stack ?? String(err) }, 'certify failed unexpectedly');
  return new ConnectError('internal error', Code.Internal);
}
