// Types shared by every connector (browser-safe: no Node built-ins).

import type { KernelSpec } from '../types.js';

/**
 * A position in a source, after some rows: where a replay starts from. Byte
 * offsets are exact record boundaries of the encoded input (CSV, NDJSON);
 * row offsets count rows of data (not headers, skipped or blank lines).
 *
 * @example
 * ```ts
 * const start: SourceOffset = { bytes: 0, rows: 0, lines: 0 };
 * ```
 */
export interface SourceOffset {
  /** Bytes of input consumed: the byte just after the last row's line end (0 for sources that are not byte streams). */
  bytes: number;
  /** Data rows emitted before this point, skipped rows included. */
  rows: number;
  /** Input lines consumed (the header line included); 0 for sources without lines. */
  lines: number;
}

/**
 * A batch of rows as typed columns, what every source yields.
 *
 * @example
 * ```ts
 * for await (const batch of csvSource(bytes, { value: 'price' })) {
 *   kernel.push(batch.values); // batch.length rows
 * }
 * ```
 */
export interface ColumnBatch {
  /** Rows in the batch. */
  readonly length: number;
  /** The value column, `length` long. NaN is a missing value. */
  readonly values: Float64Array;
  /** The time column in milliseconds, when one was asked for. */
  readonly timestamps?: Float64Array;
  /** The time column's text as read, when a time column was asked for from a text format. */
  readonly timeText?: readonly string[];
  /**
   * With {@link ColumnOptions.timeText} `'unlessIso'`: true when the batch has
   * no {@link ColumnBatch.timeText} because every row's time cell was the
   * canonical ISO text of its time, `new Date(timestamps[i]).toISOString()`.
   */
  readonly isoTimes?: boolean;
  /** The key column, when one was asked for (without {@link ColumnOptions.keyIds}). */
  readonly keys?: readonly string[];
  /**
   * With {@link ColumnOptions.keyIds}: the key column as ids, numbered in
   * order of first appearance over the whole source; row i's key is
   * `keyNames[keyIds[i]]`.
   */
  readonly keyIds?: Uint32Array;
  /** With {@link ColumnOptions.keyIds}: every key read so far, by id (the source's one list, which grows). */
  readonly keyNames?: readonly string[];
  /**
   * Whether the time column holds ISO dates (true) or numbers (false), as
   * its first row decided; set by the text formats once a row was read.
   */
  readonly timeIsDate?: boolean;
  /** Where the source stands after this batch: replaying from here yields the rows after it. */
  readonly end: SourceOffset;
  /** Malformed rows left out of this batch because of `onError: 'skip'`. */
  readonly skipped: number;
}

/**
 * What to do with a malformed row: `'fail'` throws a {@link MalformedRowError}
 * naming its line; `'skip'` leaves it out and counts it in
 * {@link ColumnBatch.skipped}.
 *
 * @example
 * ```ts
 * const onError: OnError = 'skip';
 * ```
 */
export type OnError = 'fail' | 'skip';

/**
 * Which columns of a table-shaped input to read and how to batch them.
 *
 * @example
 * ```ts
 * const columns: ColumnOptions = { value: 'temp', time: 'ts', key: 'sensor', batchSize: 8192 };
 * ```
 */
export interface ColumnOptions {
  /** The value column's name. */
  value: string;
  /**
   * The time column's name: numbers are taken as milliseconds, other text is
   * read with `Date.parse` (ISO 8601).
   * @default undefined (no time column)
   */
  time?: string;
  /**
   * Whether batches carry the time column's text as read
   * ({@link ColumnBatch.timeText}); false saves a string per row for readers
   * that only need the times in ms and {@link ColumnBatch.timeIsDate};
   * `'unlessIso'` leaves it out of batches whose time cells are all in the
   * canonical ISO form (they say {@link ColumnBatch.isoTimes}), for readers
   * that can write that text from the ms.
   * @default true
   */
  timeText?: boolean | 'unlessIso';
  /**
   * The key column's name (its text is the key).
   * @default undefined (no key column)
   */
  key?: string;
  /**
   * Whether batches carry the key column as ids ({@link ColumnBatch.keyIds},
   * {@link ColumnBatch.keyNames}) instead of a string per row
   * ({@link ColumnBatch.keys}): for readers that number keys anyway. Every
   * distinct key is then kept for the life of the source.
   * @default false
   */
  keyIds?: boolean;
  /**
   * Rows per batch, at most.
   * @default 65536
   */
  batchSize?: number;
  /**
   * What to do with a malformed row.
   * @default 'fail'
   */
  onError?: OnError;
  /**
   * Where to write each batch's values: called once per batch with the batch
   * size, it returns the array the batch's values are parsed into (at least
   * that long). Pass `(n) => kernel.inputBuffer(n)` to parse straight into a
   * kernel's WASM memory, then call `kernel.pushInput(batch.length)`: the
   * values are never copied.
   * @default a new Float64Array per batch
   */
  valueBuffer?: (rows: number) => Float64Array;
  /**
   * Replay from this point: the rows before it are not read again (the
   * header, if any, is still read from the start).
   * @default the start of the input
   */
  from?: SourceOffset;
  /**
   * Asked after each chunk of input is parsed while rows wait in a partial
   * batch: true emits that batch now (for live input, whose rows should not
   * wait for a full batch). Batch cuts never change results.
   * @default never: batches are full but the last
   */
  cutBatch?: () => boolean;
}

/**
 * Bytes to parse: a whole buffer or string, a WHATWG `ReadableStream`, or
 * any (async) iterable of chunks, such as a Node `Readable`.
 *
 * @example
 * ```ts
 * const input: ByteInput = file.stream(); // a browser File
 * ```
 */
export type ByteInput =
  | Uint8Array
  | ArrayBuffer
  | string
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array | string>
  | Iterable<Uint8Array | string>;

/**
 * A source of column batches that can be read again from any
 * {@link SourceOffset} it gave out, for recovery after a crash.
 *
 * @example
 * ```ts
 * const source = arraySource(values, { batchSize: 1000 });
 * let last: SourceOffset | undefined;
 * for await (const batch of source.batches()) last = batch.end;
 * for await (const batch of source.batches(last)) { … } // nothing left
 * ```
 */
export interface ReplayableSource {
  /** Total size when known: bytes for byte sources, rows for in-memory ones. */
  readonly size?: number;
  /** The batches from `from` (default: the start) to the end. */
  batches(from?: SourceOffset): AsyncIterable<ColumnBatch>;
}

/**
 * One op of {@link runKernels}: a kernel spec and the name of its output column.
 *
 * @example
 * ```ts
 * const op: NamedOp = { name: 'mean', spec: { op: 'mean', window: 20 } };
 * ```
 */
export interface NamedOp {
  /** The output column's name. */
  name: string;
  /** The kernel's spec. */
  spec: KernelSpec;
}

/**
 * A column batch with the results of every op for each of its rows.
 *
 * @example
 * ```ts
 * for await (const { batch, results } of runKernels(source, ops)) {
 *   console.log(batch.values[0], results[0]![0]);
 * }
 * ```
 */
export interface ResultBatch {
  /** The input rows. */
  readonly batch: ColumnBatch;
  /** One `Float64Array` per op, in the order of the ops, `batch.length` long. */
  readonly results: readonly Float64Array[];
}

/**
 * Output text formats: CSV with a header line, or one JSON object per line.
 *
 * @example
 * ```ts
 * const format: TextFormat = 'ndjson';
 * ```
 */
export type TextFormat = 'csv' | 'ndjson';
