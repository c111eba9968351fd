/** Structured logging with pino; one root logger per process, child loggers per component. */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function createLogger(component: string, level: LevelWithSilent = 'info'): Logger {
  return pino({ name: component, level, base: { component } });
}
