/**
 * `weft`'s exit codes, stable for scripts (documented in docs/cli.md):
 *   0 success (checks may have warned)
 *   1 failure: a check failed, or an unexpected error
 *   2 usage: bad flags, arguments or input
 *   3 unavailable: the cluster, the metrics-api or Prometheus cannot be reached
 *   4 not found: the resource, pod or object does not exist
 *   5 not authorized: e.g. tap refused
 *   6 a WeftError with code UNIMPLEMENTED (no verb uses it today)
 */
import { CommanderError } from 'commander';
import { WeftError } from '@weft/common/errors';

export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, UNAVAILABLE: 3, NOT_FOUND: 4, NOT_AUTHORIZED: 5, NOT_IMPLEMENTED: 6 } as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  if (!(err instanceof WeftError)) return EXIT.FAILURE;
  switch (err.code) {
    case 'INVALID_ARGUMENT':
    case 'CONFIG_INVALID':
      return EXIT.USAGE;
    case 'UNAVAILABLE':
    case 'DEADLINE_EXCEEDED':
      return EXIT.UNAVAILABLE;
    case 'NOT_FOUND':
      return EXIT.NOT_FOUND;
    case 'PERMISSION_DENIED':
    case 'UNAUTHENTICATED':
      return EXIT.NOT_AUTHORIZED;
    case 'UNIMPLEMENTED':
      return EXIT.NOT_IMPLEMENTED;
    default:
      return EXIT.FAILURE;
  }
}
