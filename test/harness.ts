// Shared helpers for the test files: comparing a whole output against the
// reference and producing failure messages that carry a full repro.

import type { EwmSpec, RollingSpec } from '../src/types.js';
import {
  checkApprox,
  EXACT_OPS,
  exactStats,
  type ExactStats,
  fmt,
  fmtArray,
  refWindowValue,
  sameValue,
  windowRows,
} from './reference.js';

export interface Mismatch {
  index: number;
  expected: string;
  actual: number;
  reason?: string;
}

/** Caches exact window statistics per (series, window): they do not depend on minPeriods or ddof. */
export class StatsCache {
  private readonly cache = new Map<Float64Array, Map<number, ExactStats[]>>();
  get(values: Float64Array, window: number): ExactStats[] {
    let byWindow = this.cache.get(values);
    if (!byWindow) this.cache.set(values, (byWindow = new Map()));
    let stats = byWindow.get(window);
    if (!stats) {
      stats = [];
      for (let i = 0; i < values.length; i++) stats.push(exactStats(windowRows(values, i, window)));
      byWindow.set(window, stats);
    }
    return stats;
  }
}

/**
 * Compares an output of `rolling(values, spec)` with the contract:
 * bit for bit for min/max/count/median/quantile, within the accuracy bounds
 * for sum/mean/var/std. With `ignoreZeroSign`, +0 and −0 count as equal for
 * the order-statistic ops (the contract does not say which zero they return).
 */
export function compareRolling(
  values: Float64Array,
  spec: RollingSpec,
  actual: Float64Array,
  opts: { ignoreZeroSign?: boolean; stats?: StatsCache } = {},
): Mismatch[] {
  const out: Mismatch[] = [];
  if (actual.length !== values.length) {
    out.push({ index: -1, expected: `length ${values.length}`, actual: actual.length, reason: 'output length differs from input length' });
    return out;
  }
  const exact = EXACT_OPS.has(spec.op);
  const stats = !exact && opts.stats ? opts.stats.get(values, spec.window) : undefined;
  for (let i = 0; i < values.length; i++) {
    const rows = windowRows(values, i, spec.window);
    const a = actual[i]!;
    if (exact) {
      const e = refWindowValue(rows, spec);
      const zeroOk = opts.ignoreZeroSign === true && spec.op !== 'count' && e === 0 && a === 0;
      if (!sameValue(e, a) && !zeroOk) out.push({ index: i, expected: fmt(e), actual: a });
    } else {
      const reason = checkApprox(rows, spec, a, stats?.[i]);
      if (reason !== null) out.push({ index: i, expected: `≈ ${fmt(refWindowValue(rows, spec))} (correctly rounded exact value)`, actual: a, reason });
    }
  }
  return out;
}

/** Compares an output bit for bit (NaN equals NaN) with an expected array. */
export function compareExact(expected: ArrayLike<number>, actual: ArrayLike<number>): Mismatch[] {
  const out: Mismatch[] = [];
  if (expected.length !== actual.length) {
    out.push({ index: -1, expected: `length ${expected.length}`, actual: actual.length, reason: 'output length differs' });
    return out;
  }
  for (let i = 0; i < expected.length; i++) {
    if (!sameValue(expected[i]!, actual[i]!)) out.push({ index: i, expected: fmt(expected[i]!), actual: actual[i]! });
  }
  return out;
}

/** A failure report: the call to make, the first mismatches and their windows. */
export function describeMismatches(
  call: string,
  values: ArrayLike<number>,
  spec: RollingSpec | EwmSpec | Record<string, unknown>,
  mismatches: readonly Mismatch[],
  window?: number,
): string {
  const lines: string[] = [];
  lines.push(`${call} with spec ${JSON.stringify(spec)}: ${mismatches.length} of ${values.length} outputs wrong`);
  for (const m of mismatches.slice(0, 3)) {
    lines.push(`  index ${m.index}: expected ${m.expected}, actual ${fmt(m.actual)}${m.reason ? ` — ${m.reason}` : ''}`);
    if (window !== undefined && m.index >= 0) lines.push(`    window rows: ${fmtArray(windowRows(values, m.index, window))}`);
  }
  lines.push(`  input (${values.length} rows): ${fmtArray(values)}`);
  lines.push(`  repro: await ${call}(new Float64Array(${fmtArray(values)}), ${JSON.stringify(spec)})`);
  return lines.join('\n');
}

/** Throws one error listing every failure report (the first few in full). */
export function assertNoFailures(reports: readonly string[]): void {
  if (reports.length === 0) return;
  const shown = reports.slice(0, 3).join('\n\n');
  const more = reports.length > 3 ? `\n\n… and ${reports.length - 3} more failing specs` : '';
  throw new Error(`${reports.length} failing spec(s)\n\n${shown}${more}`);
}

/** Windows to test on a series of length n: 1, 2, 3, 7, 64, and one longer than the input. */
export function windowsFor(n: number): number[] {
  return [...new Set([1, 2, 3, 7, 64, n + 3])];
}

/** minPeriods to test for a window: 0, 1, ⌊w/2⌋, w. */
export function minPeriodsFor(w: number): number[] {
  return [...new Set([0, 1, Math.floor(w / 2), w])];
}
