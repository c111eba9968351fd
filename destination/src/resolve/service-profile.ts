/**
 * Validates a `ServiceProfile` spec (weft.io/v1beta1, docs/destination.md)
 * and converts it into the protobuf profile pieces. A bad spec fails as a
 * whole with a message naming the field, so a typo never half-applies.
 */
import { create } from '@bufbuild/protobuf';
import { InvalidArgumentError } from '@weft/common/errors';
import { parseDuration } from '@weft/common/config';
import { destination } from '@weft/api';

export interface ProfileSpec {
  readonly routes: destination.Route[];
  readonly retryBudget: destination.RetryBudget;
  readonly dstOverrides: destination.WeightedDst[];
}

export const DEFAULT_RETRY_BUDGET = { retryRatio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 };

export function defaultRetryBudget(): destination.RetryBudget {
  return create(destination.RetryBudgetSchema, {
    retryRatio: DEFAULT_RETRY_BUDGET.retryRatio,
    minRetriesPerSecond: DEFAULT_RETRY_BUDGET.minRetriesPerSecond,
    ttl: durationMsg(DEFAULT_RETRY_BUDGET.ttlMs),
  });
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(path: string, why: string): never {
  throw new InvalidArgumentError(`spec.${path}: ${why}`);
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') fail(path, 'must be a non-empty string');
  return v;
}

function optArray(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(path, 'must be an array');
  return v;
}

function regex(v: unknown, path: string): string {
  const s = str(v, path);
  try {
    new RegExp(s);
  } catch (err) {
    fail(path, `invalid regular expression: ${(err as Error).message}`);
  }
  return s;
}

export function durationMsg(ms: number): { seconds: bigint; nanos: number } {
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

function duration(v: unknown, path: string): { seconds: bigint; nanos: number } | undefined {
  if (v === undefined || v === null) return undefined;
  try {
    return durationMsg(parseDuration(str(v, path)));
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    fail(path, `"${String(v)}" is not a duration (use e.g. 100ms, 2s)`);
  }
}

function statusRange(v: unknown, path: string): { min: number; max: number } {
  if (!isObj(v)) fail(path, 'must be an object {min, max}');
  const min = v.min ?? 100;
  const max = v.max ?? 599;
  if (!Number.isInteger(min) || !Number.isInteger(max) || (min as number) < 100 || (max as number) > 599 || (min as number) > (max as number)) {
    fail(path, 'min/max must be integers with 100 <= min <= max <= 599');
  }
  return { min: min as number, max: max as number };
}

/** gRPC status codes by name (grpc/doc/statuscodes.md); OK (0) is never a failure, so it cannot be retried. */
const GRPC_CODES: Readonly<Record<string, number>> = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** A gRPC status named (`UNAVAILABLE`, any case) or numbered (14); OK and unknown codes are refused. */
export function grpcStatus(v: unknown, path: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 16) return v;
  if (typeof v === 'string' && Object.hasOwn(GRPC_CODES, v.toUpperCase())) return GRPC_CODES[v.toUpperCase()]!;
  fail(path, `${JSON.stringify(v)} is not a retryable gRPC status (a name such as UNAVAILABLE, or a code 1-16; OK is never retried)`);
}

function pathMatch(v: unknown, path: string): destination.PathMatch | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) fail(path, 'must be an object with one of exact | prefix | regex');
  const keys = ['exact', 'prefix', 'regex'].filter((k) => v[k] !== undefined);
  if (keys.length !== 1) fail(path, 'needs exactly one of exact | prefix | regex');
  const k = keys[0] as 'exact' | 'prefix' | 'regex';
  const value = k === 'regex' ? regex(v[k], `${path}.regex`) : str(v[k], `${path}.${k}`);
  return create(destination.PathMatchSchema, { kind: { case: k, value } });
}

function headerMatch(v: unknown, path: string): destination.HeaderMatch {
  if (!isObj(v)) fail(path, 'must be an object {name, exact | regex}');
  const name = str(v.name, `${path}.name`).toLowerCase();
  if ((v.exact === undefined) === (v.regex === undefined)) fail(path, 'needs exactly one of exact | regex');
  const value = v.exact !== undefined ? { case: 'exact' as const, value: String(v.exact) } : { case: 'regex' as const, value: regex(v.regex, `${path}.regex`) };
  return create(destination.HeaderMatchSchema, { name, value });
}

