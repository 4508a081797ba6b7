// sum / mean / count (assembly/kernels/sum.ts) one row at a time in JavaScript:
// sum.ts rowResult() (the scalar row, minPeriods checked) with the same IEEE
// operations in the same order, so results and snapshots are the bits of
// push() (test/row-steps.test.ts). A change to rowResult(), to update()'s
// sub-block end or to the state's layout in sum.ts must be made here too.
//
// The ring and the suffix sums stay in WASM memory; the position, count and
// prefix sums (acc, P) are held in fields. The row that ends a block runs here
// too, then the module's finishRingBlock() recomputes the suffix sums in WASM
// (finishBlock() alone: no state goes to WASM and back); a kernel's first
// WARM_UP_ROWS rows go through the module's pushValue (row-step-kernel.ts); a
// sub-block's end is update()'s two operations, done here.
import type { KernelInstance } from './engine.js';
import { HeldRowKernel, notANumber, UNLOADED } from './row-step-kernel.js';
import type { KernelPlan } from './spec.js';
import type { NormalizedSpec } from './types.js';
import type { WasmKernel } from './wasm-kernel.js';

const OP_MEAN = 1;
const OP_COUNT = 2;

// The state's fields, byte offsets from its start (sum.ts S_*).
const S_POS = 32; // i32: offset of the next row in its block
const S_SUB_LEFT = 36; // i32: rows left in the sub-block
const S_COUNT = 40; // i32: non-NaN rows in the window
const S_SUB_LEN = 44; // i32: sub-block length
const S_ACC_SUB = 48; // f64: acc, the sum of the sub-block's finished groups of 4
const S_ACC_BLOCK = 56; // f64: P, the sum of the block's finished sub-blocks
const S_RING = 64; // f64 × W: the block's rows so far, then the previous block's; then W + 1 suffix sums

/** Runs of the block-end path before the first row (warmBlockEnd), once per process. */
const BLOCK_END_WARM_UP_RUNS = 16;
let blockEndWarmed = false;

/** True once a kernel of this module has run its block-end path before its first row (warmBlockEnd; for tests). */
export function blockEndWarmedUp(): boolean {
  return blockEndWarmed;
}

/** Below this window, blocks end so often that the rows are cheaper in WASM (each block's end is a call into it). */
export const SUM_ROW_STEP_MIN_WINDOW = 16;

/** The sum module's export beyond the ABI that every module shares (engine.ts KernelExports). */
interface SumExports {
  finishRingBlock(): void;
}

/** NaN is missing: it adds +0 (sum.ts z()). */
function z(x: number): number {
  return x === x ? x : 0;
}

abstract class BlockSumKernel extends HeldRowKernel {
  // Declared with a number: a field first defined as undefined keeps a tagged representation (a check on every row).
  private readonly window: number = 0;
  protected readonly minPeriods: number = 0;
  // Places in `f64` (all of memory), in f64 elements.
  private ring = 0;
  /** The next row's place in the ring: its offset in the block is slot − ring. */
  private slot = -1;
  /** The place of the row that ends the block (or of the next row, while the kernel is cold): that row takes the rare path (rowInWasm). */
  private blockEnd = -1;
  /** The place just past the sub-block (sum and mean: count keeps no sums, and its sub-blocks end with nothing to do). */
  private subEnd = 0;
  private subLength = 0;
  private count = 0;
  // Doubles from the start (UNLOADED): a field first given a small integer and later a
  // fraction changes the object's map on the first rows (V8 deprecates the old one).
  private acc = UNLOADED;
  private accBlock = UNLOADED;
  /** The group's (a, b, c, d) partial sums so far: z(a), then z(b) + z(a) … */
  private pair = UNLOADED;
  /** … and z(c). */
  private third = UNLOADED;

  /** The module's export that ends a block (sum.ts finishRingBlock()), read once like `step`. */
  private readonly finishRingBlock: () => void;

