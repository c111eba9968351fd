/**
 * Typed configuration from environment variables (or flags mapped to the same
 * names). Parsed once at the edge; the core receives a plain typed object and
 * never reads `process.env`. Every bad or missing variable is reported at once,
 * by name, in a ConfigError.
 */
import { isIP } from 'node:net';
import { ConfigError } from './errors.js';

export interface Setting<T> {
  readonly variable: string;
  parse(raw: string | undefined): T;
}

class SettingError extends Error {}

function required<T>(variable: string, parse: (raw: string) => T, fallback?: T): Setting<T> {
  return {
    variable,
    parse(raw) {
      if (raw === undefined || raw === '') {
        if (fallback !== undefined) return fallback;
        throw new SettingError(`${variable} is required but not set`);
      }
      return parse(raw);
    },
  };
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `250ms`, `20s`, `5m`, `24h` into milliseconds. */
export function parseDuration(raw: string): number {
  const m = DURATION.exec(raw.trim());
  if (!m) throw new SettingError(`"${raw}" is not a duration (use e.g. 250ms, 20s, 5m, 24h)`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
}

export const env = {
  string(variable: string, fallback?: string): Setting<string> {
    return required(variable, (raw) => raw, fallback);
  },
  optionalString(variable: string): Setting<string | undefined> {
    return { variable, parse: (raw) => (raw === '' ? undefined : raw) };
  },
  int(variable: string, fallback?: number, range: { min?: number; max?: number } = {}): Setting<number> {
    return required(
      variable,
      (raw) => {
        if (!/^-?\d+$/.test(raw.trim())) throw new SettingError(`${variable}="${raw}" is not an integer`);
        const n = Number(raw);
        if (range.min !== undefined && n < range.min) throw new SettingError(`${variable}=${n} is below the minimum ${range.min}`);
        if (range.max !== undefined && n > range.max) throw new SettingError(`${variable}=${n} is above the maximum ${range.max}`);
        return n;
      },
      fallback,
    );
  },
  port(variable: string, fallback?: number): Setting<number> {
    return env.int(variable, fallback, { min: 1, max: 65535 });
  },
  bool(variable: string, fallback?: boolean): Setting<boolean> {
    return required(
      variable,
      (raw) => {
        const v = raw.trim().toLowerCase();
        if (['true', '1', 'yes'].includes(v)) return true;
        if (['false', '0', 'no'].includes(v)) return false;
        throw new SettingError(`${variable}="${raw}" is not a boolean (use true or false)`);
      },
      fallback,
    );
  },
  /** A duration in milliseconds; `range` bounds it, in the same syntax (e.g. `{ min: '1s', max: '24h' }`). */
  duration(variable: string, fallback?: string, range: { min?: string; max?: string } = {}): Setting<number> {
    return required(
      variable,
      (raw) => {
        let ms: number;
        try {
          ms = parseDuration(raw);
        } catch (err) {
          throw new SettingError(`${variable}: ${(err as Error).message}`);
        }
        if (range.min !== undefined && ms < parseDuration(range.min)) throw new SettingError(`${variable}=${raw.trim()} is below the minimum ${range.min}`);
        if (range.max !== undefined && ms > parseDuration(range.max)) throw new SettingError(`${variable}=${raw.trim()} is above the maximum ${range.max}`);
        return ms;
      },
      fallback === undefined ? undefined : parseDuration(fallback),
    );
  },
  oneOf<const T extends string>(variable: string, choices: readonly T[], fallback?: T): Setting<T> {
    return required(
      variable,
      (raw) => {
        if (!(choices as readonly string[]).includes(raw)) {
          throw new SettingError(`${variable}="${raw}" is not one of ${choices.join(', ')}`);
        }
        return raw as T;
      },
      fallback,
    );
  },
  /** A listen address: `host:port`, `[v6]:port` or `:port` (see parseListenAddr). */
  listenAddr(variable: string, fallback?: string): Setting<ListenAddr> {
    return required(
      variable,
      (raw) => {
        try {
          return parseListenAddr(raw);
        } catch (err) {
          throw new SettingError(`${variable}: ${(err as Error).message}`);
        }
      },
      fallback === undefined ? undefined : parseListenAddr(fallback),
    );
  },
  /** A comma-separated list of CIDRs, e.g. `10.0.0.0/8,fd00::/8`. */
  cidrList(variable: string): Setting<Cidr[]> {
    return {
      variable,
      parse(raw) {
        try {
          return parseCidrList(raw ?? '');
        } catch (err) {
          throw new SettingError(`${variable}: ${(err as Error).message}`);
        }
      },
    };
  },
  /** A comma-separated list of ports and port ranges, e.g. `25,443,8000-8080`. */
  portList(variable: string): Setting<number[]> {
    return {
      variable,
      parse(raw) {
        if (raw === undefined || raw.trim() === '') return [];
        try {
          return parsePortList(raw);
        } catch (err) {
          throw new SettingError(`${variable}: ${(err as Error).message}`);
        }
      },
    };
  },
};

export interface ListenAddr {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
}

/**
 * Parses `host:port`, `[v6]:port` or `:port` (every IPv4 address, as Go's
 * `:8080` means "all interfaces"). An IPv6 address must be bracketed, so
 * `::1:80` is refused rather than guessed.
 */
export function parseListenAddr(raw: string): ListenAddr {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(raw.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`"${raw}" is not host:port (or [ipv6]:port, or :port for all addresses)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** Parses `25,443,8000-8002` into [25, 443, 8000, 8001, 8002]. */
export function parsePortList(raw: string): number[] {
  const ports = new Set<number>();
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!m || lo < 1 || hi > 65535 || lo > hi) throw new Error(`"${part}" is not a port or port range (1-65535)`);
    for (let p = lo; p <= hi; p++) ports.add(p);
  }
  return [...ports].sort((a, b) => a - b);
}

/** A CIDR block with the IP family whose table it belongs to; `cidr` as iptables takes it (`address/prefix`). */
export interface Cidr {
  readonly family: 'ipv4' | 'ipv6';
  readonly cidr: string;
}

/** Parses `10.0.0.0/8,fd00::/8` (a bare address is a /32 or /128); throws a message naming the bad part. */
export function parseCidrList(raw: string): Cidr[] {
  const out: Cidr[] = [];
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [addr = '', prefix, extra] = part.split('/');
    const v = isIP(addr);
    const max = v === 6 ? 128 : 32;
    const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (v === 0 || extra !== undefined || !(bits >= 0 && bits <= max)) throw new Error(`"${part}" is not a CIDR (e.g. 10.0.0.0/8, fd00::/8)`);
    out.push({ family: v === 6 ? 'ipv6' : 'ipv4', cidr: `${addr}/${bits}` });
  }
  return out;
}

export type ConfigSchema = Record<string, Setting<unknown>>;
export type ConfigOf<S extends ConfigSchema> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

/** Parses all settings of a schema; throws one ConfigError naming every problem. */
export function loadConfig<S extends ConfigSchema>(schema: S, source: NodeJS.ProcessEnv): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, setting] of Object.entries(schema)) {
    try {
      out[key] = setting.parse(source[setting.variable]);
    } catch (err) {
      // A setting of a component's own (a Setting literal) may throw a ConfigError: its problems join the rest.
      if (err instanceof ConfigError) problems.push(...err.problems);
      else if (err instanceof SettingError) problems.push(err.message);
      else throw err;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}
