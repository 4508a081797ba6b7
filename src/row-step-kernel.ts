// The base of the kernels whose pushValue row runs in JavaScript (row-steps.ts).
//
// Between rows, the state's scalar fields (positions, counts, running sums and
// weights) are held in this object's fields: a field costs less than a typed
// array access into WASM memory, and nothing is written back per row. They
// are written back to the state region before any other call reaches the
// instance: every other method of WasmKernel (push, pushInput, inputBuffer,
// snapshot, reset) starts with live(), which this class extends. Arrays (the
// sum module's ring and suffix sums) are read and written in WASM memory
// directly, through a view on all of it.
import type { KernelInstance } from './engine.js';
import { describe } from './validation.js';
import { WasmKernel } from './wasm-kernel.js';

const NO_F64 = new Float64Array(0);
const NO_I32 = new Int32Array(0);

/**
 * The value of a held double field until load() gives it the state's: a double (not a
 * small integer), so V8 gives the field a double representation from the start. A field
 * that holds a small integer first and a fraction later changes representation on the
 * first rows, which deprecates the object's map and the code and feedback made for it.
 */
export const UNLOADED = 0.5;

/**
 * The first rows of a kernel's life that run in WASM wherever they fall (rowInWasm): V8
 * gives pushValue its feedback vector only after some calls (about 8 × its bytecode size
 * of interpreted bytecode), so the one row that runs in WASM at the start would leave the
 * call site of every later WASM row without type feedback. With a window of 10 000 its
 * next use is 10 000 rows on, after TurboFan compiled pushValue: an eager deopt there, and
 * a second compile whose shape depends on when V8's compile thread ran (issue 20). 64 rows
 * cost a few microseconds once per kernel; their results are the bits of the JS rows'.
 */
export const WARM_UP_ROWS = 64;

export function notANumber(value: unknown): never {
  throw new TypeError(`value must be a number, got ${describe(value)}`);
}

export abstract class HeldRowKernel extends WasmKernel {
  /** All of the instance's memory; length 0 until first use, after memory grew (the old buffer detaches), reset() and dispose(). */
  protected f64: Float64Array = NO_F64;
  protected i32: Int32Array = NO_I32;
  /** The state region's start, in bytes. */
  protected s = 0;
  /** True while this object's fields are the state (the state region's copies of them are stale). */
  protected held = false;
  /** Rows left of WARM_UP_ROWS: while some are, load() makes the next row run in WASM. */
  protected coldRows = WARM_UP_ROWS;

  /** Reads the state's fields from the state region into this object's. */
  protected abstract load(f64: Float64Array, i32: Int32Array, s: number): void;
  /** Writes this object's fields back into the state region. */
  protected abstract store(f64: Float64Array, i32: Int32Array, s: number): void;

  /** Takes the state into this object's fields; throws once disposed. */
  protected take(): void {
    const { exports } = super.live();
    if (this.f64.length === 0) {
      const buffer = exports.memory.buffer as ArrayBuffer;
      this.f64 = new Float64Array(buffer);
      this.i32 = new Int32Array(buffer);
      this.s = exports.statePtr();
    }
    this.load(this.f64, this.i32, this.s);
    this.held = true;
  }

  /** The instance, with the held fields written back first: whatever runs next in WASM or reads the state sees them. */
  protected override live(): KernelInstance {
    const instance = super.live();
    if (this.held) {
      this.held = false;
      this.store(this.f64, this.i32, this.s);
    }
    return instance;
  }

  /**
   * One row through the module's own pushValue: the rows the JS step leaves
   * to WASM, and the first row after the state was released (live() then has
   * nothing to write back; take() reads the state after the row). One path
   * for every rare row: its call site in pushValue runs on the first row, so
   * TurboFan never compiles pushValue with a branch that has no type feedback
   * (such a branch deoptimizes when first taken, rows later, and the code
   * compiled again depends on when the compile thread ran: issue 20's slow
   * mode). `+`: the export's result reaches JavaScript as a tagged value;
   * converted here, pushValue's result stays an unboxed double (else V8 boxes
   * every row's result, a heap number per row). Where V8 does not inline this
   * method (it got optimized code of its own first), what it returns is tagged
   * again: each pushValue converts it at its call site too (`+this.rowInWasm(x)`).
   */
  protected rowInWasm(x: number): number {
    this.live();
    const y = +this.step(x);
    if (this.coldRows > 0) this.coldRows--;
    this.take();
    return y;
  }

  protected override forgetViews(): void {
    this.held = false;
    this.f64 = NO_F64;
    this.i32 = NO_I32;
  }
}
