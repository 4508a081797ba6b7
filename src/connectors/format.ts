// Results as CSV or NDJSON text (browser-safe).

import { isoText, writeIso } from './iso-time.js';
import { numberRows, ROWS_PER_CALL } from './number-rows.js';
import type { ColumnBatch, ResultBatch, TextFormat } from './types.js';

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
const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;
const asciiDecoder = new TextDecoder();
const utf8 = new TextEncoder();

/** ASCII text built in bytes, so that a number or a cell makes no string of its own. */
export class AsciiText {
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

  /** Appends `csvField(s)` (false as {@link AsciiText.text}): `s` copied as it is checked, quoted only when it must be. */
  cell(s: string): boolean {
    const b = this.room(s.length);
    let o = this.length;
    for (let j = 0; j < s.length; j++) {
      const c = s.charCodeAt(j);
      if (c > 0x7f) return false;
      if (c === QUOTE || c === COMMA || c === CR || c === LF) return this.text(csvField(s)); // rare: the general path
      b[o++] = c;
    }
    this.length = o;
    return true;
  }

  /** Appends the canonical ISO text of time `ms` (years 0000–9999), written from the ms. */
  iso(ms: number): true {
    writeIso(this.room(24), this.length, ms);
    this.length += 24;
    return true;
  }

  byte(c: number): true {
    this.room(1)[this.length++] = c;
    return true;
  }

  /** The buffer, with room for `n` bytes past `length`: a bulk writer fills it and moves `length` on (valid until the next append). */
  spare(n: number): Uint8Array {
    return this.room(n);
  }

  /** The bytes appended so far (a view, valid until the next append). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

}

const isAscii = (s: string): boolean => !/[^\x00-\x7f]/.test(s);

/**
 * Line prefixes of a block of rows at once: rows [from, from + count)
 * appended to `out`, row i's end at `ends[i - from]`; false as a per-row
 * prefix's false (the text is not ASCII). One call per block instead of one
 * per row, for a writer with a bulk loop (key cells from a byte table).
 */
export interface BlockPrefix {
  block(from: number, count: number, out: AsciiText, ends: Uint32Array): boolean;
  /** Times (whole ms, years 0000–9999) whose canonical ISO cells and commas go before each row's prefix, written with the numbers; undefined: none. */
  isoTimes?(): Float64Array | undefined;
}

/** A line prefix: per row (`prefix(i, out)`, false when not ASCII) or per block. */
export type LinePrefix = ((i: number, out: AsciiText) => boolean) | BlockPrefix;

/**
 * The text of n lines of numbers, or undefined when the WASM formatter is
 * unavailable or a prefix or separator is not ASCII (the caller then makes
 * the text with strings). Line i is `prefix(i)`'s text, then the columns'
 * numbers at row i as {@link NumberRows} lays them out with `separators`;
 * numbers as `String(x)`, or with `json` as {@link jsonNumber}.
 */
export function numberLines(
  out: AsciiText,
  n: number,
  columns: readonly ArrayLike<number>[],
  separators: readonly string[],
  json: boolean,
  prefix?: LinePrefix,
): string | undefined {
  const sink = new LinesSink();
  return eachBlock(out, n, columns, separators, json, prefix, sink) ? sink.lines : undefined;
}

/** Where {@link eachBlock} hands each block's bytes (valid until the next block): an object of a class, not a closure per call, so its call site keeps one target. */
interface BlockSink {
  add(text: Uint8Array, from: number, count: number): void;
}

class LinesSink implements BlockSink {
  lines = '';
  add(text: Uint8Array): void {
    this.lines += asciiDecoder.decode(text);
  }
}

/**
 * The blocks' bytes in one array, sized from the lines so far for all `n`:
 * one allocation when lines are alike, none when `reuse` (an array whose
 * owner is done with it) has room.
 */
class BytesSink implements BlockSink {
  private bytes: Uint8Array;
  private length = 0;
  constructor(private readonly n: number, reuse: Uint8Array | undefined) {
    this.bytes = reuse ?? new Uint8Array(0);
  }