  constructor(spec: NormalizedSpec, plan: KernelPlan, instance: KernelInstance) {
    super(spec, plan, instance);
    this.window = plan.window;
    this.minPeriods = plan.minPeriods;
    this.finishRingBlock = (instance.exports as unknown as SumExports).finishRingBlock;
    this.warmBlockEnd();
  }

  override pushValue(x: number): number {
    if (typeof x !== 'number') notANumber(x);
    const slot = this.slot;
    // One test for the two rare rows (rowInWasm): the block's last (its suffix pass in WASM,
    // finishRingBlock()) and the first after the state was released (both are then -1).
    if (slot === this.blockEnd) return +this.rowInWasm(x);
    return this.row(x, slot);
  }

  /**
   * The rare row (row-step-kernel.ts): while the state is held and the kernel warm, that is
   * the block's last row. It runs here like any other, and the module's finishRingBlock()
   * makes the block's suffix sums, as update() does at the block's end; the fields then
   * take a block's start (load() at pos 0 gives these). No state goes to WASM and back.
   */
  protected override rowInWasm(x: number): number {
    if (this.held !== true || this.coldRows > 0) return super.rowInWasm(x);
    const y = this.row(x, this.slot);
    this.finishRingBlock();
    const ring = this.ring;
    this.slot = ring;
    this.subEnd = (ring + this.subLength) | 0;
    this.acc = 0;
    this.accBlock = 0;
    return y;
  }

  /**
   * Runs the block-end path above, on the process's first kernel of this module, and
   * undoes it: V8 then has type feedback for it before TurboFan compiles pushValue, which
   * inlines it. Its first real use is W − 1 rows in at most; with a window of 10 000 that
   * came after the compile: an eager deopt there, and a second compile ~40% slower a row
   * (issue 20's slow mode, again). BLOCK_END_WARM_UP_RUNS times: V8 gives a function its
   * feedback vector only after ~8 × its bytecode size has run. The path writes the ring's last row
   * and the suffix sums (W + 2 doubles in a row, saved and put back) and the held fields
   * (read back by take(), then written back unchanged and let go). Here, not on the
   * warm-up rows' last: a call on that path kept V8 from inlining the row into pushValue
   * (~0.6 ns a row at w=100).
   */
  private warmBlockEnd(): void {
    if (blockEndWarmed) return;
    blockEndWarmed = true;
    this.take();
    const coldRows = this.coldRows;
    this.coldRows = 0;
    const last = (this.ring + this.window - 1) | 0;
    const saved = this.f64.slice(last, last + this.window + 2);
    for (let run = 0; run < BLOCK_END_WARM_UP_RUNS; run++) {
      this.slot = last;
      this.rowInWasm(0 / 0);
    }
    this.f64.set(saved, last);
    this.coldRows = coldRows;
    this.take();
    this.live();
  }

  /** rowResult() of the row at `slot`, with the minPeriods check. */
  protected abstract row(x: number, slot: number): number;

  /** The row enters the ring at `slot`, the row W before leaves it: the window's count. */
  protected enter(x: number, slot: number): number {
    const f64 = this.f64;
    const old = f64[slot]!;
    f64[slot] = x;
    const count = (this.count + (x === x ? 1 : 0) - (old === old ? 1 : 0)) | 0; // | 0: int32, no overflow checks
    this.count = count;
    this.slot = (slot + 1) | 0; // | 0: int32 arithmetic, no overflow check (a slot is a place in memory)
    return count;
  }

  /** The window's sum at the row at `slot`: rowResult()'s group arithmetic, (a, b, c, d) at offsets 4k … 4k + 3. */
  protected windowSum(x: number, slot: number): number {
    const zx = x === x ? x : 0;
    const group = (slot - this.ring) & 3;
    let r: number;
    if (group === 0) {
      this.pair = zx;
      r = this.acc + (zx + 0);
    } else if (group === 1) {
      const pair = zx + this.pair;
      this.pair = pair;
      r = this.acc + pair;
    } else if (group === 2) {
      this.third = zx;
      r = this.acc + (this.pair + (zx + 0));
    } else {
      r = this.acc + (this.pair + (zx + this.third));
      this.acc = r;
      // A sub-block ends with a group (its length is a multiple of 4).
      if (((slot + 1) | 0) === this.subEnd) return this.endSubBlock(slot, r);
    }
    return this.f64[(slot + this.window + 1) | 0]! + (this.accBlock + r);
  }

