/** `-o table|wide|json|yaml`: one place that turns rows into what the user asked for. */
import { stringify } from 'yaml';
import { InvalidArgumentError } from '@weft/common/errors';
import { noPaint, type Color, type Paint } from './terminal.js';

export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function parseOutput(raw: string | undefined): OutputFormat {
  const v = raw ?? 'table';
  if (!(OUTPUT_FORMATS as readonly string[]).includes(v)) throw new InvalidArgumentError(`-o ${v}: use one of ${OUTPUT_FORMATS.join(', ')}`);
  return v as OutputFormat;
}

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string;
  /** Only in `-o wide`. */
  readonly wide?: boolean;
  readonly alignRight?: boolean;
  /** The cell's colour (painted only when colours are on, see terminal.ts). */
  readonly color?: (row: T) => Color | undefined;
}

/** Rows as aligned columns; colours are applied after padding so they never shift the alignment. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[], wide: boolean, paint: Paint = noPaint): string {
  const cols = columns.filter((c) => wide || !c.wide);
  const cells = rows.map((r) => cols.map((c) => c.value(r)));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const pad = (v: string, i: number) => (cols[i]!.alignRight ? v.padStart(widths[i]!) : v.padEnd(widths[i]!));
  const header = cols.map((c, i) => pad(c.header, i)).join('   ').trimEnd();
  const lines = rows.map((r, n) =>
    cells[n]!.map((v, i) => {
      const padded = pad(v, i);
      const color = cols[i]!.color?.(r);
      // Trailing padding stays outside the colour so trimEnd still trims it.
      return color ? paint(color, padded.trimEnd()) + padded.slice(padded.trimEnd().length) : padded;
    })
      .join('   ')
      .trimEnd(),
  );
  return [paint('bold', header), ...lines].join('\n') + '\n';
}

/** Structured output for json/yaml; undefined for table formats. */
export function renderStructured(format: OutputFormat, value: unknown): string | undefined {
  if (format === 'json') return JSON.stringify(value, null, 2) + '\n';
  if (format === 'yaml') return stringify(value);
  return undefined;
}

export const fmt = {
  percent: (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(2)}%`),
  ms: (v: number | null) => (v === null ? '-' : `${Math.round(v)}ms`),
  rps: (v: number) => `${v.toFixed(1)}rps`,
};
