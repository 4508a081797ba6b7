// Building typed column batches row by row, and turning byte inputs into
// chunk iterables (browser-safe: no Node built-ins).

import { parseValue } from '../number-text.js';
import { MalformedRowError } from './errors.js';
import { isCanonicalIsoText, isoText } from './iso-time.js';
import type { ByteInput, ColumnBatch, ColumnOptions, OnError, SourceOffset } from './types.js';

/** Rows per batch when the options give none. */
export const DEFAULT_BATCH_SIZE = 65_536;

/** Checks the common options; returns the batch size. */
export function checkColumnOptions(options: ColumnOptions): number {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  if (typeof options.value !== 'string' || options.value === '') throw new TypeError('options.value must name the value column');
  for (const k of ['time', 'key'] as const) {
    const c = options[k];
    if (c !== undefined && (typeof c !== 'string' || c === '')) throw new TypeError(`options.${k} must be a column name`);
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1 << 24) {
    throw new RangeError(`options.batchSize must be an integer from 1 to ${1 << 24}, got ${batchSize}`);
  }
  if (options.keyIds !== undefined && typeof options.keyIds !== 'boolean') throw new TypeError(`options.keyIds must be a boolean, got ${typeof options.keyIds}`);
  const onError = options.onError ?? 'fail';
  if (onError !== 'fail' && onError !== 'skip') throw new TypeError(`options.onError must be 'fail' or 'skip', got ${String(onError)}`);
  return batchSize;
}

/** A value cell as text: the CLI's strict number grammar (NaN for empty or `NaN`). */
export function parseValueText(text: string): number | undefined {
  return parseValue(text, 0, text.length);
}

/** The longest row (a line, or several when quoted fields hold line breaks) a CSV or NDJSON source reads: 16 MiB. */
export const MAX_ROW_BYTES = 1 << 24;

/** The reason for refusing a row longer than {@link MAX_ROW_BYTES}. */
export const TOO_LONG = `row longer than ${MAX_ROW_BYTES} bytes (16 MiB)`;

// YYYY-MM-DD (or ±YYYYYY-MM-DD), then optionally T or space, hh:mm[:ss[.fff]] and Z or ±hh[:mm].
const ISO_DATE = /^([+-]\d{6}|\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d{1,9}))?)?(Z|[+-]\d\d(?::?\d\d)?)?)?$/;
/** Milliseconds in 400 Gregorian years (the calendar repeats after them). */
const MS_400_YEARS = 146_097 * 86_400_000;
/** The range of a JavaScript Date. */
const MAX_DATE_MS = 8.64e15;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * An ISO 8601 date as milliseconds since the epoch, undefined when it is no
 * such date or names a day, hour or minute that does not exist (`2024-02-30`,
 * `25:00`). Without a zone it is UTC, so the machine's time zone never matters.
 */
export function parseIsoDate(text: string): number | undefined {
  const m = ISO_DATE.exec(text.trim());
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0')); // cut, as Date.parse does
  if (m[1] === '-000000' || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  // 24:00 is the end of a day (ISO 8601, ECMAScript); 23:59:60 (a leap second) has no millisecond count.
  if (minute > 59 || second > 59 || hour > 24 || (hour === 24 && (minute > 0 || second > 0 || ms > 0))) return undefined;
  let offset = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const zh = Number(zone.slice(1, 3));
    const zm = zone.length > 3 ? Number(zone.slice(-2)) : 0;
    if (zh > 23 || zm > 59) return undefined;
    offset = (zone[0] === '-' ? -1 : 1) * (zh * 60 + zm) * 60_000;
  }
  // Date.UTC reads years 0–99 as 1900–1999: go 400 years up and come back.
  const shift = year >= 0 && year <= 99 ? 400 : 0;
  const t = Date.UTC(year + shift, month - 1, day, hour, minute, second, ms) - (shift === 0 ? 0 : MS_400_YEARS) - offset;
  return Math.abs(t) <= MAX_DATE_MS ? t : undefined;
}

