/**
 * Who may tap. Tap shows live request metadata (paths, authorities,
 * identities), so it is authorized separately from the read-only stats:
 *   - `loopback`: the caller connects from 127.0.0.0/8 or ::1. Locally that is the
 *     machine's user; in a cluster it is whoever may `kubectl port-forward` to viz
 *     (the port-forward arrives on the pod's loopback), so RBAC on pods/portforward decides.
 *   - `token`: `Authorization: Bearer <token>` equal to a configured secret.
 *   - `kubernetes`: the bearer token is a Kubernetes token for viz's audience (TokenReview) whose user may
 *     `watch` `<kind>s/tap` in API group `tap.weft.io` for the object, in the namespace
 *     the request taps (SubjectAccessReview).
 * A request is allowed when any configured mode allows it.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { PermissionDeniedError, UnauthenticatedError } from '../errors.js';
import type { TapScope } from './scope.js';

export interface TapCaller {
  readonly remoteAddress: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** What the request taps; the same value selects the proxies. */
  readonly scope: TapScope;
}

export interface TapAuthorizer {
  readonly mode: string;
  /** Resolves with the caller's name when allowed; rejects with why not. */
  authorize(caller: TapCaller): Promise<string>;
}

export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '');
  return m?.[1];
}

export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  return addr === '::1' || /^(::ffff:)?127\./.test(addr);
}

export class LoopbackAuthorizer implements TapAuthorizer {
  readonly mode = 'loopback';
  async authorize(c: TapCaller): Promise<string> {
    if (!isLoopback(c.remoteAddress)) throw new PermissionDeniedError(`tap is allowed from loopback only; ${c.remoteAddress ?? 'unknown address'} is not loopback`);
    return 'loopback';
  }
}

export class TokenAuthorizer implements TapAuthorizer {
  readonly mode = 'token';
  private readonly digest: Buffer;
  constructor(token: string) {
    this.digest = createHash('sha256').update(token).digest();
  }
  async authorize(c: TapCaller): Promise<string> {
    const token = bearerToken(c.headers);
    if (!token) throw new UnauthenticatedError('tap needs "Authorization: Bearer <token>"');
    // Compare digests so the comparison is constant-time whatever the lengths.
    if (!timingSafeEqual(createHash('sha256').update(token).digest(), this.digest)) throw new PermissionDeniedError('the tap token is not valid');
    return 'token';
  }
}

/** The audience a Kubernetes token presented to tap must be minted for (`kubectl create token <sa> --audience tap.weft.io`). */
export const TAP_TOKEN_AUDIENCE = 'tap.weft.io';

/** The two API calls the Kubernetes mode needs, behind a seam so it can be tested without an API server. */
export interface KubernetesReviews {
  /** The audience tokens are reviewed for. */
  readonly audience: string;
  /** The authenticated user of a token for `audience`, or undefined when the token is not valid for it. */
  tokenReview(token: string): Promise<{ username: string; groups: string[] } | undefined>;
  subjectAccessReview(user: { username: string; groups: string[] }, attrs: { namespace: string | undefined; resource: string; name: string | undefined }): Promise<{ allowed: boolean; reason?: string }>;
}

export class KubernetesAuthorizer implements TapAuthorizer {
  readonly mode = 'kubernetes';
  constructor(private readonly reviews: KubernetesReviews) {}
  async authorize(c: TapCaller): Promise<string> {
    const token = bearerToken(c.headers);
    if (!token) throw new UnauthenticatedError('tap needs "Authorization: Bearer <kubernetes token>"');
    const user = await this.reviews.tokenReview(token);
    if (!user) {
      const aud = this.reviews.audience;
      throw new UnauthenticatedError(`the Kubernetes token was rejected by TokenReview for audience ${aud} (mint one with kubectl create token <serviceaccount> --audience ${aud})`);
    }
    const { namespace, resource: ref } = c.scope;
    const resource = `${ref.kind}s`;
    const sar = await this.reviews.subjectAccessReview(user, { namespace, resource, name: ref.name });
    if (!sar.allowed) {
      const where = namespace ? `in namespace ${namespace}` : 'in every namespace';
      const grant = namespace ? `a Role in ${namespace}` : 'a ClusterRole';
      throw new PermissionDeniedError(
        `${user.username} may not watch ${resource}/tap in tap.weft.io ${where}${sar.reason ? ` (${sar.reason})` : ''}; grant it with ${grant} for apiGroups [tap.weft.io], resources [${resource}/tap], verbs [watch]`,
      );
    }
    return user.username;
  }
}

/** Allows when any mode allows; reports every mode's refusal otherwise. */
export class AnyOfAuthorizer implements TapAuthorizer {
  readonly mode: string;
  constructor(private readonly modes: readonly TapAuthorizer[]) {
    this.mode = modes.map((m) => m.mode).join(',');
  }
  async authorize(c: TapCaller): Promise<string> {
    const reasons: string[] = [];
    let unauthenticated = true;
    for (const m of this.modes) {
      try {
        return await m.authorize(c);
      } catch (err) {
        if (!(err instanceof UnauthenticatedError)) unauthenticated = false;
        reasons.push(`${m.mode}: ${(err as Error).message}`);
      }
    }
    const msg = `tap is not authorized (${reasons.join('; ')})`;
    throw unauthenticated ? new UnauthenticatedError(msg) : new PermissionDeniedError(msg);
  }
}
