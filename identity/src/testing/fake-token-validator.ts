/** An in-memory TokenValidator for tests: known tokens map to ServiceAccounts, anything else is UNAUTHENTICATED. */
import { UnauthenticatedError } from '@weft/common/errors';
import type { ServiceAccountToken, TokenValidator } from '../token-validator.js';

export class FakeTokenValidator implements TokenValidator {
  private readonly tokens = new Map<string, ServiceAccountToken>();

  /** Registers a token for `<namespace>/<serviceAccount>` and returns it. */
  issue(namespace: string, serviceAccount: string, podName = `${serviceAccount}-0`): string {
    const token = `token-${namespace}-${serviceAccount}-${this.tokens.size}`;
    this.tokens.set(token, { namespace, serviceAccount, podName });
    return token;
  }

  async validate(token: string): Promise<ServiceAccountToken> {
    const account = this.tokens.get(token);
    if (!account) throw new UnauthenticatedError('token is not valid');
    return account;
  }
}
