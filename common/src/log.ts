/** Structured logging with pino; one root logger per process, child loggers per component. */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Logs go to stdout (the container convention) unless `to` is `stderr` (CLI verbs whose stdout is their output). */
export function createLogger(component: string, level: LevelWithSilent = 'info', to: 'stdout' | 'stderr' = 'stdout'): Logger {
  return pino({ name: component, level, base: { component } }, pino.destination({ fd: to === 'stderr' ? 2 : 1, sync: to === 'stderr' }));
}
