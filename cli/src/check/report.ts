/** Renders check results like kubectl-style CLIs do: one line per check, grouped by category, fixes indented. */
import type { CheckResult } from './checks.js';

const MARK = { ok: '√', warn: '‼', fail: '×' } as const;

export function renderCheckReport(results: readonly CheckResult[]): string {
  const out: string[] = [];
  let category = '';
  for (const r of results) {
    if (r.category !== category) {
      if (category) out.push('');
      category = r.category;
      out.push(category, '-'.repeat(category.length));
    }
    out.push(`${MARK[r.status]} ${r.description}`);
    if (r.message) out.push(`    ${r.message}`);
    if (r.fix) out.push(`    fix: ${r.fix}`);
  }
  const fails = results.filter((r) => r.status === 'fail').length;
  const warns = results.filter((r) => r.status === 'warn').length;
  out.push('', fails ? `Status check results are × (${fails} failed, ${warns} warnings)` : `Status check results are √${warns ? ` (${warns} warnings)` : ''}`);
  return out.join('\n') + '\n';
}
