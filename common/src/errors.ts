/**
 * weft's error classes. Every error a component returns to a peer carries a
 * stable code; the mapping from code to HTTP and gRPC status lives here, in
 * one place.
 */

export type WeftErrorCode =
  | 'CONFIG_INVALID'
  | 'INVALID_ARGUMENT'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'FAILED_PRECONDITION'
  | 'UNIMPLEMENTED'
  | 'INTERNAL';

/** gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GRPC_STATUS: Record<WeftErrorCode, number> = {
  CONFIG_INVALID: 9,
  INVALID_ARGUMENT: 3,
  UNAUTHENTICATED: 16,
  PERMISSION_DENIED: 7,
  NOT_FOUND: 5,
  UNAVAILABLE: 14,
  DEADLINE_EXCEEDED: 4,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
};

export const HTTP_STATUS: Record<WeftErrorCode, number> = {
  CONFIG_INVALID: 500,
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  FAILED_PRECONDITION: 412,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
};

export class WeftError extends Error {
  readonly code: WeftErrorCode;

  constructor(code: WeftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  get grpcStatus(): number {
    return GRPC_STATUS[this.code];
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }
}

/** Configuration that cannot be used; the message names every bad setting. */
export class ConfigError extends WeftError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

export class InvalidArgumentError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
  }
}

export class UnauthenticatedError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAUTHENTICATED', message, options);
  }
}

export class PermissionDeniedError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PERMISSION_DENIED', message, options);
  }
}

export class UnavailableError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, options);
  }
}

export class FailedPreconditionError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FAILED_PRECONDITION', message, options);
  }
}
