// createKernel and restoreKernel: a kernel from a spec or from snapshot bytes.
import { buildHash, KernelInstance, STATUS_OK, STATUS_OUT_OF_MEMORY } from './engine.js';
import { SnapshotError } from './errors.js';
import { kernelFor } from './row-steps.js';
import { decodeSnapshot } from './snapshot.js';
import { normalizeSpec, planFor, sameSpec, specForPlan } from './spec.js';
import type { Kernel, KernelSpec, NormalizedSpec } from './types.js';

export { toFloat64Array } from './wasm-kernel.js';

/**
 * Creates a streaming kernel for a spec. Throws `TypeError`/`RangeError`
 * naming the field for a bad spec.
 *
 * @example
 * ```ts
 * const kernel = await createKernel({ op: 'mean', window: 3 });
 * kernel.push(new Float64Array([1, 2, 3])); // [NaN, NaN, 2]
 * kernel.push(new Float64Array([4]));       // [3]
 * ```
 */
export async function createKernel(spec: KernelSpec): Promise<Kernel> {
  const normalized = normalizeSpec(spec);
  const plan = planFor(normalized);
  return kernelFor(normalized, plan, await KernelInstance.create(plan));
}

function describeSpec(spec: NormalizedSpec): string {
  return JSON.stringify(spec);
}

/**
 * Restores a kernel from {@link Kernel.snapshot} bytes, in this or another
 * process, worker or browser; it continues bit-identically. Throws
 * {@link SnapshotError} for a truncated or corrupt snapshot, one from another
 * build, or (with `expected`) one of another op or parameters; nothing is
 * restored then.
 *
 * @param expected - when given, the snapshot must be of this spec.
 * @example
 * ```ts
 * const bytes = kernel.snapshot();
 * const copy = await restoreKernel(bytes, { op: 'mean', window: 3 });
 * ```
 */
export async function restoreKernel(snapshot: Uint8Array, expected?: KernelSpec): Promise<Kernel> {
  const { plan, state } = decodeSnapshot(snapshot, buildHash);
  const spec = specForPlan(plan);
  if (spec === undefined) {
    throw new SnapshotError('BAD_PARAMETERS', `snapshot holds invalid kernel parameters: ${JSON.stringify(plan)}`);
  }
  if (expected !== undefined) {
    const wanted = normalizeSpec(expected);
    if (wanted.op !== spec.op) {
      throw new SnapshotError('OP_MISMATCH', `snapshot is of op '${spec.op}', expected '${wanted.op}'`);
    }
    if (!sameSpec(wanted, spec)) {
      throw new SnapshotError('OP_MISMATCH', `snapshot is of ${describeSpec(spec)}, expected ${describeSpec(wanted)}`);
    }
  }
  // Every rolling module keeps at least a ring of `window` f64 rows: refusing shorter states
  // here keeps a small forged snapshot from making us allocate for a huge window.
  const minimumState = plan.window * 8;
  if (state.length < minimumState) {
    throw new SnapshotError('BAD_STATE', `snapshot state: expected at least ${minimumState} bytes for a window of ${plan.window}, got ${state.length}`);
  }
  let instance: KernelInstance;
  try {
    instance = await KernelInstance.create(plan);
  } catch (error) {
    throw new SnapshotError('BAD_PARAMETERS', `snapshot's kernel cannot be created: ${(error as Error).message}`);
  }
  // The bytes go only into this fresh, private instance; it is dropped unless they validate.
  const target = instance.state();
  if (target.length !== state.length) {
    throw new SnapshotError('BAD_STATE', `snapshot state: expected ${target.length} bytes, got ${state.length}`);
  }
  target.set(state);
  let status: number;
  try {
    status = instance.exports.validate();
  } catch {
    status = -1; // a trap: treated like any other invalid state
  }
  if (status === STATUS_OUT_OF_MEMORY) {
    throw new SnapshotError('BAD_STATE', 'not enough WebAssembly memory to validate the snapshot state');
  }
  if (status !== STATUS_OK) {
    throw new SnapshotError('BAD_STATE', 'snapshot state is inconsistent: an index, count, header or derived field disagrees with its rows');
  }
  return kernelFor(spec, plan, instance);
}
