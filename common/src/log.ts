/** Structured logging with pino; one root logger per process, child loggers per component. */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `json`: one JSON object per line (log pipelines); `plain`: one readable line per entry (`kubectl logs` by eye). */
export const LOG_FORMATS = ['json', 'plain'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OWN_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'component', 'msg']);

/** One pino JSON line as `2026-12-03T02:50:00.000Z INFO proxy: message key=value …`; what does not parse is passed on. */
export function plainLine(json: string): string {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const time = typeof e.time === 'number' ? new Date(e.time).toISOString() : '';
  const level = LEVEL_NAMES[e.level as number] ?? String(e.level);
  const fields = Object.entries(e)
    .filter(([k]) => !OWN_KEYS.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/[\s"=]/.test(v) ? v : JSON.stringify(v)}`);
  return `${[time, level, `${String(e.component ?? e.name ?? '')}:`, String(e.msg ?? ''), ...fields].filter(Boolean).join(' ')}\n`;
}

/** Logs go to stdout (the container convention) unless `to` is `stderr` (CLI verbs whose stdout is their output). */
export function createLogger(component: string, level: LevelWithSilent = 'info', to: 'stdout' | 'stderr' = 'stdout', format: LogFormat = 'json'): Logger {
  const fd = to === 'stderr' ? 2 : 1;
  const out = pino.destination({ fd, sync: to === 'stderr' });
  if (format === 'json') return pino({ name: component, level, base: { component } }, out);
  return pino({ name: component, level, base: { component } }, { write: (line: string) => out.write(plainLine(line)) });
}
