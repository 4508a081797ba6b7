// The coordinator's per-row passes of a keyed batch on two workers, scatter
// (each row's value and key into its worker's range) and merge (results back
// in row order), in WebAssembly (assembly/kernels/scatter.ts) over the batch
// buffer itself: the buffer is a shared WebAssembly.Memory's, with a staging
// area after the part the workers read. The scatter loop alone ran up to 3×
// faster than the JavaScript one (job.ts scatterOfTwo; the merge loops are
// even) in a micro-benchmark, but the staging copies take much of that back:
// with its workers answering at once, the coordinator saves 1–5 ns of its
// ~25 per row (docs/SCHEDULER.md, issue 13, sixth round). Where shared
// WebAssembly memory or the module is not there (a page without cross-origin
// isolation has no shared memory at all, so no shared batches either),
// job.ts keeps the JavaScript loops.
import { instantiateSync } from '../engine.js';

interface ScatterExports {
  scatterOfTwo(rows: number, workers: number, values: number, keys: number, outValues: number, outKeys: number, start1: number): void;
  mergeOfTwo(rows: number, workers: number, results: number, out: number, start1: number): void;
}

const PAGE = 65536;

/** A batch buffer's WebAssembly passes; its layout from 0 is the workers' (job.ts dispatchShared), then the staging area. */
export class TwoWayPasses {
  /** Each row's worker (0 or 1), which the coordinator's route writes straight into the memory. */
  readonly rowWorker: Uint8Array;
  private readonly stageValues: Float64Array;
  private readonly stageKeys: Uint32Array;
  private readonly merged: Float64Array;

  private constructor(
    readonly buffer: SharedArrayBuffer,
    private readonly ex: ScatterExports,
    /** Byte offsets of the staging area: the batch's values and keys as given, each row's worker, the merged results (over the staged values, done with once scattered). */
    private readonly at: { values: number; keys: number; workers: number; merged: number },
    capacity: number,
  ) {
    this.stageValues = new Float64Array(buffer, at.values, capacity);
    this.stageKeys = new Uint32Array(buffer, at.keys, capacity);
    this.rowWorker = new Uint8Array(buffer, at.workers, capacity);
    this.merged = new Float64Array(buffer, at.merged, capacity);
  }

  /**
   * A shared buffer of `bytes` bytes for the workers and staging for
   * `capacity` rows, in a shared WebAssembly.Memory with the module's
   * instance over it; undefined where either cannot be made.
   */
  static create(bytes: number, capacity: number): TwoWayPasses | undefined {
    if (typeof WebAssembly === 'undefined' || typeof SharedArrayBuffer !== 'function') return undefined;
    const values = Math.ceil(bytes / 8) * 8;
    const at = { values, keys: values + capacity * 8, workers: values + capacity * 12, merged: values };
    const pages = Math.ceil((at.workers + capacity) / PAGE);
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

  /** The batch's values and keys into the two workers' ranges (worker 1's from `start1`; keys at byte `rows` × 16): staged, then scattered. */
  scatter(values: Float64Array, keys: Uint32Array, start1: number): void {
    const rows = values.length;
    this.stageValues.set(values);
    this.stageKeys.set(keys);
    this.ex.scatterOfTwo(rows, this.at.workers, this.at.values, this.at.keys, 0, rows * 16, start1);
  }

  /** The results (from byte `rows` × 8, worker 1's from `start1`) into `out` in row order. */
  merge(out: Float64Array, start1: number): void {
    const rows = out.length;
    this.ex.mergeOfTwo(rows, this.at.workers, rows * 8, this.at.merged, start1);
    out.set(this.merged.subarray(0, rows));
  }
}
