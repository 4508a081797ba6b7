// NDJSON (one JSON object per line) into typed columns, as a stream
// (browser-safe). Lines are split on bytes, so byte offsets are exact, and
// each line is read with JSON.parse.

import { BatchBuilder, byteChunks, firstTimeIsDate, MAX_ROW_BYTES, parseValueText, probeOptions, quote, skipTo, startOffset, TOO_LONG } from './columns.js';
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

/** The batches of an NDJSON input read through `open` (seekable when `seekable`). */
export async function* ndjsonBatches(open: OpenBytes, seekable: boolean, options: ColumnOptions): AsyncGenerator<ColumnBatch> {
  const from = startOffset(options.from);
  const builder = new BatchBuilder(options, from, true);
  const { value: vName, time: tName, key: kName } = options;
  let checkedColumns = from.rows > 0; // a replay: the first row was checked before
  // A resumed file: its first row decides the time format, as in one pass.
  if (seekable && from.rows > 0 && tName !== undefined) builder.expectDates(await firstTimeIsDate(ndjsonBatches(open, true, probeOptions(options)), from.bytes));
  let line = from.lines;

  const row = (bytes: Uint8Array, endBytes: number): void => {
    line++;
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      return builder.reject(line, 'not valid UTF-8', endBytes);
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
    const v = rec[vName];
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
      const t = rec[tName];
      if (t === undefined) return builder.reject(line, `no field ${quote(tName)}`, endBytes);
      timeText = cellText(t);
      const n = typeof t === 'number' ? t : typeof t === 'string' ? parseValueText(t) : NaN;
      const parsed = builder.timeOf(line, endBytes, timeText, typeof t === 'string' ? t : '', n);
      if (parsed === undefined) return;
      time = parsed;
    }
    let key = '';
    if (kName !== undefined) {
      const k = rec[kName];
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