function route(v: unknown, path: string): destination.Route {
  if (!isObj(v)) fail(path, 'must be an object');
  const name = str(v.name, `${path}.name`);
  const matches = optArray(v.matches, `${path}.matches`).map((m, i) => {
    const mp = `${path}.matches[${i}]`;
    if (!isObj(m)) fail(mp, 'must be an object');
    const path_ = pathMatch(m.path, `${mp}.path`);
    return create(destination.RouteMatchSchema, {
      method: m.method === undefined ? '' : str(m.method, `${mp}.method`).toUpperCase(),
      ...(path_ ? { path: path_ } : {}),
      headers: optArray(m.headers, `${mp}.headers`).map((h, j) => headerMatch(h, `${mp}.headers[${j}]`)),
    });
  });
  if (matches.length === 0) fail(`${path}.matches`, 'needs at least one match');
  if (v.isRetryable !== undefined && typeof v.isRetryable !== 'boolean') fail(`${path}.isRetryable`, 'must be a boolean');
  const isRetryable = v.isRetryable === true;
  const retryStatuses = optArray(v.retryStatuses, `${path}.retryStatuses`).map((s, i) => statusRange(s, `${path}.retryStatuses[${i}]`));
  if (isRetryable && retryStatuses.length === 0) retryStatuses.push({ min: 500, max: 599 });
  const responseClasses = optArray(v.responseClasses, `${path}.responseClasses`).map((c, i) => {
    const cp = `${path}.responseClasses[${i}]`;
    if (!isObj(c)) fail(cp, 'must be an object {status, isFailure}');
    return create(destination.ResponseClassSchema, { status: statusRange(c.status, `${cp}.status`), isFailure: c.isFailure === true });
  });
  const retryGrpcStatuses = [
    ...new Set(optArray(v.retryableGrpcStatuses, `${path}.retryableGrpcStatuses`).map((s, i) => grpcStatus(s, `${path}.retryableGrpcStatuses[${i}]`))),
  ];
  const timeout = duration(v.timeout, `${path}.timeout`);
  const totalTimeout = duration(v.totalTimeout, `${path}.totalTimeout`);
  const idleTimeout = duration(v.idleTimeout, `${path}.idleTimeout`);
  return create(destination.RouteSchema, {
    name,
    matches,
    isRetryable,
    retryStatuses,
    retryGrpcStatuses,
    responseClasses,
    ...(timeout ? { timeout } : {}),
    ...(totalTimeout ? { totalTimeout } : {}),
    ...(idleTimeout ? { idleTimeout } : {}),
    metricsLabels: { route: name },
  });
}

export function parseServiceProfileSpec(spec: unknown): ProfileSpec {
  if (spec === undefined || spec === null) return { routes: [], retryBudget: defaultRetryBudget(), dstOverrides: [] };
  if (!isObj(spec)) throw new InvalidArgumentError('spec must be an object');
  const routes = optArray(spec.routes, 'routes').map((r, i) => route(r, `routes[${i}]`));
  let retryBudget = defaultRetryBudget();
  if (spec.retryBudget !== undefined) {
    const b = spec.retryBudget;
    if (!isObj(b)) fail('retryBudget', 'must be an object');
    const ratio = b.retryRatio ?? DEFAULT_RETRY_BUDGET.retryRatio;
    const min = b.minRetriesPerSecond ?? DEFAULT_RETRY_BUDGET.minRetriesPerSecond;
    if (typeof ratio !== 'number' || ratio < 0) fail('retryBudget.retryRatio', 'must be a number >= 0');
    if (!Number.isInteger(min) || (min as number) < 0) fail('retryBudget.minRetriesPerSecond', 'must be an integer >= 0');
    retryBudget = create(destination.RetryBudgetSchema, {
      retryRatio: ratio,
      minRetriesPerSecond: min as number,
      ttl: duration(b.ttl, 'retryBudget.ttl') ?? durationMsg(DEFAULT_RETRY_BUDGET.ttlMs),
    });
  }
  const dstOverrides = optArray(spec.dstOverrides, 'dstOverrides').map((d, i) => {
    const p = `dstOverrides[${i}]`;
    if (!isObj(d)) fail(p, 'must be an object {authority, weight}');
    if (!Number.isInteger(d.weight) || (d.weight as number) < 0) fail(`${p}.weight`, 'must be an integer >= 0');
    return create(destination.WeightedDstSchema, { authority: str(d.authority, `${p}.authority`), weight: d.weight as number });
  });
  return { routes, retryBudget, dstOverrides };
}
