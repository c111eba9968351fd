/** viz's errors: the common WeftError family plus the one kind common lacks. */
import { WeftError } from '@weft/common/errors';

export { InvalidArgumentError, UnavailableError, PermissionDeniedError, UnauthenticatedError, WeftError } from '@weft/common/errors';

export class NotFoundError extends WeftError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}
