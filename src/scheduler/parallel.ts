// parallelRolling: one long series split into chunks computed in parallel.
//
// A chunk [s, e) is computed by a fresh kernel fed from row a, the start of
// the window-aligned block holding row s − (window − 1):
//   a = floor((s − window + 1) / window) · window   (0 if negative)
// and its first s − a results are dropped. Two facts make this exactly the
// single-threaded result:
//  - every window of a row ≥ s lies within [a, e), so it sees the same rows
//    (NaN and minPeriods counting included: they are counted per window);
//  - the block kernels (sum/mean/count, min/max, var/std) place block and
//    sub-block boundaries at absolute positions that are multiples of the
//    window; a fresh kernel counts positions from its first row, so starting
//    at a multiple of the window keeps every boundary where the single-thread
//    run has it, and with it every addition in the same order. (A halo of just
//    window − 1 rows would shift the blocks, and the kernels do not promise
//    that the rounding is the same then.)
// median/quantile depend only on the window's contents. ewm has no window:
// each result depends on every earlier row through a carried state, and an
// associative scan would regroup the arithmetic and change the bits, so ewm
// runs sequentially in one worker (the carry is the kernel's state).
import { compiledModule } from '../engine.js';
import { toFloat64Array } from '../kernel.js';
import { normalizeSpec, planFor } from '../spec.js';
import type { KernelSpec } from '../types.js';
import { WorkerFailure } from './errors.js';
import { normalizeParallelOptions } from './options.js';
import type { ParallelOptions, WorkerHandle } from './types.js';

/** Where chunk [start, end) starts feeding a fresh kernel: see the file comment. */
export function haloStart(start: number, window: number): number {
  const first = start - (window - 1);
  return first <= 0 ? 0 : Math.floor(first / window) * window;
}

/**
 * A rolling aggregate (or ewm) over a whole series, computed by several
 * workers, bit-identical to {@link index.rolling | rolling}/{@link index.ewm | ewm} on one thread. The
 * series is split into chunks; each chunk also reads the window-aligned block
 * before it (its halo), which costs at most `2·window − 1` extra rows per
 * chunk. `ewm` carries state from row to row and runs in a single worker.
 *
 * @example
 * ```ts
 * import { parallelRolling } from 'streamkernel/scheduler';
 * import { nodeWorkers } from 'streamkernel/scheduler/node';
 * const out = await parallelRolling(values, { op: 'median', window: 500 }, { adapter: nodeWorkers(), workers: 4 });
 * ```
 */
export async function parallelRolling(values: Float64Array | number[], spec: KernelSpec, options: ParallelOptions): Promise<Float64Array> {
  const normalized = normalizeSpec(spec);
  const input = toFloat64Array(values, 'values');
  const o = normalizeParallelOptions(options);
  const n = input.length;
  const out = new Float64Array(n);
  if (n === 0) return out;
  const module = await compiledModule(planFor(normalized).module);
  const window = normalized.op === 'ewm' ? 0 : normalized.window;
  const chunkRows = normalized.op === 'ewm' ? n : (o.chunkRows ?? Math.ceil(n / o.workers));
  const chunks: { start: number; end: number }[] = [];
  for (let s = 0; s < n; s += chunkRows) chunks.push({ start: s, end: Math.min(n, s + chunkRows) });
  const workerCount = Math.min(o.workers, chunks.length);
  const handles: WorkerHandle[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let done = 0;
      let failed = false;
      const give = (handle: WorkerHandle): void => {
        if (next >= chunks.length) return;
        const id = next++;
        const { start, end } = chunks[id]!;
        const a = window === 0 ? start : haloStart(start, window);
        const payload = input.slice(a, end);
        handle.post({ t: 'chunk', id, module, spec: normalized, values: payload, skip: start - a }, [payload.buffer]);
      };
      const failWith = (error: Error): void => {
        if (failed) return;
        failed = true;
        reject(error);
      };
      for (let index = 0; index < workerCount; index++) {
        const handle = o.adapter.spawn();
        handles.push(handle);
        handle.onMessage((raw) => {
          const message = raw as { t: string; id: number; values: Float64Array };
          if (message.t !== 'chunk' || failed) return;
          out.set(message.values, chunks[message.id]!.start);
          if (++done === chunks.length) resolve();
          else give(handle);
        });
        handle.onError((error) => failWith(new WorkerFailure('error', index, `worker ${index} threw: ${error?.message ?? String(error)}`, { cause: error })));
        handle.onExit((code) => failWith(new WorkerFailure('exit', index, `worker ${index} exited with code ${code}`)));
        give(handle);
      }
    });
  } finally {
    for (const handle of handles) handle.terminate();
  }
  return out;
}
