// The Kernel class over one WASM instance: it moves batches through the
// instance's IO buffers in chunks of the buffer's capacity, runs one row at a
// time through the module's pushValue export, and serializes its state region
// for snapshots. row-steps.ts extends it for the ops whose row runs faster in
// JavaScript.
import { buildHash, KernelInstance } from './engine.js';
import { encodeSnapshot } from './snapshot.js';
import type { KernelPlan } from './spec.js';
import type { Kernel, NormalizedSpec } from './types.js';
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

export class WasmKernel implements Kernel {
  readonly spec: Readonly<NormalizedSpec>;
  protected readonly plan: KernelPlan;
  private instance: KernelInstance | undefined;
  // The export itself, read once: a row at a time, property lookups would cost more than the row.
  protected step: (value: number) => number;

  constructor(spec: NormalizedSpec, plan: KernelPlan, instance: KernelInstance) {
    this.spec = Object.freeze(spec);
    this.plan = plan;
    this.instance = instance;
    this.step = instance.exports.pushValue;
  }

  protected live(): KernelInstance {
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
    this.forgetViews();
  }

  dispose(): void {
    this.instance = undefined;
    this.step = () => (this.live(), NaN); // live() throws: the kernel has been disposed
    this.forgetViews();
  }

  /** Drops views a subclass keeps on the instance's memory; they are rebuilt (or refused, once disposed) on next use. */
  protected forgetViews(): void {}
}

function checkLength(length: number): void {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`length must be a non-negative integer, got ${length}`);
}

