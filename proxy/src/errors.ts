/**
 * The proxy's errors. Each is a WeftError, so its code maps to the HTTP and
 * gRPC status the client receives (common/src/errors.ts), in one place.
 */
import { WeftError } from '@weft/common/errors';

/** Discovery does not know the authority: fail fast instead of hanging (503). */
export class UnknownAuthorityError extends WeftError {
  constructor(authority: string) {
    super('UNAVAILABLE', `weft: no service is known for authority "${authority}"`);
  }
}

/** The service is known but has no ready endpoints (503). */
export class NoEndpointsError extends WeftError {
  constructor(authority: string) {
    super('UNAVAILABLE', `weft: service "${authority}" has no ready endpoints`);
  }
}

/** The peer (application or peer proxy) could not be reached or broke the connection (502-ish, reported as 503). */
export class EndpointError extends WeftError {
  constructor(endpoint: string, cause: unknown) {
    super('UNAVAILABLE', `weft: endpoint ${endpoint} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** An outbound connection arrived without SO_ORIGINAL_DST and is not HTTP (so there is no Host to route by). */
export class NoOriginalDstError extends WeftError {
  constructor(why: string) {
    super('FAILED_PRECONDITION', `weft: outbound connection has no original destination (${why}); opaque TCP cannot be routed`);
  }
}

/** The request itself cannot be proxied (no authority, bad header...). */
export class BadRequestError extends WeftError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}