  /** The sum at a sub-block's last row, then update()'s sub-block end: P takes acc (r, at a group's last row). */
  private endSubBlock(slot: number, r: number): number {
    const sum = this.f64[(slot + this.window + 1) | 0]! + (this.accBlock + r);
    this.accBlock += r;
    this.acc = 0;
    this.subEnd += this.subLength;
    return sum;
  }

  protected load(f64: Float64Array, i32: Int32Array, s: number): void {
    const pos = i32[(s + S_POS) >>> 2]!;
    this.ring = (s + S_RING) >>> 3;
    this.slot = this.ring + pos;
    this.blockEnd = this.coldRows > 0 ? this.slot : this.ring + this.window - 1;
    this.subEnd = this.slot + i32[(s + S_SUB_LEFT) >>> 2]!;
    this.subLength = i32[(s + S_SUB_LEN) >>> 2]!;
    this.count = i32[(s + S_COUNT) >>> 2]!;
    this.acc = f64[(s + S_ACC_SUB) >>> 3]!;
    this.accBlock = f64[(s + S_ACC_BLOCK) >>> 3]!;
    // The group's partial sums, from its rows in the ring.
    const start = this.slot - (pos & 3);
    if ((pos & 3) >= 1) this.pair = z(f64[start]!);
    if ((pos & 3) >= 2) this.pair = z(f64[start + 1]!) + z(f64[start]!);
    if ((pos & 3) === 3) this.third = z(f64[start + 2]!);
  }

  protected store(f64: Float64Array, i32: Int32Array, s: number): void {
    const pos = this.slot - this.ring;
    i32[(s + S_POS) >>> 2] = pos;
    i32[(s + S_SUB_LEFT) >>> 2] = this.subLength - (pos % this.subLength); // as sum.ts validate() requires
    i32[(s + S_COUNT) >>> 2] = this.count;
    f64[(s + S_ACC_SUB) >>> 3] = this.acc;
    f64[(s + S_ACC_BLOCK) >>> 3] = this.accBlock;
    this.release();
  }

  protected override forgetViews(): void {
    super.forgetViews();
    this.release();
  }

  /** Not held: the next row takes the state (pushValue's one test sees slot === blockEnd). */
  private release(): void {
    this.slot = -1;
    this.blockEnd = -1;
  }
}

// One class per op, so that each row runs only its op's operations.
// `0 / 0`, not `NaN`: V8 boxes a double that meets the global NaN in a conditional.

class SumRowKernel extends BlockSumKernel {
  protected row(x: number, slot: number): number {
    const count = this.enter(x, slot);
    const y = this.windowSum(x, slot);
    return count >= this.minPeriods ? y : 0 / 0;
  }
}

class MeanRowKernel extends BlockSumKernel {
  protected row(x: number, slot: number): number {
    const count = this.enter(x, slot);
    const y = this.windowSum(x, slot) / count;
    return count >= this.minPeriods ? y : 0 / 0;
  }
}

/** count keeps no sums (sum.ts leaves them 0). */
class CountRowKernel extends BlockSumKernel {
  protected row(x: number, slot: number): number {
    const count = this.enter(x, slot);
    return count >= this.minPeriods ? count : 0 / 0;
  }
}

/** The row-step kernel of a sum module plan. */
export function blockSumKernel(spec: NormalizedSpec, plan: KernelPlan, instance: KernelInstance): WasmKernel {
  if (plan.code === OP_COUNT) return new CountRowKernel(spec, plan, instance);
  if (plan.code === OP_MEAN) return new MeanRowKernel(spec, plan, instance);
  return new SumRowKernel(spec, plan, instance);
}
