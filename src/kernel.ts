// The Kernel class: a thin layer over one WASM instance. It moves batches
// through the instance's IO buffers in chunks of the buffer's capacity and
// serializes its state region for snapshots.
import { buildHash, KernelInstance, STATUS_OK, STATUS_OUT_OF_MEMORY } from './engine.js';
import { SnapshotError } from './errors.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';
import { normalizeSpec, planFor, sameSpec, specForPlan, type KernelPlan } from './spec.js';
import type { Kernel, KernelSpec, NormalizedSpec } from './types.js';
import { describe } from './validation.js';

// Below this many rows, copy results out with a loop instead of allocating a subarray view.
const SMALL_COPY = 64;

/** Coerces a batch to a Float64Array; throws TypeError for anything not numeric. */
export function toFloat64Array(values: unknown, what: string): Float64Array {
  if (values instanceof Float64Array) return values;
  if (Array.isArray(values) || ArrayBuffer.isView(values)) {
    const source = values as ArrayLike<unknown>;
    const result = new Float64Array(source.length);
    for (let i = 0; i < source.length; i++) {
      const x = source[i];
      if (typeof x !== 'number') {
        throw new TypeError(`${what} must hold only numbers; element ${i} is ${x === null ? 'null' : typeof x}`);
      }
      result[i] = x;
    }
    return result;
  }
  throw new TypeError(`${what} must be a Float64Array or an array of numbers, got ${values === null ? 'null' : typeof values}`);
}

class WasmKernel implements Kernel {
  readonly spec: Readonly<NormalizedSpec>;
  private readonly plan: KernelPlan;
  private instance: KernelInstance | undefined;
  // The export itself, read once: a row at a time, property lookups would cost more than the row.
  private step: (value: number) => number;

  constructor(spec: NormalizedSpec, plan: KernelPlan, instance: KernelInstance) {
    this.spec = Object.freeze(spec);
    this.plan = plan;
    this.instance = instance;
    this.step = instance.exports.pushValue;
  }

  private live(): KernelInstance {
    if (this.instance === undefined) throw new Error('kernel has been disposed');
    return this.instance;
  }

  push(batch: Float64Array, out?: Float64Array): Float64Array {
    const instance = this.live();
    const values = toFloat64Array(batch, 'batch');
    const n = values.length;
    let result: Float64Array;
    if (out === undefined) {
      result = new Float64Array(n);
    } else {
      if (!(out instanceof Float64Array)) throw new TypeError('out must be a Float64Array');
      if (out.length < n) throw new RangeError(`out must hold at least ${n} rows, got ${out.length}`);
      result = out;
    }
    const { update, capacity } = instance.exports;
    const chunk = capacity();
    for (let offset = 0; offset < n; offset += chunk) {
      const rows = Math.min(chunk, n - offset);
      instance.input.set(rows === n ? values : values.subarray(offset, offset + rows));
      update(rows);
      const output = instance.output;
      if (rows === output.length) result.set(output, offset);
      else if (rows <= SMALL_COPY) for (let i = 0; i < rows; i++) result[offset + i] = output[i]!;
      else result.set(output.subarray(0, rows), offset);
    }
    return result.length === n ? result : result.subarray(0, n);
  }

  pushValue(value: number): number {
    if (typeof value !== 'number') throw new TypeError(`value must be a number, got ${describe(value)}`);
    return this.step(value);
  }

  inputBuffer(length: number): Float64Array {
    const instance = this.live();
    checkLength(length);
    instance.reserve(length);
    return instance.input.subarray(0, length);
  }

  pushInput(length: number): Float64Array {
    const instance = this.live();
    checkLength(length);
    if (length > instance.exports.capacity()) {
      throw new RangeError(`pushInput(${length}) exceeds the ${instance.exports.capacity()} rows reserved by inputBuffer()`);
    }
    instance.exports.update(length);
    return instance.output.subarray(0, length);
  }

  snapshot(): Uint8Array {
    return encodeSnapshot(this.plan, buildHash(this.plan.module), this.live().state());
  }

  reset(): void {
    this.live().exports.reset();
  }

  dispose(): void {
    this.instance = undefined;
    this.step = () => (this.live(), NaN); // live() throws: the kernel has been disposed
  }
}

function checkLength(length: number): void {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`length must be a non-negative integer, got ${length}`);
}

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
  return new WasmKernel(normalized, plan, await KernelInstance.create(plan));
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
  return new WasmKernel(spec, plan, instance);
}