// The common shapes of ISO dates in a cell, read from bytes without a string:
// YYYY-MM-DD, then T or space, hh:mm:ss, then nothing, Z, .fff or .fffZ. Rows
// of a stream mostly share their date, so the day (checked by parseIsoDate)
// is kept for the next cell with the same 10 bytes.
const isoDay = new Uint8Array(10);
let isoDayMs = NaN;

/** Two ASCII digits at b[i], b[i + 1] as a number; -1 when they are not digits. */
function twoDigits(b: Uint8Array, i: number): number {
  const hi = (b[i] as number) - 0x30;
  const lo = (b[i + 1] as number) - 0x30;
  return hi >= 0 && hi <= 9 && lo >= 0 && lo <= 9 ? hi * 10 + lo : -1;
}

/** The ms of the day of the date in b[s..s + 10), or NaN when it is no date (a cache of one day). */
function isoDayOf(b: Uint8Array, s: number): number {
  let same = isoDayMs === isoDayMs; // not NaN
  for (let i = 0; same && i < 10; i++) same = b[s + i] === isoDay[i];
  if (same) return isoDayMs;
  const day = parseIsoDate(String.fromCharCode(...b.subarray(s, s + 10)));
  if (day === undefined) return NaN;
  isoDay.set(b.subarray(s, s + 10));
  return (isoDayMs = day);
}

/**
 * `b[s..e)` as an ISO date in ms since the epoch when it has one of the
 * common shapes above and is a valid date (exactly what {@link parseIsoDate}
 * gives for its text); undefined otherwise, and the caller then reads the
 * cell as text, which also gives the reason when it is no date.
 */
