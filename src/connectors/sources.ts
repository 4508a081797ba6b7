// Sources over in-memory data, (async) iterables and WHATWG ReadableStreams
// (browser-safe).

import { toFloat64Array } from '../kernel.js';
import { DEFAULT_BATCH_SIZE, readStream, startOffset } from './columns.js';
import type { ColumnBatch, ReplayableSource, SourceOffset } from './types.js';

/**
 * Options of {@link arraySource}.
 *
 * @example
 * ```ts
 * const options: ArraySourceOptions = { batchSize: 4096, keys: ['a', 'b', 'a'] };
 * ```
 */
export interface ArraySourceOptions {
  /**
   * Rows per batch, at most.
   * @default 65536
   */
  batchSize?: number;
  /**
   * Timestamps in milliseconds, one per value.
   * @default undefined (no time column)
   */
  timestamps?: Float64Array | readonly number[];
  /**
   * Keys, one per value.
   * @default undefined (no key column)
   */
  keys?: readonly string[];
}

function checkBatchSize(batchSize: number | undefined): number {
  const n = batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(n) || n < 1 || n > 1 << 24) throw new RangeError(`batchSize must be an integer from 1 to ${1 << 24}, got ${n}`);
  return n;
}

/**
 * A replayable source over values in memory, cut into batches of
 * `batchSize` rows. Batches are views of the arrays: nothing is copied.
 * Offsets count rows.
 *
 * @example
 * ```ts
 * const source = arraySource(new Float64Array([1, 2, 3, 4]), { batchSize: 2 });
 * for await (const batch of source.batches()) console.log(batch.values); // [1, 2], then [3, 4]
 * ```
 */
export function arraySource(values: Float64Array | readonly number[], options: ArraySourceOptions = {}): ReplayableSource {
  const data = toFloat64Array(values, 'values');
  const batchSize = checkBatchSize(options.batchSize);
  const timestamps = options.timestamps === undefined ? undefined : toFloat64Array(options.timestamps, 'timestamps');
  const keys = options.keys;
  if (timestamps !== undefined && timestamps.length !== data.length) throw new RangeError(`timestamps must hold ${data.length} values, got ${timestamps.length}`);
  if (keys !== undefined && keys.length !== data.length) throw new RangeError(`keys must hold ${data.length} values, got ${keys.length}`);
  return {
    size: data.length,
    async *batches(from?: SourceOffset): AsyncGenerator<ColumnBatch> {
      const start = startOffset(from).rows;
      if (start > data.length) throw new RangeError(`cannot replay from row ${start}: the source has ${data.length} rows`);
      for (let i = start; i < data.length; i += batchSize) {
        const end = Math.min(data.length, i + batchSize);
        const batch: { -readonly [K in keyof ColumnBatch]: ColumnBatch[K] } = {
          length: end - i,
          values: data.subarray(i, end),
          end: { bytes: 0, rows: end, lines: 0 },
          skipped: 0,
        };
        if (timestamps !== undefined) batch.timestamps = timestamps.subarray(i, end);
        if (keys !== undefined) batch.keys = keys.slice(i, end);
        yield batch;
      }
    },
  };
}

/**
 * A chunk of {@link iterableSource} and {@link readableStreamSource}: one
 * number, or an array of numbers (a batch).
 *
 * @example
 * ```ts
 * const chunks: NumberChunk[] = [1, 2, new Float64Array([3, 4])];
 * ```
 */
export type NumberChunk = number | Float64Array | ArrayLike<number>;

/**
 * A source over an iterable or async iterable of numbers or arrays of numbers
 * (such as an object-mode Node `Readable`): single numbers are gathered into
 * batches of up to `batchSize` rows, arrays pass through as one batch each.
 * Not replayable: offsets count rows, for information.
 *
 * @param batchSize - rows gathered from single numbers before a batch is emitted.
 * @example
 * ```ts
 * async function* ticks() { yield 1; yield 2; yield new Float64Array([3, 4]); }
 * for await (const batch of iterableSource(ticks())) console.log(batch.values);
 * ```
 */
export async function* iterableSource(input: Iterable<NumberChunk> | AsyncIterable<NumberChunk>, batchSize = DEFAULT_BATCH_SIZE): AsyncGenerator<ColumnBatch> {
  const size = checkBatchSize(batchSize);
  let rows = 0;
  let pending = new Float64Array(size);
  let n = 0;
  const flush = (): ColumnBatch => {
    const values = pending.subarray(0, n);
    rows += n;
    n = 0;
    pending = new Float64Array(size);
    return { length: values.length, values, end: { bytes: 0, rows, lines: 0 }, skipped: 0 };
  };
  for await (const chunk of input as AsyncIterable<NumberChunk>) {
    if (typeof chunk === 'number') {
      pending[n++] = chunk;
      if (n === size) yield flush();
      continue;
    }
    if (n > 0) yield flush();
    const values = toFloat64Array(chunk, 'chunk');
    rows += values.length;
    yield { length: values.length, values, end: { bytes: 0, rows, lines: 0 }, skipped: 0 };
  }
  if (n > 0) yield flush();
}

/**
 * A source over a WHATWG `ReadableStream` of numbers or arrays of numbers
 * (in Node and in browsers), read with a reader, so it works where streams
 * are not async-iterable.
 *
 * @param batchSize - rows gathered from single numbers before a batch is emitted.
 * @example
 * ```ts
 * const stream = new ReadableStream({ start(c) { c.enqueue(new Float64Array([1, 2, 3])); c.close(); } });
 * for await (const batch of readableStreamSource(stream)) console.log(batch.length); // 3
 * ```
 */
export function readableStreamSource(stream: ReadableStream<NumberChunk>, batchSize = DEFAULT_BATCH_SIZE): AsyncIterable<ColumnBatch> {
  return iterableSource(readStream(stream), batchSize);
}
