// Building typed column batches row by row, and turning byte inputs into
// chunk iterables (browser-safe: no Node built-ins).

import { parseValue } from '../cli/parse.js';
import { MalformedRowError } from './errors.js';
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
  const onError = options.onError ?? 'fail';
  if (onError !== 'fail' && onError !== 'skip') throw new TypeError(`options.onError must be 'fail' or 'skip', got ${String(onError)}`);
  return batchSize;
}

/** A value cell as text: the CLI's strict number grammar (NaN for empty or `NaN`). */
export function parseValueText(text: string): number | undefined {
  return parseValue(text, 0, text.length);
}

/** A timestamp cell: a number (milliseconds) or an ISO 8601 date; undefined when neither. */
export function parseTimeText(text: string): number | undefined {
  const v = parseValue(text, 0, text.length);
  if (v !== undefined) return Number.isNaN(v) ? undefined : v;
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
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
  private readonly hasTime: boolean;
  private readonly keepTimeText: boolean;
  private readonly hasKey: boolean;
  private values: Float64Array = new Float64Array(0);
  private timestamps: Float64Array | undefined;
  private timeText: string[] | undefined;
  private keys: string[] | undefined;
  private open = false;
  private held: Held[] = [];
  /** Rows in the batch being built. */
  length = 0;
  private skipped = 0;
  /** Where the source stands after the last row of the batch being built. */
  private readonly end: SourceOffset;
  /** The first malformed row, with onError 'fail': rows after it are ignored. */
  error: MalformedRowError | undefined;

  constructor(options: ColumnOptions, start: SourceOffset, keepTimeText: boolean) {
    this.batchSize = checkColumnOptions(options);
    this.valueBuffer = options.valueBuffer;
    this.hasTime = options.time !== undefined;
    this.keepTimeText = keepTimeText && this.hasTime;
    this.hasKey = options.key !== undefined;
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
    this.timeText = this.keepTimeText ? [] : undefined;
    this.keys = this.hasKey ? [] : undefined;
    this.open = true;
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
    } else {
      const i = this.length++;
      this.values[i] = h.value;
      if (this.timestamps !== undefined) this.timestamps[i] = h.time;
      this.timeText?.push(h.timeText);
      this.keys?.push(h.key);
    }
    this.end.rows++;
    this.end.bytes = h.bytes;
    this.end.lines = h.lines;
  }

  private put(h: Held): void {
    if (this.error !== undefined) return;
    if (this.held.length > 0 || (this.open && this.length === this.batchSize)) this.held.push(h);
    else this.place(h);
  }

  /** Adds a checked row that ends at byte `bytes` and line `lines`. */
  add(value: number, time: number, timeText: string, key: string, bytes: number, lines: number): void {
    this.put({ value, time, timeText, key, skip: false, bytes, lines });
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

  /** Parses and adds a row of text cells, or rejects it. */
  addText(line: number, bytes: number, valueText: string, timeText: string | undefined, key: string | undefined): void {
    const value = parseValueText(valueText);
    if (value === undefined) return this.reject(line, `value ${quote(valueText)} is not a number`, bytes);
    let time = NaN;
    if (this.hasTime) {
      const t = parseTimeText(timeText ?? '');
      if (t === undefined) return this.reject(line, `time ${quote(timeText ?? '')} is neither a number nor a date`, bytes);
      time = t;
    }
    this.add(value, time, timeText ?? '', key ?? '', bytes, line);
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
    } = {
      length: n,
      values: this.values.length === n ? this.values : this.values.subarray(0, n),
      end: { ...this.end },
      skipped: this.skipped,
    };
    if (this.timestamps !== undefined) batch.timestamps = this.timestamps.subarray(0, n);
    if (this.timeText !== undefined) batch.timeText = this.timeText;
    if (this.keys !== undefined) batch.keys = this.keys;
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
   * partial one. Between yields the consumer uses the batch.
   */
  *drain(all: boolean): Generator<ColumnBatch> {
    for (;;) {
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
