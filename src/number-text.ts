// Strict parsing of number text (a CLI line, a CSV cell): shared by the CLI and the connectors.
//
// Grammar (after trimming spaces, tabs and CRs on both sides):
//   ''                      missing: NaN
//   'NaN' | 'nan'           missing: NaN
//   [+-]? ('Infinity' | 'inf')
//   [+-]? (D+ ('.' D*)? | '.' D+) ([eE] [+-]? D+)?      D = [0-9]
// Anything else ('0x10', '1,5', '1_000', 'abc', '1e', '.', '--1') is refused.
//
// Lines are given as ranges of a latin1 string (one char per input byte), so
// no UTF-8 decoding happens on the hot path: every valid line is ASCII.

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const PLUS = 0x2b;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

/** Exact powers of ten: every 10^k with k ≤ 22 is a double without rounding. */
const POW10 = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
  1e18, 1e19, 1e20, 1e21, 1e22,
];
/** 2^53: integers below it are exact doubles. */
const EXACT_LIMIT = 9007199254740992;

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB || c === CR;
}

/**
 * Parses `s.slice(start, end)` (one line without its '\n') as a number.
 * Returns `undefined` when the line is not valid, NaN for a missing value.
 * Identical to `Number(trimmed)` on every line the grammar accepts.
 */
export function parseValue(s: string, start: number, end: number): number | undefined {
  while (start < end && isBlank(s.charCodeAt(start))) start++;
  while (end > start && isBlank(s.charCodeAt(end - 1))) end--;
  if (start === end) return NaN;

  let i = start;
  let c = s.charCodeAt(i);
  let negative = false;
  let signed = false;
  if (c === PLUS || c === MINUS) {
    negative = c === MINUS;
    signed = true;
    if (++i === end) return undefined;
    c = s.charCodeAt(i);
  }

  if ((c < ZERO || c > NINE) && c !== DOT) {
    // Only the spelled-out words are left.
    const len = end - i;
    if (len === 3) {
      const w = s.slice(i, end);
      if (w === 'inf') return negative ? -Infinity : Infinity;
      if (!signed && (w === 'nan' || w === 'NaN')) return NaN;
    } else if (len === 8 && s.slice(i, end) === 'Infinity') {
      return negative ? -Infinity : Infinity;
    }
    return undefined;
  }

  // Mantissa digits, accumulated while they stay exact (Clinger's fast path).
  let mantissa = 0;
  let exact = true;
  let digits = 0;
  let scale = 0; // decimal exponent adjustment from digits after the point
  while (i < end) {
    c = s.charCodeAt(i);
    if (c < ZERO || c > NINE) break;
    if (exact) {
      mantissa = mantissa * 10 + (c - ZERO);
      if (mantissa >= EXACT_LIMIT) exact = false;
    }
    digits++;
    i++;
  }
  if (i < end && c === DOT) {
    i++;
    while (i < end) {
      c = s.charCodeAt(i);
      if (c < ZERO || c > NINE) break;
      if (exact) {
        mantissa = mantissa * 10 + (c - ZERO);
        if (mantissa >= EXACT_LIMIT) exact = false;
        scale--;
      }
      digits++;
      i++;
    }
  }
  if (digits === 0) return undefined;

  let exponent = 0;
  if (i < end && (c === LOWER_E || c === UPPER_E)) {
    if (++i === end) return undefined;
    c = s.charCodeAt(i);
    let expNegative = false;
    if (c === PLUS || c === MINUS) {
      expNegative = c === MINUS;
      if (++i === end) return undefined;
    }
    let expDigits = 0;
    while (i < end) {
      c = s.charCodeAt(i);
      if (c < ZERO || c > NINE) break;
      if (exponent < 100000) exponent = exponent * 10 + (c - ZERO);
      expDigits++;
      i++;
    }
    if (expDigits === 0) return undefined;
    if (expNegative) exponent = -exponent;
  }
  if (i !== end) return undefined;

  if (exact) {
    // mantissa and 10^|e| are exact doubles, so one multiplication or
    // division rounds correctly: the same double Number() gives.
    const e = exponent + scale;
    let v: number | undefined;
    if (mantissa === 0) v = 0;
    else if (e >= 0 && e <= 22) v = mantissa * (POW10[e] as number);
    else if (e < 0 && e >= -22) v = mantissa / (POW10[-e] as number);
    if (v !== undefined) return negative ? -v : v;
  }
  return Number(s.slice(start, end));
}

/** Parses a whole string with the line grammar (for option values). */
export function parseNumberText(text: string): number | undefined {
  return parseValue(text, 0, text.length);
}
