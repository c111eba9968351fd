/**
 * How plain JSON scalars and keys are written as YAML in templates. Helm
 * parses its output with a YAML 1.1 parser, where `on`, `yes`, `no` are
 * booleans, so anything that could be read as another type is quoted.
 */
const YAML11_SPECIAL = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~|=|<<)$/;
const PLAIN_SAFE = /^[A-Za-z_/][A-Za-z0-9_./-]*$/;

export function yamlKey(key: string): string {
  return PLAIN_SAFE.test(key) && !YAML11_SPECIAL.test(key) ? key : JSON.stringify(key);
}

/** A single-line scalar; `quoteAll` forces double quotes on strings. */
export function yamlScalar(value: unknown, quoteAll = false): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') {
    if (!quoteAll && PLAIN_SAFE.test(value) && !YAML11_SPECIAL.test(value)) return value;
    return JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`not a scalar: ${JSON.stringify(value)}`);
}

/**
 * Lines of a literal block scalar for a multi-line string, or undefined when
 * the string cannot round-trip through one (leading spaces, several trailing newlines).
 */
export function blockLines(value: string): { header: string; lines: string[] } | undefined {
  if (!value.includes('\n') || /^[ \t]/.test(value) || /\n\n$/.test(value) || value.includes('\r')) return undefined;
  const keepNewline = value.endsWith('\n');
  const body = keepNewline ? value.slice(0, -1) : value;
  return { header: keepNewline ? '|' : '|-', lines: body.split('\n') };
}
