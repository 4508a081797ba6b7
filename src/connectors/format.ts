// Results as CSV or NDJSON text (browser-safe).

import type { ResultBatch, TextFormat } from './types.js';

/**
 * What {@link TextFormatter} writes besides the results: the names of the
 * input columns to echo.
 *
 * @example
 * ```ts
 * const columns: OutputColumns = { value: 'temp', time: 'ts', key: 'sensor', ops: ['mean', 'std'] };
 * ```
 */
export interface OutputColumns {
  /** The value column's name (its values are echoed). */
  value: string;
  /**
   * The time column's name, echoed as read.
   * @default undefined (not written)
   */
  time?: string;
  /**
   * The key column's name, echoed.
   * @default undefined (not written)
   */
  key?: string;
  /** The ops' output column names, in the order of the results. */
  ops: readonly string[];
}

const NEEDS_QUOTES = /[",\r\n]/;
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** A CSV field, quoted when it holds a comma, quote or line end. */
export function csvField(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const COMMA = 0x2c;
const LF = 0x0a;
/** Exact powers of ten up to 10^6. */
const POW10 = [1, 10, 100, 1000, 1e4, 1e5, 1e6];
const asciiDecoder = new TextDecoder();

/** ASCII text built in bytes, so that a number or a cell makes no string of its own. */
class AsciiText {
  private bytes = new Uint8Array(1 << 16);
  length = 0;

  private room(n: number): Uint8Array {
    if (this.length + n > this.bytes.length) {
      const more = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
      more.set(this.bytes.subarray(0, this.length));
      this.bytes = more;
    }
    return this.bytes;
  }

  /** Appends `s`; false, leaving the text unusable, when `s` is not ASCII. */
  text(s: string): boolean {
    const b = this.room(s.length);
    let o = this.length;
    for (let j = 0; j < s.length; j++) {
      const c = s.charCodeAt(j);
      if (c > 0x7f) return false;
      b[o++] = c;
    }
    this.length = o;
    return true;
  }

  byte(c: number): true {
    this.room(1)[this.length++] = c;
    return true;
  }

  /** Appends `String(x)`. */
  number(x: number): void {
    if (!this.decimal(x)) this.text(String(x));
  }

  /**
   * Appends x's digits when 1e-6 ≤ |x| < 1e9 and x is m / 10^k exactly with
   * k ≤ 6: then M = |x|·10^6 is an integer below 10^15 (so exact), which one
   * multiplication finds, and M / 10^6 is x again; M without its trailing
   * zeros is m with the smallest k. String(x) writes those very digits (fixed
   * notation, and no other decimal of at most 15 digits is the same double),
   * so it need not be called. False, having appended nothing, otherwise.
   */
  private decimal(x: number): boolean {
    const ax = Math.abs(x);
    if (!(ax >= 1e-6 && ax < 1e9)) return false;
    let m = Math.round(ax * 1e6);
    if (m / 1e6 !== ax) return false;
    let k = 6;
    while (k > 0 && m % 10 === 0) {
      m /= 10;
      k--;
    }
    if (x < 0) this.byte(0x2d);
    const p = POW10[k] as number;
    const whole = Math.floor(m / p);
    this.digits(whole, digitCount(whole));
    if (k > 0) {
      this.byte(0x2e);
      this.digits(m - whole * p, k);
    }
    return true;
  }

  /** Appends integer `v` (below 2^53) as `count` digits, zero-padded. */
  private digits(v: number, count: number): void {
    const b = this.room(count);
    for (let j = this.length + count - 1; j >= this.length; j--) {
      const q = Math.floor(v / 10);
      b[j] = 0x30 + (v - q * 10);
      v = q;
    }
    this.length += count;
  }

  toString(): string {
    return asciiDecoder.decode(this.bytes.subarray(0, this.length));
  }
}

function digitCount(v: number): number {
  let count = 1;
  while (v >= 10) {
    v = Math.floor(v / 10);
    count++;
  }
  return count;
}

/** Most keys whose text {@link Memo} keeps; past them, text is made per row. */
const MEMO_KEYS = 1 << 16;

/** A function of a key, computed once per key (for the first {@link MEMO_KEYS} keys). */
class Memo {
  private readonly done = new Map<string, string>();
  constructor(private readonly make: (key: string) => string) {}

  get(key: string): string {
    let text = this.done.get(key);
    if (text === undefined) {
      text = this.make(key);
      if (this.done.size < MEMO_KEYS) this.done.set(key, text);
    }
    return text;
  }
}

/** A number as JSON: finite numbers as numbers, NaN as null, infinities as strings. */
export function jsonNumber(x: number): string {
  if (Number.isFinite(x)) return String(x);
  return Number.isNaN(x) ? 'null' : x > 0 ? '"Infinity"' : '"-Infinity"';
}

/**
 * Formats result batches as text: CSV (a header line, then one line per
 * row; numbers as JavaScript's `String(x)`, so `NaN`, `Infinity`) or NDJSON
 * (one object per row; NaN as `null`, infinities as the strings
 * `"Infinity"`/`"-Infinity"`). Columns: time, key, value, then each op.
 *
 * @example
 * ```ts
 * const f = new TextFormatter('csv', { value: 'v', ops: ['mean'] });
 * let text = f.header(); // 'v,mean\n'
 * for await (const r of runKernels(source, ops)) text += f.format(r);
 * ```
 */
export class TextFormatter {
  /** The format written. */
  readonly kind: TextFormat;
  private readonly columns: OutputColumns;
  private readonly names: string[];
  /** A key as written, with the comma after it: a CSV field or a JSON string. */
  private readonly keyCells: Memo;
  private readonly ascii = new AsciiText();

  constructor(format: TextFormat, columns: OutputColumns) {
    if (format !== 'csv' && format !== 'ndjson') throw new TypeError(`format must be 'csv' or 'ndjson', got ${String(format)}`);
    this.kind = format;
    this.columns = columns;
    this.names = [
      ...(columns.time !== undefined ? [columns.time] : []),
      ...(columns.key !== undefined ? [columns.key] : []),
      columns.value,
      ...columns.ops,
    ];
    this.keyCells = new Memo(format === 'csv' ? (key) => `${csvField(key)},` : (key) => `${JSON.stringify(key)},`);
  }

  /** The header line for CSV (empty for NDJSON). */
  header(): string {
    return this.kind === 'csv' ? `${this.names.map(csvField).join(',')}\n` : '';
  }

  /** The lines of one result batch. */
  format(result: ResultBatch): string {
    const { batch, results } = result;
    const n = batch.length;
    const hasTime = this.columns.time !== undefined;
    const hasKey = this.columns.key !== undefined;
    const times = batch.timeText;
    const stamps = batch.timestamps;
    const keys = batch.keys;
    let out = '';
    if (this.kind === 'csv') {
      // Bytes, with no string per cell, when the text is ASCII (as it nearly always is).
      const ascii = this.ascii;
      ascii.length = 0;
      for (let i = 0; i < n; i++) {
        if (hasTime && !(ascii.text(csvField(times?.[i] ?? String(stamps?.[i]))) && ascii.byte(COMMA))) break;
        if (hasKey && !ascii.text(this.keyCells.get(keys?.[i] ?? ''))) break;
        ascii.number(batch.values[i] as number);
        for (const r of results) {
          ascii.byte(COMMA);
          ascii.number(r[i] as number);
        }
        ascii.byte(LF);
        if (i === n - 1) return ascii.toString();
      }
      // Appending to one string (no line strings) and each key's field made once: the costs a profile showed.
      for (let i = 0; i < n; i++) {
        if (hasTime) out += `${csvField(times?.[i] ?? String(stamps?.[i]))},`;
        if (hasKey) out += this.keyCells.get(keys?.[i] ?? '');
        out += String(batch.values[i]);
        for (const r of results) out += `,${String(r[i])}`;
        out += '\n';
      }
      return out;
    }
    const jsonNames = this.names.map((name) => JSON.stringify(name));
    for (let i = 0; i < n; i++) {
      let k = 0;
      let line = '{';
      if (hasTime) {
        const t = times?.[i] ?? String(stamps?.[i]);
        line += `${jsonNames[k++]}:${JSON_NUMBER.test(t) ? t : JSON.stringify(t)},`;
      }
      if (hasKey) line += `${jsonNames[k++]}:${this.keyCells.get(keys?.[i] ?? '')}`;
      line += `${jsonNames[k++]}:${jsonNumber(batch.values[i] as number)}`;
      for (const r of results) line += `,${jsonNames[k++]}:${jsonNumber(r[i] as number)}`;
      out += `${line}}\n`;
    }
    return out;
  }
}