  add(text: Uint8Array, from: number, count: number): void {
    const length = this.length;
    if (length + text.length > this.bytes.length) {
      const more = new Uint8Array(Math.max(length + text.length, Math.ceil((((length + text.length) * this.n) / (from + count)) * 1.05)));
      more.set(this.bytes.subarray(0, length));
      this.bytes = more;
    }
    this.bytes.set(text, length);
    this.length = length + text.length;
  }

  get text(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

/**
 * {@link numberLines} as bytes (ASCII, so UTF-8 too): a fresh array the
 * caller may keep, with no string made (a sink writes it as it is, where
 * the text had to be decoded from bytes and encoded back). With `reuse`:
 * written from its start (a view of it, unless the text outgrows it).
 */
export function numberBytes(
  out: AsciiText,
  n: number,
  columns: readonly ArrayLike<number>[],
  separators: readonly string[],
  json: boolean,
  prefix?: LinePrefix,
  reuse?: Uint8Array,
): Uint8Array | undefined {
  const sink = new BytesSink(n, reuse);
  return eachBlock(out, n, columns, separators, json, prefix, sink) ? sink.text : undefined;
}

/** Formats the lines {@link ROWS_PER_CALL} at a time, handing each block's bytes (valid until the next block) to `sink`; false where numberLines gives undefined. */
function eachBlock(
  out: AsciiText,
  n: number,
  columns: readonly ArrayLike<number>[],
  separators: readonly string[],
  json: boolean,
  prefix: LinePrefix | undefined,
  sink: BlockSink,
): boolean {
  const rows = numberRows();
  if (rows === undefined || !separators.every(isAscii)) return false;
  rows.layout(separators, json);
  const prefixEnds = prefix !== undefined ? new Uint32Array(Math.min(n, ROWS_PER_CALL)) : undefined;
  const isoTimes = prefix !== undefined && typeof prefix !== 'function' ? prefix.isoTimes?.() : undefined;
  for (let from = 0; from < n; from += ROWS_PER_CALL) {
    const count = Math.min(ROWS_PER_CALL, n - from);
    if (prefix !== undefined) {
      out.length = 0;
      if (typeof prefix !== 'function') {
        if (!prefix.block(from, count, out, prefixEnds!)) return false;
      } else {
        for (let i = 0; i < count; i++) {
          if (!prefix(from + i, out)) return false;
          prefixEnds![i] = out.length;
        }
      }
    }
    const { text, ends } = rows.format(columns, from, count, prefixEnds && { bytes: out.view(), ends: prefixEnds }, isoTimes);
    sink.add(text.subarray(0, ends[count - 1]), from, count);
  }
  return true;
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

/**
 * A batch's time and key cells as written, row by row: one per formatter,
 * loaded with each batch, so the formatting loop calls the same function
 * every batch (a closure per batch made its optimized code deoptimize on each
 * new one, "wrong call target", and compile again).
 */
class RowCells implements BlockPrefix {
  private times: readonly string[] | undefined;
  private stamps: Float64Array | undefined;
  /** Times written from the ms (ColumnBatch.isoTimes): no string per row. */
  private iso = false;
  private keys: readonly string[] | undefined;
  private ids: Uint32Array | undefined;
  /** Batches with key ids: each id's key cell, for the source whose names list is `idNames`. */
  private idCells: string[] = [];
  private idNames: readonly string[] = [];
  /** CSV key cells by id as bytes, for the bulk loop (`block`): id's cell at `cellStart[id]`, `cellLength[id]` bytes (start −1: not made yet, −2: not ASCII). */
  private cellBytes = new Uint8Array(1 << 12);
  private cellBytesLength = 0;
  private cellStart = new Int32Array(0);
  private cellLength = new Uint16Array(0);

  constructor(
    private readonly csv: boolean,
    private readonly hasTime: boolean,
    private readonly hasKey: boolean,
    private readonly keyCells: Memo,
    private readonly jsonNames: readonly (string | undefined)[],
  ) {}

  load({ timeText, timestamps, isoTimes, keys, keyIds, keyNames }: ColumnBatch): this {
    this.times = timeText;
    this.stamps = timestamps;
    this.iso = timeText === undefined && isoTimes === true && timestamps !== undefined;
    this.keys = keys;
    this.ids = keyNames !== undefined ? keyIds : undefined;
    if (this.ids !== undefined && keyNames !== this.idNames) {
      this.idNames = keyNames as readonly string[]; // another source numbers its keys anew
      this.idCells = [];
      this.cellStart = new Int32Array(0);
      this.cellBytesLength = 0;
    }
    return this;
  }

  /**
   * Rows [from, from + count)'s prefixes. CSV lines of a key read as ids and
   * no time (`run --key k`): each row's key cell copied from a byte table by
   * id in one loop, with no call or string per row; otherwise row by row.
   * The per-row loop lives here, not in eachBlock: eachBlock with the whole
   * per-row chain inlined was compiled by TurboFan 2–4 times a run (an
   * aborted OSR, deopts), 25–60 ms each on V8's helper threads.
   */
  block(from: number, count: number, out: AsciiText, ends: Uint32Array): boolean {
    const ids = this.ids;
    if (this.isoTimes() !== undefined) {
      // The time cells come from the formatter (isoTimes); the prefixes are the key cells, or empty.
      if (ids !== undefined) return this.keyIdBlock(ids, from, count, out, ends, out.length);
      ends.fill(out.length, 0, count);
      return true;
    }
    if (!this.csv || this.hasTime || !this.hasKey || ids === undefined) {
      for (let i = 0; i < count; i++) {
        if (!this.cells(from + i, out)) return false;
        ends[i] = out.length;
      }
      return true;
    }
    return this.keyIdBlock(ids, from, count, out, ends, out.length);
  }

  /**
   * CSV lines of canonical ISO times (ColumnBatch.isoTimes) keyed by id or
   * not: the times, which the WASM number formatter writes before each
   * prefix as their text and a comma, so that only the key cells (from
   * the byte table) are left to the per-row loop in JavaScript. (Written
   * here row by row, the time cells were ~10 % of the demo's main thread,
   * most of it in code not yet optimized: a job of 100 000 rows runs each
   * per-batch loop twice.)
   */
  isoTimes(): Float64Array | undefined {
    return this.csv && this.iso && (!this.hasKey || this.ids !== undefined) ? this.stamps : undefined;
  }

  /**
   * Rows [from, from + count)'s CSV key cells by id, copied from the byte
   * table in one loop (false: not ASCII). `at` is out.length, read by the
   * caller: read here at the entry, first run before type feedback, it
   * deoptimized this loop's TurboFan code on entry at the next batch.
   */
  private keyIdBlock(ids: Uint32Array, from: number, count: number, out: AsciiText, ends: Uint32Array, at: number): boolean {
    let o = at;
    for (let i = 0; i < count; i++) {
      const id = ids[from + i]!;
      let start = id < this.cellStart.length ? this.cellStart[id]! : -1;
      if (start === -1) start = this.cellBytesOf(id);
      if (start < 0) {
        // Not ASCII (the string path), or past MEMO_KEYS (made per row).
        out.length = o;
        if (start === -2 || !out.text(this.keyCell(from + i))) return false;
        o = ends[i] = out.length;
        continue;
      }
      const end = start + this.cellLength[id]!;
      const b = out.spare(end - start);
      const cells = this.cellBytes;
      for (let j = start; j < end; j++) b[o++] = cells[j]!;
      out.length = o;
      ends[i] = o;
    }
    return true;
  }

  /** Enters key id's CSV cell in the byte table: its start, −2 when not ASCII, −3 past MEMO_KEYS (not kept). */
  private cellBytesOf(id: number): number {
    if (id >= MEMO_KEYS) return -3;
    if (id >= this.cellStart.length) {
      const more = new Int32Array(Math.max(1024, 2 * this.cellStart.length, id + 1)).fill(-1);
      more.set(this.cellStart);
      this.cellStart = more;
      const lengths = new Uint16Array(more.length);
      lengths.set(this.cellLength.subarray(0, Math.min(this.cellLength.length, lengths.length)));
      this.cellLength = lengths;
    }
    const cell = this.keyCells.get(this.idNames[id] ?? '');
    if (!isAscii(cell) || cell.length > 0xffff) return (this.cellStart[id] = -2);
    const start = this.cellBytesLength;
    if (start + cell.length > this.cellBytes.length) {
      const more = new Uint8Array(Math.max(2 * this.cellBytes.length, start + cell.length));
      more.set(this.cellBytes.subarray(0, start));
      this.cellBytes = more;
    }
    for (let j = 0; j < cell.length; j++) this.cellBytes[start + j] = cell.charCodeAt(j);
    this.cellBytesLength = start + cell.length;
    this.cellLength[id] = cell.length;
    return (this.cellStart[id] = start);
  }

  /** Row i's time text: as read, made from the ms for canonical ISO cells, else the ms as a number. */
  timeText(i: number): string {
    const text = this.times?.[i];
    if (text !== undefined) return text;
    return this.iso ? isoText(this.stamps![i]!) : String(this.stamps?.[i]);
  }

  /**
   * Row i's key as written, with the comma after it. With key ids (ColumnOptions.keyIds)
   * a row costs an array read: no string per row, no hashing of one.
   */
  keyCell(i: number): string {
    const ids = this.ids;
    if (ids === undefined) return this.keyCells.get(this.keys?.[i] ?? '');
    const id = ids[i]!;
    let cell = this.idCells[id];
    if (cell === undefined) {
      cell = this.keyCells.get(this.idNames[id] ?? '');
      if (id < MEMO_KEYS) this.idCells[id] = cell;
    }
    return cell;
  }

  /** Writes row i's time and key cells (CSV), or its '{' and time and key members (NDJSON). */
  private cells(i: number, out: AsciiText): boolean {
    if (!this.csv) return this.jsonMembers(i, out);
    if (this.hasTime) {
      // Canonical ISO times are written from their ms: no string per row.
      if (this.iso) out.iso(this.stamps![i]!);
      else if (!out.cell(this.timeText(i))) return false;
      out.byte(COMMA);
    }
    return !this.hasKey || out.text(this.keyCell(i));
  }

  private jsonMembers(i: number, out: AsciiText): boolean {
    return out.text('{') && (!this.hasTime || out.text(`${this.jsonNames[0]}${jsonTime(this.timeText(i))},`)) && (!this.hasKey || (out.text(this.jsonNames[1]!) && out.text(this.keyCell(i))));
  }
}

/** A time as read, in JSON: a number when it is one, else a string. */
function jsonTime(t: string): string {
  return JSON_NUMBER.test(t) ? t : JSON.stringify(t);
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
  /** What goes around the numbers of a line (see {@link numberLines}). */
  private readonly csvSeparators: readonly string[];
  private readonly jsonSeparators: readonly string[];
  /** `"time":` and `"key":` of NDJSON lines. */
  private readonly jsonPrefixNames: readonly (string | undefined)[];
  /** The time and key cells of the batch being formatted. */
  private readonly cells: RowCells;
  /** The memory of the bytes formatBytes made, until recycled; and the arrays given back by recycle, for the next formatBytes calls. */
  private readonly made = new WeakSet<ArrayBufferLike>();
  private readonly spares: Uint8Array[] = [];

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
    const numberNames = [columns.value, ...columns.ops];
    this.csvSeparators = ['', ...numberNames.slice(1).map(() => ','), '\n'];
    const json = numberNames.map((name) => `${JSON.stringify(name)}:`);
    this.jsonSeparators = [json[0]!, ...json.slice(1).map((member) => `,${member}`), '}\n'];
    this.jsonPrefixNames = [columns.time, columns.key].map((name) => (name === undefined ? undefined : `${JSON.stringify(name)}:`));
    this.cells = new RowCells(format === 'csv', columns.time !== undefined, columns.key !== undefined, this.keyCells, this.jsonPrefixNames);
  }

  /** The header line for CSV (empty for NDJSON). */
  header(): string {
    return this.kind === 'csv' ? `${this.names.map(csvField).join(',')}\n` : '';
  }

  /** The lines of one result batch. */
  format(result: ResultBatch): string {
    const { batch, results } = result;
    const columns = [batch.values, ...results];
    // Bytes, with no string per number or cell, when the text is ASCII (as it nearly always is).
    const csv = this.kind === 'csv';
    const text = numberLines(this.ascii, batch.length, columns, csv ? this.csvSeparators : this.jsonSeparators, !csv, this.prefix(result));
    return text ?? (csv ? this.csvLines(result) : this.jsonLines(result));
  }

  /**
   * {@link TextFormatter.format} as UTF-8 bytes: made as bytes (no string)
   * when the text is ASCII, else the text encoded.
   */
  formatBytes(result: ResultBatch): Uint8Array {
    const { batch, results } = result;
    const csv = this.kind === 'csv';
    // The array given back by recycle, if any: its pages are mapped already (a fresh one's first touch costs a page fault per 4 KiB).
    const reuse = this.spares.pop();
    const bytes = numberBytes(this.ascii, batch.length, [batch.values, ...results], csv ? this.csvSeparators : this.jsonSeparators, !csv, this.prefix(result), reuse);
    if (bytes === undefined) return utf8.encode(csv ? this.csvLines(result) : this.jsonLines(result));
    this.made.add(bytes.buffer);
    return bytes;
  }

  /**
   * Gives back bytes that formatBytes returned, once nothing reads them any
   * more (the sink has written them): the next formatBytes writes over them.
   * Optional: bytes never given back stay the caller's.
   */
  recycle(bytes: Uint8Array): void {
    // Only arrays formatBytes made itself: any other may share its memory (a pooled Buffer's, say).
    if (!this.made.delete(bytes.buffer)) return;
    // The largest two, the largest last (taken first): a live input's batches of a few rows between large ones do not take the large one's place.
    const spares = this.spares;
    spares.push(new Uint8Array(bytes.buffer as ArrayBuffer));
    spares.sort((a, b) => a.length - b.length);
    if (spares.length > 2) spares.shift();
  }

  /** Writes rows' time and key cells (CSV), or their '{' and time and key members (NDJSON); undefined when there are none. */
  private prefix({ batch }: ResultBatch): BlockPrefix | undefined {
    if (this.kind === 'csv' && this.columns.time === undefined && this.columns.key === undefined) return undefined;
    return this.cells.load(batch);
  }

  private csvLines({ batch, results }: ResultBatch): string {
    const hasTime = this.columns.time !== undefined;
    const hasKey = this.columns.key !== undefined;
    const cells = this.cells.load(batch);
    let out = '';
    // Appending to one string (no line strings) and each key's field made once: the costs a profile showed.
    for (let i = 0; i < batch.length; i++) {
      if (hasTime) out += `${csvField(cells.timeText(i))},`;
      if (hasKey) out += cells.keyCell(i);
      out += String(batch.values[i]);
      for (const r of results) out += `,${String(r[i])}`;
      out += '\n';
    }
    return out;
  }

  private jsonLines({ batch, results }: ResultBatch): string {
    const hasTime = this.columns.time !== undefined;
    const hasKey = this.columns.key !== undefined;
    const cells = this.cells.load(batch);
    const jsonNames = this.names.map((name) => JSON.stringify(name));
    let out = '';
    for (let i = 0; i < batch.length; i++) {
      let k = 0;
      let line = '{';
      if (hasTime) line += `${jsonNames[k++]}:${jsonTime(cells.timeText(i))},`;
      if (hasKey) line += `${jsonNames[k++]}:${cells.keyCell(i)}`;
      line += `${jsonNames[k++]}:${jsonNumber(batch.values[i] as number)}`;
      for (const r of results) line += `,${jsonNames[k++]}:${jsonNumber(r[i] as number)}`;
      out += `${line}}\n`;
    }
    return out;
  }
}
