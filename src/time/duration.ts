// Durations: numbers of milliseconds or strings like '250ms', '5s', '1m30s'.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)/y;

/**
 * A duration in milliseconds. Accepts a finite number ≥ 0 (ms) or a string of
 * one or more `<number><unit>` parts, units `ms`, `s`, `m`, `h`, `d`
 * (`'250ms'`, `'5s'`, `'1m30s'`, `'1.5h'`). Throws `TypeError` for another
 * type and `RangeError` for a bad value, naming `field`.
 *
 * @example
 * ```ts
 * parseDuration('1m30s', 'window'); // 90000
 * ```
 */
export function parseDuration(value: unknown, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`${field} must be a finite number of ms ≥ 0, got ${value}`);
    return value;
  }
  if (typeof value !== 'string') {
    throw new TypeError(`${field} must be a number of ms or a duration string like '5s', got ${value === null ? 'null' : typeof value}`);
  }
  const text = value.trim();
  if (text === '') throw new RangeError(`${field} must be a duration like '250ms', '5s', '1m30s', got ''`);
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex;
    const m = PART.exec(text);
    if (m === null) {
      throw new RangeError(`${field} must be a duration like '250ms', '5s', '1m30s' (units ms, s, m, h, d), got '${value}' (bad at character ${at})`);
    }
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  if (!Number.isFinite(total)) throw new RangeError(`${field} is too large: '${value}'`);
  return total;
}

/** A duration that may also be Infinity (for time-to-live). */
export function parseDurationOrInfinity(value: unknown, field: string): number {
  if (value === Infinity) return Infinity;
  return parseDuration(value, field);
}
