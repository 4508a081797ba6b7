// The coordinator's per-row passes of a keyed batch on two workers, scatter
// (each row's value and key into its worker's range) and merge (results back
// in row order), in WebAssembly (assembly/kernels/scatter.ts) over the batch
// buffer itself: the buffer is a shared WebAssembly.Memory's, with each row's
// worker and a small staging area after the part the workers read. The
// batch's values and keys are staged (and its results merged) a chunk of
// STAGE_ROWS rows at a time, so the staged rows are read back from cache.
// The scatter loop alone ran up to 3× faster than the JavaScript one (job.ts
// scatterOfTwo; the merge loops are even) in a micro-benchmark, but the
// staging copies take much of that back (docs/SCHEDULER.md, issue 13, sixth
// and seventh rounds). Where shared WebAssembly memory or the module is not
// there (a page without cross-origin isolation has no shared memory at all,
// so no shared batches either), job.ts keeps the JavaScript loops.
import { instantiateSync } from '../engine.js';

interface ScatterExports {
  scatterOfTwo(rows: number, workers: number, values: number, keys: number, outValues: number, outKeys: number, start1: number): number;
  mergeOfTwo(rows: number, workers: number, results: number, out: number, start1: number): number;
}

const PAGE = 65536;

/**
 * Rows staged at a time: the scatter stages a batch's values and keys and
 * the merge its results a chunk at a time in one small area (96 KiB), which
 * stays in cache from the copy in to the pass over it. A staging area of the
 * batch's size (13 bytes per row of capacity in each of the 9 pooled
 * buffers) was written to and read from memory out of cache, and its pages
 * were faulted in once per buffer and job (~2.6 µs a page here).
 */
export const STAGE_ROWS = 8192;

/** A batch buffer's WebAssembly passes; its layout from 0 is the workers' (job.ts dispatchShared), then each row's worker, then the staging area. */
export class TwoWayPasses {
  /** Each row's worker (0 or 1), which the coordinator's route writes straight into the memory. */
  readonly rowWorker: Uint8Array;
  private readonly stageValues: Float64Array;
  private readonly stageKeys: Uint32Array;
  private readonly merged: Float64Array;

  private constructor(
    readonly buffer: SharedArrayBuffer,
    private readonly ex: ScatterExports,
    /** Byte offsets: each row's worker, and the staging area: a chunk's values and keys as given, its merged results (over the staged values). */
    private readonly at: { workers: number; values: number; keys: number; merged: number },
    capacity: number,
  ) {
    this.rowWorker = new Uint8Array(buffer, at.workers, capacity);
    this.stageValues = new Float64Array(buffer, at.values, STAGE_ROWS);
    this.stageKeys = new Uint32Array(buffer, at.keys, STAGE_ROWS);
    this.merged = new Float64Array(buffer, at.merged, STAGE_ROWS);
  }

  /**
   * A shared buffer of `bytes` bytes for the workers, each row's worker for
   * `capacity` rows and the staging area, in a shared WebAssembly.Memory
   * with the module's instance over it; undefined where either cannot be
   * made.
   */
  static create(bytes: number, capacity: number): TwoWayPasses | undefined {
    if (typeof WebAssembly === 'undefined' || typeof SharedArrayBuffer !== 'function') return undefined;
    const workers = bytes;
    const values = Math.ceil((workers + capacity) / 8) * 8;
    const at = { workers, values, keys: values + STAGE_ROWS * 8, merged: values };
    const pages = Math.ceil((at.keys + STAGE_ROWS * 4) / PAGE);
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    } catch {
      return undefined;
    }
    const ex = instantiateSync<ScatterExports>('scatter', { env: { memory } });
    if (ex === undefined || !(memory.buffer instanceof SharedArrayBuffer)) return undefined;
    return new TwoWayPasses(memory.buffer, ex, at, capacity);
  }

  /**
   * The batch's values and keys into the two workers' ranges (worker 1's
   * from `start1`; keys at byte `rows` × 16), a chunk at a time: staged,
   * then scattered from where the previous chunks left each worker's place.
   */
  scatter(values: Float64Array, keys: Uint32Array, start1: number): void {
    const rows = values.length;
    const { ex, at } = this;
    // Worker 0's rows before the chunk; worker 1's are the rest, so its place is start1 + a − zeros.
    let zeros = 0;
    for (let a = 0; a < rows; a += STAGE_ROWS) {
      const n = Math.min(STAGE_ROWS, rows - a);
      this.stageValues.set(n === rows ? values : values.subarray(a, a + n));
      this.stageKeys.set(n === rows ? keys : keys.subarray(a, a + n));
      zeros += ex.scatterOfTwo(n, at.workers + a, at.values, at.keys, zeros * 8, rows * 16 + zeros * 4, start1 + a - 2 * zeros);
    }
  }

  /** The results (from byte `rows` × 8, worker 1's from `start1`) into `out` in row order, a chunk at a time. */
  merge(out: Float64Array, start1: number): void {
    const rows = out.length;
    const { ex, at } = this;
    let zeros = 0;
    for (let a = 0; a < rows; a += STAGE_ROWS) {
      const n = Math.min(STAGE_ROWS, rows - a);
      zeros += ex.mergeOfTwo(n, at.workers + a, (rows + zeros) * 8, at.merged, start1 + a - 2 * zeros);
      out.set(n === STAGE_ROWS ? this.merged : this.merged.subarray(0, n), a);
    }
  }
}
