// NDJSON (one JSON object per line) into typed columns, as a stream
// (browser-safe). Lines are split on bytes, so byte offsets are exact; a
// line that is a flat object of numbers and plain strings is read by a
// scanner (flatFields), any other with JSON.parse.

import { BatchBuilder, byteChunks, firstTimeIsDate, MAX_ROW_BYTES, parseValueText, probeOptions, quote, skipTo, startOffset, TOO_LONG } from './columns.js';
import { parseValue } from '../number-text.js';
import { MalformedRowError, UnknownColumnError } from './errors.js';
import type { OpenBytes } from './csv.js';
import type { ByteInput, ColumnBatch, ColumnOptions } from './types.js';

const NL = 0x0a;
// Fatal: decoding invalid bytes to U+FFFD would merge keys that are different bytes.
const decoder = new TextDecoder('utf-8', { fatal: true });

function cellText(v: unknown): string {
  // String(), not JSON.stringify: a time of 1e400 is read as Infinity, and is shown so.
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v) ?? 'undefined';
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function skipSpace(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) return i;
    i++;
  }
}

/** The index of the closing quote of a string starting at i (after its quote) without escapes or control characters; -1 otherwise. */
function plainStringEnd(s: string, i: number): number {
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) return i;
    if (c === BACKSLASH || c < 0x20) return -1;
  }
  return -1;
}

/** The end of a JSON number starting at i (-?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?); -1 when there is none. */
function digits(s: string, j: number): number {
  while (s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x39) j++;
  return j;
}

function jsonNumberEnd(s: string, i: number): number {
  if (s.charCodeAt(i) === 0x2d) i++;
  const c = s.charCodeAt(i);
  if (c === 0x30) i++;
  else if (c >= 0x31 && c <= 0x39) i = digits(s, i + 1);
  else return -1;
  if (s.charCodeAt(i) === 0x2e) {
    const j = digits(s, i + 1);
    if (j === i + 1) return -1;
    i = j;
  }
  const e = s.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    let j = i + 1;
    if (s.charCodeAt(j) === 0x2b || s.charCodeAt(j) === 0x2d) j++;
    const k = digits(s, j);
    if (k === j) return -1;
    i = k;
  }
  return i;
}

/**
 * The fast path: reads the fields `names` of a line that is a flat JSON
 * object whose members are numbers, null or strings without escapes into
 * `out` (undefined where absent; the last of duplicates, as JSON.parse).
 * False, for the general path to read the line, for anything else.
 */
function flatFields(s: string, names: readonly (string | undefined)[], out: unknown[]): boolean {
  out.fill(undefined);
  let i = skipSpace(s, 0);
  if (s.charCodeAt(i) !== 0x7b) return false;
  i = skipSpace(s, i + 1);
  if (s.charCodeAt(i) === 0x7d) return skipSpace(s, i + 1) === s.length;
  for (;;) {
    if (s.charCodeAt(i) !== QUOTE) return false;
    const nameEnd = plainStringEnd(s, i + 1);
    if (nameEnd < 0) return false;
    let slot = -1;
    for (let j = 0; j < names.length; j++) {
      const name = names[j];
      if (name !== undefined && name.length === nameEnd - i - 1 && s.startsWith(name, i + 1)) slot = j;
    }
    i = skipSpace(s, nameEnd + 1);
    if (s.charCodeAt(i) !== 0x3a) return false;
    i = skipSpace(s, i + 1);
    const c = s.charCodeAt(i);
    let value: unknown;
    if (c === QUOTE) {
      const end = plainStringEnd(s, i + 1);
      if (end < 0) return false;
      if (slot >= 0) value = s.slice(i + 1, end);
      i = end + 1;
    } else if (c === 0x6e && s.startsWith('null', i)) {
      value = null;
      i += 4;
    } else {
      const end = jsonNumberEnd(s, i);
      if (end < 0) return false;
      // parseValue is Number() on this grammar, as JSON.parse reads numbers.
      if (slot >= 0) value = parseValue(s, i, end);
      i = end;
    }
    if (slot >= 0) out[slot] = value;
    i = skipSpace(s, i);
    const next = s.charCodeAt(i);
    if (next === 0x7d) return skipSpace(s, i + 1) === s.length;
    if (next !== 0x2c) return false;
    i = skipSpace(s, i + 1);
  }
}

/**
 * The batches of an NDJSON input read through `open` (seekable when
 * `seekable`). With `fast` (the default), lines that are flat objects of
 * numbers, null and plain strings, holding every column, are read without
 * JSON.parse (the same rows; tests compare both paths).
 */
