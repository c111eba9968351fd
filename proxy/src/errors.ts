/**
 * The proxy's errors. Each is a WeftError, so its code maps to the HTTP and
 * gRPC status the client receives (common/src/errors.ts), in one place.
 */
import { WeftError } from '@weft/common/errors';
import { ConnectTimeoutError } from '@weft/common/connect-bound';

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

/**
 * An HTTP/1 `CONNECT` (a tunnel through a forward proxy, e.g. an application's HTTPS_PROXY): not proxied (501). The
 * message names the way through: the forward proxy's port declared opaque, whose bytes then pass untouched.
 */
export class TunnelNotProxiedError extends WeftError {
  constructor(target: string) {
    super('UNIMPLEMENTED', `weft: CONNECT ${target}: tunnels are not proxied; declare the forward proxy's port opaque (config.weft.io/opaque-ports) to pass them through`);
  }
}

/** The `weft-proxy-error` value of a 503 whose request never reached the application (nothing was delivered). */
export const APP_UNREACHABLE = 'app-unreachable';

/** A peer proxy refused a `weft.mux` stream (it was stopping, or full) before reading any of it. */
export class RefusedStreamError extends Error {
  readonly code = 'ERR_WEFT_STREAM_REFUSED';
  constructor() {
    super('weft.mux stream refused by the peer proxy (nothing of the request was read)');
  }
}

const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** Whether an error (or its causes) says a connection was never established, so no request byte was sent. */
export function neverConnected(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = (e as Error & { cause?: unknown }).cause, depth++) {
    // Not established within its bound (@weft/common/connect-bound): no request byte reached an application.
    if (e instanceof ConnectTimeoutError) return true;
    // A refused stream: the peer took none of its bytes.
    if (e instanceof RefusedStreamError) return true;
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && NOT_CONNECTED.has(code)) return true;
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0 && errors.every((x) => neverConnected(x))) return true;
  }
  return false;
}
