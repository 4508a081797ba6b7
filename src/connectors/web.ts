// WHATWG streams (Node and browsers) and simple sinks (browser-safe).

import { createKernel, toFloat64Array } from '../kernel.js';
import type { Kernel, KernelSpec } from '../types.js';
import { TextFormatter, type OutputColumns } from './format.js';
import type { ResultBatch, TextFormat } from './types.js';

/**
 * A WHATWG `TransformStream` that runs every chunk of numbers through one
 * kernel: each chunk in (a `Float64Array` or array of numbers) gives a
 * `Float64Array` of as many results out. The kernel is created on the first
 * chunk and released when the stream ends.
 *
 * @example
 * ```ts
 * const means = readable.pipeThrough(kernelTransformStream({ op: 'mean', window: 20 }));
 * for await (const chunk of means) console.log(chunk);
 * ```
 */
export function kernelTransformStream(spec: KernelSpec): TransformStream<Float64Array | readonly number[], Float64Array> {
  let kernel: Kernel | undefined;
  let creating: Promise<Kernel> | undefined;
  const get = (): Promise<Kernel> => (creating ??= createKernel(spec).then((k) => (kernel = k)));
  return new TransformStream<Float64Array | readonly number[], Float64Array>({
    start: async () => {
      await get(); // a bad spec errors the stream at once
    },
    transform: async (chunk, controller) => {
      const k = await get();
      controller.enqueue(k.push(toFloat64Array(chunk, 'chunk')));
    },
    flush: () => {
      kernel?.dispose();
    },
  });
}

/**
 * Writes result batches as CSV or NDJSON text into a WHATWG `WritableStream`
 * of strings (for bytes, put a `TextEncoderStream` in front), honouring its
 * backpressure; closes it at the end. Resolves with the rows written.
 *
 * @example
 * ```ts
 * const encoder = new TextEncoderStream();
 * encoder.readable.pipeTo(fileWritable);
 * await writeTextStream(runKernels(source, ops), encoder.writable, 'csv', { value: 'v', ops: ['mean'] });
 * ```
 */
export async function writeTextStream(
  results: AsyncIterable<ResultBatch>,
  writable: WritableStream<string>,
  format: TextFormat,
  columns: OutputColumns,
): Promise<number> {
  const formatter = new TextFormatter(format, columns);
  const writer = writable.getWriter();
  let rows = 0;
  try {
    const header = formatter.header();
    if (header !== '') await writer.write(header);
    for await (const r of results) {
      rows += r.batch.length;
      await writer.ready;
      await writer.write(formatter.format(r));
    }
    await writer.close();
  } catch (err) {
    await writer.abort(err).catch(() => undefined);
    throw err;
  } finally {
    writer.releaseLock();
  }
  return rows;
}

/**
 * What {@link collectResults} gathers: whole columns.
 *
 * @example
 * ```ts
 * const { values, columns, skipped }: CollectedResults = await collectResults(results);
 * ```
 */
export interface CollectedResults {
  /** The input values. */
  values: Float64Array;
  /** One column of results per op, in the order of the ops. */
  columns: Float64Array[];
  /** The timestamps, when the batches had them. */
  timestamps?: Float64Array;
  /** The keys, when the batches had them. */
  keys?: string[];
  /** Malformed rows the source skipped. */
  skipped: number;
}

/**
 * Every result as whole columns: the values and one `Float64Array` per op
 * (plus timestamps and keys when the batches have them). Holds everything in
 * memory: for tests, plots and small data.
 *
 * @example
 * ```ts
 * const { values, columns } = await collectResults(runKernels(arraySource([1, 2, 3]), ops));
 * columns[0]; // the first op's results
 * ```
 */
export async function collectResults(
  results: AsyncIterable<ResultBatch>,
): Promise<CollectedResults> {
  const parts: ResultBatch[] = [];
  let n = 0;
  let skipped = 0;
  for await (const r of results) {
    // Batches may be views of reused memory: keep copies.
    parts.push({
      batch: { ...r.batch, values: r.batch.values.slice(0, r.batch.length), ...(r.batch.timestamps ? { timestamps: r.batch.timestamps.slice() } : {}) },
      results: r.results.map((c) => c.slice(0, r.batch.length)),
    });
    n += r.batch.length;
    skipped += r.batch.skipped;
  }
  const width = parts[0]?.results.length ?? 0;
  const values = new Float64Array(n);
  const columns = Array.from({ length: width }, () => new Float64Array(n));
  const hasTime = parts.some((p) => p.batch.timestamps !== undefined);
  const hasKeys = parts.some((p) => p.batch.keys !== undefined);
  const timestamps = hasTime ? new Float64Array(n) : undefined;
  const keys: string[] | undefined = hasKeys ? [] : undefined;
  let o = 0;
  for (const p of parts) {
    values.set(p.batch.values, o);
    p.results.forEach((c, k) => (columns[k] as Float64Array).set(c, o));
    if (timestamps !== undefined && p.batch.timestamps !== undefined) timestamps.set(p.batch.timestamps, o);
    if (keys !== undefined && p.batch.keys !== undefined) keys.push(...p.batch.keys);
    o += p.batch.length;
  }
  return { values, columns, ...(timestamps ? { timestamps } : {}), ...(keys ? { keys } : {}), skipped };
}
