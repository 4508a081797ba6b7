// Platform-neutral sinks and sources.
import type { LateRow, WindowResult } from '../types.js';
import type { Batch, CommittedSinkState, OutputBatch, Sink, Source } from './types.js';

/** Input rows an output batch covers. */
const rowsOf = (b: OutputBatch): number => b.rows ?? b.values.length;

/** The two-phase in-memory sink returned by {@link memorySink}. */
export interface MemorySink extends Sink {
  /** Every committed result so far, concatenated (empty when `keep` is false). */
  committed(): Float64Array;
  /** Window kinds: every committed window and late row so far, in order (empty when `keep` is false). */
  committedWindows(): {
    /** The committed window records, in output order. */
    windows: WindowResult[];
    /** The committed late rows, in output order. */
    late: LateRow[];
  };
  /** Stream offset of the first committed row (nonzero after a resume in a new process). */
  readonly firstOffset: number;
  /** Stream offset after the last committed row. */
  readonly committedOffset: number;
  /** Rows written but not yet committed (held back). */
  readonly heldRows: number;
}

/**
 * A two-phase sink in memory: results are held back until the checkpoint
 * covering them commits, then released to `onCommit` (and kept, unless
 * `keep` is false). Its position is the stream offset after the last row a
 * checkpoint covers.
 *
 * @param options.onCommit - receives each committed batch, in stream order.
 * @param options.keep - keep committed results for {@link MemorySink.committed}. @default true
 * @example
 * ```ts
 * const sink = memorySink();
 * await job.run(source);
 * sink.committed(); // every result, exactly once
 * ```
 */
export function memorySink(options: { onCommit?: (batch: OutputBatch) => void; keep?: boolean } = {}): MemorySink {
  const keep = options.keep ?? true;
  if (typeof keep !== 'boolean') throw new TypeError(`keep must be a boolean, got ${typeof keep}`);
  if (options.onCommit !== undefined && typeof options.onCommit !== 'function') throw new TypeError('onCommit must be a function');
  let open: OutputBatch[] = [];
  let sealed: { id: number; batches: OutputBatch[] }[] = [];
  let kept: OutputBatch[] = [];
  let firstOffset = 0;
  let committedOffset = 0;
  let writtenOffset = 0;
  let heldRows = 0;
  const release = (upTo: number): void => {
    while (sealed.length > 0 && sealed[0]!.id <= upTo) {
      for (const batch of sealed.shift()!.batches) {
        heldRows -= rowsOf(batch);
        committedOffset = batch.offset + rowsOf(batch);
        if (keep) kept.push(batch);
        options.onCommit?.(batch);
      }
    }
  };
  return {
    get firstOffset() {
      return firstOffset;
    },
    get committedOffset() {
      return committedOffset;
    },
    get heldRows() {
      return heldRows;
    },
    write(batch) {
      if (batch.offset !== writtenOffset) throw new Error(`sink expected offset ${writtenOffset}, got ${batch.offset}`);
      writtenOffset += rowsOf(batch);
      heldRows += rowsOf(batch);
      open.push(batch);
    },
    preCommit(id) {
      sealed.push({ id, batches: open });
      open = [];
      return writtenOffset;
    },
    commit(id) {
      release(id);
    },
    recover(last: CommittedSinkState | null) {
      if (last !== null) release(last.id);
      sealed = [];
      open = [];
      heldRows = 0;
      const position = last === null ? 0 : (last.position as number);
      if (committedOffset !== position) {
        // A new sink resuming a job in a new process: what came before went elsewhere.
        kept = [];
        firstOffset = position;
      }
      committedOffset = position;
      writtenOffset = position;
    },
    committedWindows() {
      return { windows: kept.flatMap((b) => b.windows ?? []), late: kept.flatMap((b) => b.late ?? []) };
    },
    committed() {
      const rows = kept.reduce((s, b) => s + b.values.length, 0);
      const out = new Float64Array(rows);
      let at = 0;
      for (const b of kept) {
        out.set(b.values, at);
        at += b.values.length;
      }
      return out;
    },
  };
}

/**
 * A replayable source over arrays in memory: batches of `batchRows` rows,
 * as views of the arrays (the job copies what it sends to workers, and never
 * writes to the arrays).
 *
 * @param options.keys - one key per value, for keyed jobs.
 * @param options.times - one event time (ms) per value, for event-time operators.
 * @param options.batchRows - rows per batch, a positive integer. @default 65536
 * @example
 * ```ts
 * await job.run(arraySource(values, { keys, batchRows: 10_000 }));
 * ```
 */
export function arraySource(values: Float64Array, options: { keys?: Uint32Array; times?: Float64Array; batchRows?: number } = {}): Source {
  if (!(values instanceof Float64Array)) throw new TypeError(`values must be a Float64Array, got ${values === null ? 'null' : typeof values}`);
  const { keys, times } = options;
  if (times !== undefined) {
    if (!(times instanceof Float64Array)) throw new TypeError(`times must be a Float64Array, got ${times === null ? 'null' : typeof times}`);
    if (times.length !== values.length) throw new RangeError(`times must have one time per value: got ${times.length} times for ${values.length} values`);
  }
  if (keys !== undefined) {
    if (!(keys instanceof Uint32Array)) throw new TypeError(`keys must be a Uint32Array, got ${keys === null ? 'null' : typeof keys}`);
    if (keys.length !== values.length) throw new RangeError(`keys must have one key per value: got ${keys.length} keys for ${values.length} values`);
  }
  const batchRows = options.batchRows ?? 65_536;
  if (typeof batchRows !== 'number') throw new TypeError(`batchRows must be a number, got ${typeof batchRows}`);
  if (!Number.isInteger(batchRows) || batchRows < 1) throw new RangeError(`batchRows must be a positive integer, got ${batchRows}`);
  let at = 0;
  return {
    replayable: true,
    seek(offset) {
      if (!Number.isInteger(offset) || offset < 0 || offset > values.length) {
        throw new RangeError(`offset must be an integer from 0 to ${values.length}, got ${offset}`);
      }
      at = offset;
    },
    read(): Batch | null {
      if (at >= values.length) return null;
      const end = Math.min(values.length, at + batchRows);
      // Views, except of a whole buffer: the job would transfer (detach) that.
      const whole = at === 0 && end === values.length && values.byteLength === values.buffer.byteLength;
      const batch: Batch = { values: whole ? values.slice() : values.subarray(at, end) };
      const view = <A extends Float64Array | Uint32Array>(a: A): A => (at === 0 && end === a.length && a.byteLength === a.buffer.byteLength ? (a.slice() as A) : (a.subarray(at, end) as A));
      if (keys !== undefined) batch.keys = view(keys);
      if (times !== undefined) batch.times = view(times);
      at = end;
      return batch;
    },
  };
}