export function isoDateBytes(b: Uint8Array, s: number, e: number): number | undefined {
  const n = e - s;
  if (n < 19 || n > 24 || n === 21 || n === 22) return undefined;
  const sep = b[s + 10];
  if ((sep !== 0x54 && sep !== 0x20) || b[s + 13] !== 0x3a || b[s + 16] !== 0x3a) return undefined;
  const hour = twoDigits(b, s + 11);
  const minute = twoDigits(b, s + 14);
  const second = twoDigits(b, s + 17);
  if (hour < 0 || minute < 0 || second < 0) return undefined;
  let ms = 0;
  if (n >= 23) {
    const frac = b[s + 19];
    const m1 = twoDigits(b, s + 20);
    const m2 = (b[s + 22] as number) - 0x30;
    if ((frac !== 0x2e && frac !== 0x2c) || m1 < 0 || m2 < 0 || m2 > 9) return undefined;
    ms = m1 * 10 + m2;
  }
  if ((n === 20 || n === 24) && b[e - 1] !== 0x5a) return undefined; // Z
  if (minute > 59 || second > 59 || hour > 24 || (hour === 24 && (minute > 0 || second > 0 || ms > 0))) return undefined;
  const day = isoDayOf(b, s);
  if (day !== day) return undefined;
  const t = day + hour * 3_600_000 + minute * 60_000 + second * 1000 + ms;
  return Math.abs(t) <= MAX_DATE_MS ? t : undefined;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lossyUtf8 = new TextDecoder('utf-8', { ignoreBOM: true });
const ASCII = /^[\x00-\x7f]*$/;

function latin1Bytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/**
 * The text of a cell read as latin1 (one char per byte, so different bytes
 * stay different): its UTF-8 decoding, undefined when it is not valid UTF-8.
 */
export function utf8Cell(s: string): string | undefined {
  if (ASCII.test(s)) return s;
  try {
    return strictUtf8.decode(latin1Bytes(s));
  } catch {
    return undefined;
  }
}

/** A cell read as latin1, decoded for a message (invalid bytes shown as U+FFFD). */
export function shownCell(s: string): string {
  return ASCII.test(s) ? s : lossyUtf8.decode(latin1Bytes(s));
}

/** The text of a UTF-8 string as latin1 (one char per byte): what a latin1 reader gives for it. */
export function latin1Of(text: string): string {
  return String.fromCharCode(...new TextEncoder().encode(text));
}

interface Held {
  value: number;
  time: number;
  timeText: string;
  key: string;
  /** Whether this is a skipped row (the cells are unused). */
  skip: boolean;
  bytes: number;
  lines: number;
}

/**
 * Accumulates rows into typed columns and cuts them into batches. A parser
 * adds rows synchronously, possibly more than fit; the rows past a full batch
 * are held and go into the next batch once the consumer has taken this one
 * ({@link BatchBuilder.take}, then {@link BatchBuilder.next}), so a
 * `valueBuffer` is never asked for while its last batch is still in use.
 */
export class BatchBuilder {
  readonly batchSize: number;
  readonly onError: OnError;
  private readonly valueBuffer: ((rows: number) => Float64Array) | undefined;
  private readonly cutBatch: (() => boolean) | undefined;
  private readonly hasTime: boolean;
  private readonly keepTimeText: boolean;
  /**
   * options.timeText 'unlessIso': while the open batch's time cells are all
   * canonical ISO, `timeText` stays undefined (the batch says isoTimes); the
   * first other cell makes the earlier rows' texts from their ms.
   */
  private readonly textUnlessIso: boolean;
  private readonly hasKey: boolean;
  private values: Float64Array = new Float64Array(0);
  private timestamps: Float64Array | undefined;
  private timeText: string[] | undefined;
  private keys: string[] | undefined;
  /** With options.keyIds: the batch's key ids, every key's id and the names by id (see ColumnOptions.keyIds). */
  private ids: Uint32Array | undefined;
  private readonly idOf: Map<string, number> | undefined;
  readonly keyNames: string[] = [];
  private open = false;
  private held: Held[] = [];
  /** Rows in the batch being built. */
  length = 0;
  /**
   * The value and time of the row {@link BatchBuilder.addCells} adds: a
   * double passed to a call that is not inlined is a heap object, one in a
   * typed array is not.
   */
  readonly cells = new Float64Array(2);
  private skipped = 0;
  /** Where the source stands after the last row of the batch being built. */
  private readonly end: SourceOffset;
  /** The first malformed row, with onError 'fail': rows after it are ignored. */
  error: MalformedRowError | undefined;
  /** Whether the time column holds dates (rather than numbers), once the first row told. */
  private dateTimes: boolean | undefined;

  constructor(options: ColumnOptions, start: SourceOffset, keepTimeText: boolean) {
    this.batchSize = checkColumnOptions(options);
    this.valueBuffer = options.valueBuffer;
    this.cutBatch = options.cutBatch;
    this.hasTime = options.time !== undefined;
    this.keepTimeText = keepTimeText && this.hasTime && options.timeText !== false;
    this.textUnlessIso = this.keepTimeText && options.timeText === 'unlessIso';
    this.hasKey = options.key !== undefined;
    this.idOf = this.hasKey && options.keyIds === true ? new Map() : undefined;
    this.onError = options.onError ?? 'fail';
    this.end = { ...start };
  }

  private fresh(): void {
    this.length = 0;
    this.skipped = 0;
    this.values = this.valueBuffer !== undefined ? this.valueBuffer(this.batchSize) : new Float64Array(this.batchSize);
    if (!(this.values instanceof Float64Array) || this.values.length < this.batchSize) {
      throw new RangeError(`valueBuffer(${this.batchSize}) must return a Float64Array of at least ${this.batchSize} rows`);
    }
    this.timestamps = this.hasTime ? new Float64Array(this.batchSize) : undefined;
    this.timeText = this.keepTimeText && !this.textUnlessIso ? [] : undefined;
    this.keys = this.hasKey && this.idOf === undefined ? [] : undefined;
    this.ids = this.idOf !== undefined ? new Uint32Array(this.batchSize) : undefined;
    this.open = true;
  }

  /** Whether rows need their time text (see {@link ColumnOptions.timeText}). */
  get keepsTimeText(): boolean {
    return this.keepTimeText;
  }

  /** True when a batch is ready to take. */
  get ready(): boolean {
    return this.open && this.length === this.batchSize;
  }

  /** Whether anything (rows or skipped rows) waits to be emitted. */
  get pending(): boolean {
    return (this.open && (this.length > 0 || this.skipped > 0)) || this.held.length > 0;
  }

  private place(h: Held): void {
    if (!this.open) this.fresh();
    if (this.length === this.batchSize) {
      this.held.push(h);
      return;
    }
    if (h.skip) {
      this.skipped++;
      this.moveEnd(h.bytes, h.lines);
    } else {
      this.cells[0] = h.value;
      this.cells[1] = h.time;
      this.store(h.timeText, h.key, h.bytes, h.lines);
    }
  }

  /** Whether batches carry key ids (options.keyIds) rather than key names. */
  get numbersKeys(): boolean {
    return this.idOf !== undefined;
  }

  /** The id of key `name` (options.keyIds): ids in order of first appearance. */
  keyId(name: string): number {
    const idOf = this.idOf as Map<string, number>;
    let id = idOf.get(name);
    if (id === undefined) {
      id = this.keyNames.length;
      idOf.set(name, id);
      this.keyNames.push(name);
    }
    return id;
  }

  /** The id of key `name` when a row of it was stored (options.keyIds), else -1. */
  knownKeyId(name: string): number {
    return this.idOf?.get(name) ?? -1;
  }

  /** Puts the row of {@link BatchBuilder.cells} into the open batch, which has room; `id` is the key's id when the caller knows it (-1: look it up). */
  private store(timeText: string, key: string, bytes: number, lines: number, id = -1): void {
    const i = this.length++;
    this.values[i] = this.cells[0]!;
    if (this.timestamps !== undefined) this.timestamps[i] = this.cells[1]!;
    if (this.timeText !== undefined) this.timeText.push(timeText);
    else if (this.textUnlessIso && !isCanonicalIsoText(timeText)) this.textsFromIso(i).push(timeText);
    if (this.ids !== undefined) this.ids[i] = id >= 0 ? id : this.keyId(key);
    else this.keys?.push(key);
    this.moveEnd(bytes, lines);
  }

  /** The open batch's time texts from now on: those of its first `n` rows (canonical ISO) made from their ms. */
  private textsFromIso(n: number): string[] {
    const stamps = this.timestamps as Float64Array;
    const texts: string[] = [];
    for (let i = 0; i < n; i++) texts.push(isoText(stamps[i]!));
    this.timeText = texts;
    return texts;
  }

  /** Whether time cells in the canonical ISO form may go without their text (options.timeText 'unlessIso'), now that no earlier row of the open batch needed its text. */
  get isoWithoutText(): boolean {
    return this.textUnlessIso && this.timeText === undefined;
  }

  private moveEnd(bytes: number, lines: number): void {
    this.end.rows++;
    this.end.bytes = bytes;
    this.end.lines = lines;
  }

  private put(h: Held): void {
    if (this.error !== undefined) return;
    if (this.held.length > 0 || (this.open && this.length === this.batchSize)) this.held.push(h);
    else this.place(h);
  }

  /** Adds a checked row that ends at byte `bytes` and line `lines`; `id`: the key's {@link BatchBuilder.keyId}, when known. */
  add(value: number, time: number, timeText: string, key: string, bytes: number, lines: number, id = -1): void {
    this.cells[0] = value;
    this.cells[1] = time;
    this.addCells(timeText, key, bytes, lines, id);
  }

  /** {@link BatchBuilder.add} of the value and time in {@link BatchBuilder.cells}. */
  addCells(timeText: string, key: string, bytes: number, lines: number, id = -1): void {
    // The common case goes straight into the batch, without a held row object.
    if (this.error === undefined && this.open && this.held.length === 0 && this.length < this.batchSize) this.store(timeText, key, bytes, lines, id);
    else this.put({ value: this.cells[0]!, time: this.cells[1]!, timeText, key, skip: false, bytes, lines });
  }

  /** Rows {@link BatchBuilder.addColumns} may add now: the open batch's room (opened if need be), 0 while rows must go through addCells. */
  bulkRoom(): number {
    if (this.error !== undefined || this.held.length > 0) return 0;
    if (!this.open) this.fresh();
    return this.batchSize - this.length;
  }

  /** The time column's kind so far: 0 unknown (no row yet), 1 numbers, 2 dates. */
  get timeKind(): number {
    return this.dateTimes === undefined ? 0 : this.dateTimes ? 2 : 1;
  }

  /**
   * Adds `n` (at most {@link BatchBuilder.bulkRoom}) checked rows at once, as
   * n {@link BatchBuilder.addCells} would: values and times from the
   * columns, each row's key from its entry (`entries[i]`: the id
   * `entryIds[entry]` when keys are numbered, else the name
   * `entryKeys[entry]`; no entries: no key column), its time text from
   * `timeText(i)` when rows keep it (but for the first `isoRows`, canonical
   * ISO cells, while {@link BatchBuilder.isoWithoutText}); the last row ends
   * at byte `bytes` and line `lines`.
   */
  addColumns(
    n: number,
    values: Float64Array,
    times: Float64Array,
    entries: Int32Array | undefined,
    entryIds: readonly number[],
    entryKeys: readonly (string | undefined)[],
    timeText: ((i: number) => string) | undefined,
    bytes: number,
    lines: number,
    isoRows = 0,
  ): void {
    const at = this.length;
    this.values.set(n === values.length ? values : values.subarray(0, n), at);
    if (this.timestamps !== undefined) this.timestamps.set(n === times.length ? times : times.subarray(0, n), at);
    if (timeText !== undefined) {
      let from = 0;
      let texts = this.timeText;
      if (texts === undefined && this.textUnlessIso) {
        from = isoRows;
        if (from < n) texts = this.textsFromIso(at + from);
      }
      if (texts !== undefined) for (let i = from; i < n; i++) texts.push(timeText(i));
    }
    const ids = this.ids;
    const keys = this.keys;
    if (ids !== undefined && entries !== undefined) for (let i = 0; i < n; i++) ids[at + i] = entryIds[entries[i]!]!;
    else if (keys !== undefined && entries !== undefined) for (let i = 0; i < n; i++) keys.push(entryKeys[entries[i]!]!);
    this.length = at + n;
    this.end.rows += n;
    this.end.bytes = bytes;
    this.end.lines = lines;
  }

  /** A malformed row: recorded as the error for 'fail', counted for 'skip'. */
  reject(line: number, reason: string, bytes: number): void {
    if (this.error !== undefined) return;
    if (this.onError === 'fail') {
      this.error = new MalformedRowError(line, reason);
      return;
    }
    this.put({ value: NaN, time: NaN, timeText: '', key: '', skip: true, bytes, lines: line });
  }

  /** A row whose bytes the parser already skipped (onError 'skip'). */
  skippedRow(line: number, bytes: number): void {
    this.put({ value: NaN, time: NaN, timeText: '', key: '', skip: true, bytes, lines: line });
  }

  /**
   * Parses and adds a row of text cells read as latin1 (one char per byte,
   * see {@link utf8Cell}), or rejects it.
   */
  addText(line: number, bytes: number, valueText: string, timeText: string | undefined, keyText: string | undefined): void {
    const value = parseValueText(valueText);
    if (value === undefined) return this.reject(line, `value ${quote(shownCell(valueText))} is not a number`, bytes);
    let key = '';
    if (keyText !== undefined) {
      const k = utf8Cell(keyText);
      // Decoding invalid bytes to U+FFFD would merge keys that are different bytes.
      if (k === undefined) return this.reject(line, `key ${quote(shownCell(keyText))} is not valid UTF-8`, bytes);
      key = k;
    }
    let time = NaN;
    if (this.hasTime) {
      const text = timeText ?? '';
      const t = this.timeOf(line, bytes, shownCell(text), text, parseValue(text, 0, text.length));
      if (t === undefined) return;
      time = t;
    }
    this.add(value, time, timeText ?? '', key, bytes, line);
  }

  /** On a replay: whether the rows before it had dates (undefined: no row was read). */
  expectDates(dates: boolean | undefined): void {
    this.dateTimes = dates;
  }

  /**
   * Checks a row's time: `text` is the cell, `n` the cell read as a number
   * (undefined when it is none, so it must be a date). Returns the time in ms,
   * or undefined after rejecting the row. The first row decides whether the
   * column holds numbers or dates.
   */
  timeOf(line: number, bytes: number, shown: string, text: string, n: number | undefined): number | undefined {
    const isDate = n === undefined;
    return this.checkedTime(line, bytes, shown, isDate ? parseIsoDate(text) : n, isDate);
  }

  /**
   * Accepts a time already read when it is good (finite, and of the column's
   * kind) without its text; false when checkedTime() must say why not.
   */
  timeFits(t: number, isDate: boolean): boolean {
    if (!Number.isFinite(t) || (this.dateTimes !== undefined && this.dateTimes !== isDate)) return false;
    this.dateTimes = isDate;
    return true;
  }

  /** timeOf() for a time already read: `t` as a date (isDate) or number, undefined when it is neither. */
  checkedTime(line: number, bytes: number, shown: string, t: number | undefined, isDate: boolean): number | undefined {
    let why: string | undefined;
    if (t === undefined || Number.isNaN(t)) why = 'is neither a number nor a date';
    else if (!Number.isFinite(t)) why = 'is not a finite number';
    else if (this.dateTimes !== undefined && this.dateTimes !== isDate) {
      why = `is a ${isDate ? 'date' : 'number'}, but the first row's time is a ${isDate ? 'number' : 'date'} (a time column holds numbers or dates, not both)`;
    }
    if (why !== undefined) {
      this.reject(line, `time ${quote(shown)} ${why}`, bytes);
      return undefined;
    }
    this.dateTimes = isDate;
    return t;
  }

  /** Takes the batch built so far (the consumer owns it until {@link BatchBuilder.next}). */
  take(): ColumnBatch {
    const n = this.length;
    const batch: {
      length: number;
      values: Float64Array;
      end: SourceOffset;
      skipped: number;
      timestamps?: Float64Array;
      timeText?: readonly string[];
      keys?: readonly string[];
      keyIds?: Uint32Array;
      keyNames?: readonly string[];
      timeIsDate?: boolean;
      isoTimes?: boolean;
    } = {
      length: n,
      values: this.values.length === n ? this.values : this.values.subarray(0, n),
      end: { ...this.end },
      skipped: this.skipped,
    };
    if (this.timestamps !== undefined) batch.timestamps = this.timestamps.subarray(0, n);
    if (this.timeText !== undefined) batch.timeText = this.timeText;
    else if (this.textUnlessIso) batch.isoTimes = true;
    if (this.keys !== undefined) batch.keys = this.keys;
    if (this.ids !== undefined) {
      batch.keyIds = this.ids.subarray(0, n);
      batch.keyNames = this.keyNames;
    }
    if (this.hasTime && this.dateTimes !== undefined) batch.timeIsDate = this.dateTimes;
    this.open = false;
    this.length = 0;
    this.skipped = 0;
    return batch;
  }

  /** After the consumer is done with the last batch: moves held rows into a new batch. */
  next(): void {
    const held = this.held;
    this.held = [];
    for (let i = 0; i < held.length; i++) {
      if (this.ready) {
        this.held = held.slice(i);
        return;
      }
      this.place(held[i] as Held);
    }
  }

  /**
   * Every batch that can be emitted now: full ones, and with `all` the last
   * partial one (also when options.cutBatch asks for it). Between yields
   * the consumer uses the batch.
   */
  *drain(all: boolean): Generator<ColumnBatch> {
    for (;;) {
      if (!all && !this.ready && this.cutBatch !== undefined && this.pending && this.cutBatch()) all = true;
      if (this.ready) {
        yield this.take();
        this.next();
        continue;
      }
      if (all && this.pending) {
        if (!this.open) this.next();
        if (this.ready) continue;
        if (this.open && (this.length > 0 || this.skipped > 0)) {
          yield this.take();
          this.next();
          continue;
        }
      }
      return;
    }
  }
}

/**
 * Whether the first row read of `batches` (a source read from its start)
 * has a date for its time rather than a number; undefined when no row ends
 * by byte `stop`. A replay asks this so that the first row of the whole input
 * decides the time format, as when it was read in one go.
 */
export async function firstTimeIsDate(batches: AsyncIterable<ColumnBatch>, stop: number): Promise<boolean | undefined> {
  try {
    for await (const b of batches) {
      if (b.length > 0 && b.timeIsDate !== undefined) return b.end.bytes <= stop ? b.timeIsDate : undefined;
      if (b.end.bytes >= stop) return undefined;
    }
  } catch {
    // A malformed row before any good one: no row decided.
  }
  return undefined;
}

/** Options to read a source from its start, a row per batch, into arrays of its own (for {@link firstTimeIsDate}). */
export function probeOptions<T extends ColumnOptions>(options: T): T {
  const { from: _from, valueBuffer: _buffer, ...rest } = options;
  return { ...rest, batchSize: 1 } as T;
}

/** A cell quoted for a message, cut after 100 characters. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text);
}

const encoder = new TextEncoder();

function isReadableStream(x: unknown): x is ReadableStream<Uint8Array> {
  return typeof x === 'object' && x !== null && typeof (x as ReadableStream).getReader === 'function';
}

function toBytes(chunk: unknown): Uint8Array {
  if (typeof chunk === 'string') return encoder.encode(chunk);
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`expected bytes or text chunks, got ${chunk === null ? 'null' : typeof chunk}`);
}

/** Reads a WHATWG ReadableStream with a reader (not every browser makes streams async-iterable). */
export async function* readStream<T>(stream: ReadableStream<T>): AsyncGenerator<T> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Any {@link ByteInput} as an async iterable of byte chunks. */
export async function* byteChunks(input: ByteInput): AsyncGenerator<Uint8Array> {
  if (typeof input === 'string' || input instanceof Uint8Array || input instanceof ArrayBuffer) {
    yield toBytes(input);
    return;
  }
  if (isReadableStream(input)) {
    for await (const chunk of readStream(input)) yield toBytes(chunk);
    return;
  }
  if (typeof input === 'object' && input !== null && (Symbol.asyncIterator in input || Symbol.iterator in input)) {
    for await (const chunk of input as AsyncIterable<unknown>) yield toBytes(chunk);
    return;
  }
  throw new TypeError('input must be bytes, a string, a ReadableStream or an iterable of chunks');
}

/** Where a parse starts: a byte offset and the rows and lines before it. */
export function startOffset(from: SourceOffset | undefined): SourceOffset {
  if (from === undefined) return { bytes: 0, rows: 0, lines: 0 };
  for (const k of ['bytes', 'rows', 'lines'] as const) {
    if (!Number.isSafeInteger(from[k]) || from[k] < 0) throw new RangeError(`options.from.${k} must be a non-negative integer`);
  }
  return { ...from };
}

/**
 * Chunks from byte `start` on, given chunks from byte `at`: drops what comes
 * before `start` (for replays of sources that cannot seek).
 */
export async function* skipTo(chunks: AsyncIterator<Uint8Array>, at: number, start: number): AsyncGenerator<Uint8Array> {
  let pos = at;
  for (;;) {
    const r = await chunks.next();
    if (r.done === true) {
      if (pos < start) throw new RangeError(`cannot replay from byte ${start}: the input ends at byte ${pos}`);
      return;
    }
    const c = r.value;
    const endPos = pos + c.length;
    if (endPos > start) yield pos >= start ? c : c.subarray(start - pos);
    pos = endPos;
  }
}