export async function* ndjsonBatches(open: OpenBytes, seekable: boolean, options: ColumnOptions, fast = true): AsyncGenerator<ColumnBatch> {
  const from = startOffset(options.from);
  const builder = new BatchBuilder(options, from, true);
  const { value: vName, time: tName, key: kName } = options;
  let checkedColumns = from.rows > 0; // a replay: the first row was checked before
  // A resumed file: its first row decides the time format, as in one pass.
  if (seekable && from.rows > 0 && tName !== undefined) builder.expectDates(await firstTimeIsDate(ndjsonBatches(open, true, probeOptions(options)), from.bytes));
  let line = from.lines;

  const names = [vName, tName, kName];
  const fields: unknown[] = [undefined, undefined, undefined];

  const row = (bytes: Uint8Array, endBytes: number): void => {
    line++;
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      return builder.reject(line, 'not valid UTF-8', endBytes);
    }
    // The first row goes the general way: it checks the columns, naming the ones present.
    if (fast && checkedColumns && flatFields(text, names, fields) && fields[0] !== undefined && (tName === undefined || fields[1] !== undefined) && (kName === undefined || fields[2] !== undefined)) {
      return fieldsRow(fields[0], fields[1], fields[2], endBytes);
    }
    const trimmed = text.trim();
    if (trimmed === '') {
      // A blank line is no row, but replays start after it.
      return;
    }
    let obj: unknown;
    try {
      obj = JSON.parse(trimmed);
    } catch (e) {
      return builder.reject(line, `not JSON: ${(e as Error).message} in ${quote(trimmed)}`, endBytes);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      return builder.reject(line, `expected a JSON object, got ${quote(trimmed)}`, endBytes);
    }
    const rec = obj as Record<string, unknown>;
    if (!checkedColumns) {
      const available = Object.keys(rec);
      for (const name of [vName, tName, kName]) {
        if (name !== undefined && !Object.hasOwn(rec, name)) throw new UnknownColumnError(name, available);
      }
      checkedColumns = true;
    }
    return fieldsRow(rec[vName], tName !== undefined ? rec[tName] : undefined, kName !== undefined ? rec[kName] : undefined, endBytes);
  };

  /** A row from its fields (undefined where absent), by either path. */
  const fieldsRow = (v: unknown, t: unknown, k: unknown, endBytes: number): void => {
    let value: number | undefined;
    if (typeof v === 'number') value = v;
    else if (v === null) value = NaN;
    else if (typeof v === 'string') value = parseValueText(v);
    if (value === undefined) {
      return builder.reject(line, v === undefined ? `no field ${quote(vName)}` : `value ${quote(cellText(v))} is not a number`, endBytes);
    }
    let time = NaN;
    let timeText = '';
    if (tName !== undefined) {
      if (t === undefined) return builder.reject(line, `no field ${quote(tName)}`, endBytes);
      timeText = cellText(t);
      const n = typeof t === 'number' ? t : typeof t === 'string' ? parseValueText(t) : NaN;
      const parsed = builder.timeOf(line, endBytes, timeText, typeof t === 'string' ? t : '', n);
      if (parsed === undefined) return;
      time = parsed;
    }
    let key = '';
    if (kName !== undefined) {
      if (k === undefined || (typeof k === 'object' && k !== null)) {
        return builder.reject(line, k === undefined ? `no field ${quote(kName)}` : `key ${quote(cellText(k))} is not a string or number`, endBytes);
      }
      key = k === null ? 'null' : String(k);
    }
    builder.add(value, time, timeText, key, endBytes, line);
  };

  let carry: Uint8Array[] = [];
  let carryLength = 0;
  const joinCarry = (tail: Uint8Array): Uint8Array => {
    const whole = new Uint8Array(carryLength + tail.length);
    let o = 0;
    for (const c of carry) {
      whole.set(c, o);
      o += c.length;
    }
    whole.set(tail, o);
    carry = [];
    carryLength = 0;
    return whole;
  };
  // Fatal even with onError 'skip': the line is never held whole, so it cannot be told apart from the next.
  const tooLong = (): void => {
    builder.error ??= new MalformedRowError(line + 1, TOO_LONG);
  };
  let chunkStart = from.bytes;
  const chunks = seekable ? open(from.bytes) : skipTo(open(0)[Symbol.asyncIterator](), 0, from.bytes);
  for await (const chunk of chunks) {
    let pos = 0;
    for (;;) {
      const nl = chunk.indexOf(NL, pos);
      if (carryLength + (nl === -1 ? chunk.length : nl + 1) - pos > MAX_ROW_BYTES) tooLong(); // its '\n' included
      if (nl === -1 || builder.error !== undefined) break;
      const bytes = carryLength > 0 ? joinCarry(chunk.subarray(pos, nl)) : chunk.subarray(pos, nl);
      pos = nl + 1;
      row(bytes, chunkStart + pos);
      if (builder.error !== undefined) break;
    }
    if (builder.error === undefined && pos < chunk.length) {
      carry.push(chunk.slice(pos));
      carryLength += chunk.length - pos;
    }
    chunkStart += chunk.length;
    if (builder.error !== undefined) break;
    yield* builder.drain(false);
  }
  if (builder.error === undefined && carryLength > 0) row(joinCarry(new Uint8Array(0)), chunkStart);
  const error = builder.error;
  builder.error = undefined;
  yield* builder.drain(true);
  if (error !== undefined) throw error;
}

/**
 * Parses NDJSON bytes (one JSON object per line) as a stream into typed
 * column batches; blank lines are ignored. A value is a JSON number, `null`
 * (missing) or a string in the CLI's number grammar (`"NaN"`, `"inf"`); a
 * time is a finite number of milliseconds or an ISO 8601 date string (UTC
 * when it names no zone; the first row decides between numbers and dates); a
 * key is a string or a number. A line that is not valid UTF-8 or not a JSON
 * object, or lacks a column, is a malformed row; a line longer than 16 MiB
 * always throws; a column missing from the first row is an
 * {@link UnknownColumnError}.
 *
 * @example
 * ```ts
 * const text = '{"t":1,"v":2.5}\n{"t":2,"v":null}\n';
 * for await (const batch of ndjsonSource(text, { value: 'v', time: 't' })) {
 *   batch.values;     // Float64Array [2.5, NaN]
 *   batch.timestamps; // Float64Array [1, 2]
 * }
 * ```
 */
export function ndjsonSource(input: ByteInput, options: ColumnOptions): AsyncIterable<ColumnBatch> {
  let used = false;
  return ndjsonBatches(() => {
    if (used) throw new Error('a one-shot input cannot be read twice');
    used = true;
    return byteChunks(input);
  }, false, options);
}

