// Apache Arrow IPC (stream or file format) into column batches, with the
// value column handed over zero-copy when it is a Float64 column without
// nulls (browser-safe: apache-arrow is loaded on first use).

import type * as Arrow from 'apache-arrow';
import { optionalImportError } from '../optional.js';
import { startOffset } from './columns.js';
import { UnknownColumnError } from './errors.js';
import type { ColumnBatch, SourceOffset } from './types.js';

/**
 * Options of {@link arrowSource}: the columns to read, by name.
 *
 * @example
 * ```ts
 * const options: ArrowOptions = { value: 'price', time: 'ts', key: 'symbol' };
 * ```
 */
export interface ArrowOptions {
  /** The value column: any numeric type (Float64 without nulls is passed zero-copy; nulls become NaN). */
  value: string;
  /**
   * The time column: numbers (milliseconds), a Timestamp or a Date column.
   * @default undefined (no time column)
   */
  time?: string;
  /**
   * The key column: its values as strings (Utf8 and dictionary columns, numbers).
   * @default undefined (no key column)
   */
  key?: string;
  /**
   * Replay from this point: the rows before `from.rows` are left out.
   * @default the start of the input
   */
  from?: SourceOffset;
}

/**
 * Arrow IPC bytes: a whole buffer, a WHATWG `ReadableStream`, or an (async)
 * iterable of chunks such as a Node `Readable`.
 *
 * @example
 * ```ts
 * const input: ArrowInput = await (await fetch('/data.arrow')).arrayBuffer();
 * ```
 */
export type ArrowInput = Uint8Array | ArrayBuffer | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

type ArrowModule = typeof Arrow;
let arrowModule: Promise<ArrowModule> | undefined;

/** apache-arrow, loaded on first use. */
export function loadArrow(): Promise<ArrowModule> {
  arrowModule ??= importArrow();
  return arrowModule;
}

async function importArrow(): Promise<ArrowModule> {
  // The import() inside a try: a bundler of an app without apache-arrow (esbuild) then leaves it to fail at run
  // time, with the error below, instead of failing the whole build.
  try {
    return (await import('apache-arrow')) as ArrowModule;
  } catch (err) {
    throw optionalImportError(err, 'apache-arrow', "streamkernel's Arrow connector");
  }
}

function column(batch: Arrow.RecordBatch, name: string): Arrow.Vector {
  const v = batch.getChild(name);
  if (v === null) throw new UnknownColumnError(name, batch.schema.fields.map((f) => f.name));
  return v;
}

/** A numeric column as a Float64Array: the Arrow buffer itself for Float64 without nulls. */
function numbers(A: ArrowModule, v: Arrow.Vector, what: string): Float64Array {
  const n = v.length;
  const data = v.data;
  if (A.DataType.isFloat(v.type) && v.type.precision === A.Precision.DOUBLE && data.length === 1 && v.nullCount === 0) {
    const values = (data[0] as Arrow.Data).values as Float64Array;
    return values.length === n ? values : values.subarray(0, n);
  }
  if (!A.DataType.isFloat(v.type) && !A.DataType.isInt(v.type) && !A.DataType.isTimestamp(v.type) && !A.DataType.isDate(v.type) && !A.DataType.isDecimal(v.type)) {
    throw new TypeError(`the ${what} column has type ${String(v.type)}, not a number type`);
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = v.get(i) as unknown;
    out[i] = x === null || x === undefined ? NaN : x instanceof Date ? x.getTime() : Number(x);
  }
  return out;
}

async function* arrowChunks(input: ArrowInput): AsyncGenerator<Uint8Array> {
  if (input instanceof ArrayBuffer) {
    yield new Uint8Array(input);
  } else if (input instanceof Uint8Array) {
    yield input;
  } else if (typeof (input as ReadableStream).getReader === 'function') {
    const reader = (input as ReadableStream<Uint8Array>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  } else {
    yield* input as AsyncIterable<Uint8Array>;
  }
}

/**
 * Reads Apache Arrow IPC data (stream or file format) batch by batch: one
 * column batch per Arrow record batch. A Float64 value (or time) column
 * without nulls is handed over as a view of the Arrow buffer: zero-copy.
 * Offsets count rows; `from` replays from a row.
 *
 * @example
 * ```ts
 * import { tableFromArrays, tableToIPC } from 'apache-arrow';
 * const bytes = tableToIPC(tableFromArrays({ v: new Float64Array([1, 2, 3]) }));
 * for await (const batch of arrowSource(bytes, { value: 'v' })) {
 *   batch.values; // a view of `bytes`: Float64Array [1, 2, 3]
 * }
 * ```
 */
export async function* arrowSource(input: ArrowInput, options: ArrowOptions): AsyncGenerator<ColumnBatch> {
  if (typeof options !== 'object' || options === null || typeof options.value !== 'string') throw new TypeError('options.value must name the value column');
  const A = await loadArrow();
  const from = startOffset(options.from);
  const whole = input instanceof Uint8Array || input instanceof ArrayBuffer;
  const source = whole ? (input instanceof ArrayBuffer ? new Uint8Array(input) : input) : arrowChunks(input);
  const reader = await A.RecordBatchReader.from(source as AsyncIterable<Uint8Array>);
  let rows = 0;
  for await (const rb of reader as AsyncIterable<Arrow.RecordBatch>) {
    const n = rb.numRows;
    const first = rows;
    rows += n;
    if (rows <= from.rows) continue;
    const skip = Math.max(0, from.rows - first);
    let values = numbers(A, column(rb, options.value), 'value');
    let timestamps = options.time === undefined ? undefined : numbers(A, column(rb, options.time), 'time');
    let keys: string[] | undefined;
    if (options.key !== undefined) {
      const k = column(rb, options.key);
      keys = new Array<string>(n);
      for (let i = 0; i < n; i++) keys[i] = String(k.get(i));
    }
    if (skip > 0) {
      values = values.subarray(skip);
      timestamps = timestamps?.subarray(skip);
      keys = keys?.slice(skip);
    }
    const batch: { -readonly [K in keyof ColumnBatch]: ColumnBatch[K] } = {
      length: n - skip,
      values,
      end: { bytes: 0, rows, lines: 0 },
      skipped: 0,
    };
    if (timestamps !== undefined) batch.timestamps = timestamps;
    if (keys !== undefined) batch.keys = keys;
    yield batch;
  }
}
