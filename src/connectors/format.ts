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
function jsonNumber(x: number): string {
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
