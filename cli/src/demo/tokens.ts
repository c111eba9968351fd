/**
 * The demo's stand-in for the Kubernetes TokenReview API: it mints one random
 * token per pod (written where the kubelet would project it) and validates
 * exactly those, so the demo's proxies prove who they are to identity the same
 * way they do in a cluster. Unknown tokens are refused.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { UnauthenticatedError } from '@weft/common/errors';
import type { ServiceAccountToken, TokenValidator } from '@weft/identity';

export class DemoTokenAuthority implements TokenValidator {
  private readonly tokens = new Map<string, ServiceAccountToken>();

  issue(who: ServiceAccountToken): string {
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(token, who);
    return token;
  }

  async validate(token: string): Promise<ServiceAccountToken> {
    for (const [known, who] of this.tokens) {
      if (known.length === token.length && timingSafeEqual(Buffer.from(known), Buffer.from(token))) return who;
    }
    throw new UnauthenticatedError('token was not issued by the demo token authority');
  }
}
