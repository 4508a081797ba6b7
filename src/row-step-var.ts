// var / std (assembly/kernels/var.ts) one row at a time in JavaScript: var.ts
// pushValue()'s fast row (an ordinary or NaN row while the window holds no
// ±Inf and no extreme row and the block has a finite row) with the same IEEE
// operations in the same order, then update()'s sub-block end, so results and
// snapshots are the bits of push() (test/row-steps.test.ts). A change to
// pushValue(), varianceOf(), update()'s sub-block end or the state's layout in
// var.ts must be made here too.
//
// The ring and the suffix sums stay in WASM memory; the position, counts,
// K_L and prefix sums are held in fields. The block's rare rows run here too,
// on the rare path (rowInWasm, overridden), with only their loops in WASM: the
// block's last row, then update()'s block end (the module's finishRingBlock():
// K_R and the suffix sums), and the rows of a block without a finite row yet,
// the first finite one re-shifting the suffix sums onto K_L (reshiftRing()).
// No state goes to WASM and back for them. Only these go through the module's
// pushValue: a kernel's first WARM_UP_ROWS rows (row-step-kernel.ts), extreme
// and ±Inf rows and every row while the window holds one (scaledVariance()).
import type { KernelInstance } from './engine.js';
import { HeldRowKernel, notANumber, UNLOADED } from './row-step-kernel.js';
import type { KernelPlan } from './spec.js';
import type { NormalizedSpec } from './types.js';
import type { WasmKernel } from './wasm-kernel.js';

const OP_STD = 1;

// The state's fields, byte offsets from its start (var.ts S_*).
const S_POS = 32; // i32: offset of the next row in its block
const S_SUB_LEFT = 36; // i32: rows left in the sub-block
const S_FINITE = 40; // i32: finite rows in the window
const S_INFINITE = 44; // i32: ±Inf rows in the window
const S_PREFIX_N = 48; // i32: finite rows in the block so far
const S_SUB_LEN = 52; // i32: sub-block length
const S_SHIFT_L = 56; // f64: K_L, the block's first finite row
const S_SHIFT_R = 64; // f64: K_R, the previous block's last finite row
const S_SUB1 = 72; // f64: Σ(x − K_L), current sub-block
const S_BLOCK1 = 80; // f64: Σ(x − K_L), finished sub-blocks
const S_SUB2 = 88; // f64: Σ(x − K_L)², current sub-block
const S_BLOCK2 = 96; // f64: Σ(x − K_L)², finished sub-blocks
const S_EXTREME = 104; // i32: extreme rows in the window
const S_RING = 112; // f64 × W: the rows; then the suffix sums Σ(x − K)[W + 1], Σ(x − K)²[W + 1]

/** 2⁴⁰¹ and 2⁻⁴⁰⁰ (var.ts BIG, TINY): |x| outside [2⁻⁴⁰⁰, 2⁴⁰¹) and nonzero is extreme (or ±Inf). */
const BIG = 2 ** 401;
const TINY = 2 ** -400;

/** Runs of the rare path before the first row (warmRarePath), once per process. */
const RARE_PATH_WARM_UP_RUNS = 16;
let rarePathWarmed = false;

/** True once a kernel of this module has run its rare path in JavaScript before its first row (warmRarePath; for tests). */
export function rarePathWarmedUp(): boolean {
  return rarePathWarmed;
}

/** The var module's exports beyond the ABI that every module shares (engine.ts KernelExports). */
interface VarExports {
  finishRingBlock(): void;
  reshiftRing(pos: number, shiftL: number): void;
}

/**
 * Below this window, blocks end so often that the rows are cheaper in WASM (measured when each
 * block's last and first finite rows were a write-back and a reload of the fields around a WASM row;
 * not measured again since they run here: ns of CPU a row, var, JS step against WASM: w=16 20.4–22.6 vs 20.2–20.3; w=32
 * 16.5–16.6 vs 18.2–18.7; w=64 14.4–14.5 vs 17.2–25.0).
 */
export const VAR_ROW_STEP_MIN_WINDOW = 32;

abstract class RollingVarKernel extends HeldRowKernel {
  // Declared with a number: a field first defined as undefined keeps a tagged representation (a check on every row).
  private readonly window: number = 0;
  protected readonly minPeriods: number = 0;
  protected readonly ddof: number = 0;
  // Places in `f64` (all of memory), in f64 elements.
  private ring = 0;
  /** The next row's place in the ring. */
  private slot = -1;
  /** The place of the next row that runs in WASM: the block's last, or the next row when the state has no fast row or the kernel is cold. */
  private edge = -1;
  /** The place just past the sub-block. */
  private subEnd = 0;
  private subLength = 0;
  private finite = 0;
  private prefixN = 0;
  // Doubles from the start (UNLOADED): see row-step-kernel.ts.
  private shiftL = UNLOADED;
  private sub1 = UNLOADED;
  private sub2 = UNLOADED;
  private block1 = UNLOADED;
  private block2 = UNLOADED;
  /** 1 / (n·(n − ddof)) for n = scaleN (a pure function of n: the same bits as var.ts computing it per row). */
  private scaleN = -1;
  private scale = UNLOADED;
  /** The module's exports for the block's rare rows (var.ts finishRingBlock(), reshiftRing()), read once like `step`. */
  private readonly finishRingBlock: () => void;
  private readonly reshiftRing: (pos: number, shiftL: number) => void;
  /** The window holds a ±Inf or an extreme row: every row runs in WASM (scaledVariance()) until it has left. */
  private special = false;

  constructor(spec: NormalizedSpec, plan: KernelPlan, instance: KernelInstance) {
    super(spec, plan, instance);
    this.window = plan.window;
    this.minPeriods = plan.minPeriods;
    this.ddof = plan.p0;
    const exports = instance.exports as unknown as VarExports;
    this.finishRingBlock = exports.finishRingBlock;
    this.reshiftRing = exports.reshiftRing;
    this.warmRarePath();
  }

  override pushValue(x: number): number {
    if (typeof x !== 'number') notANumber(x);
    const slot = this.slot;
    const a = Math.abs(x);
    // One call site for every rare row (rowInWasm): the edge (the block's last row, the next row
    // when the state has no fast row, or the first after the state was released: both are then -1),
    // and extreme or ±Inf rows (NaN is neither). `+`: where V8 does not inline rowInWasm (it had
    // optimized code of its own first), its result is tagged; unconverted, pushValue's result was
    // tagged too and every row's result boxed (test/row-step-boxing.test.ts).
    if (slot === this.edge || a >= BIG || (a < TINY && a !== 0)) return +this.rowInWasm(x);
    return this.row(x, slot);
  }

  /**
   * The rare row (row-step-kernel.ts). While the state is held, the kernel warm and the
   * window and the row ordinary, it runs here, as var.ts update() runs it: the block's
   * first finite row fixes K_L and re-shifts the suffix sums onto it, the row is the JS
   * row, and the block's last row ends the block (finishRingBlock()). No state goes to
   * WASM and back: that round trip (store, the module's pushValue, load) ran twice a block,
   * and V8 inlined its parts into the caller's loop one way or another by compile timing.
   */
  protected override rowInWasm(x: number): number {
    return this.held === true && this.coldRows === 0 && !this.special ? this.rareRowHere(x) : super.rowInWasm(x);
  }

  /**
   * rowInWasm()'s row here, in a method of its own: where V8 does not optimize rowInWasm
   * (test/row-step-boxing.test.ts forces that), the doubles of this path would be boxed
   * there; here they are not.
   */
  private rareRowHere(x: number): number {
    const a = Math.abs(x);
    if (a >= BIG || (a < TINY && a !== 0)) return super.rowInWasm(x);
    const slot = this.slot;
    if (this.prefixN === 0 && x === x) {
      this.shiftL = x;
      this.reshiftRing(slot - this.ring, x);
    }
    const y = this.row(x, slot);
    const blockEnd = this.ring + this.window;
    if (this.slot === blockEnd) this.endBlock();
    this.edge = this.prefixN > 0 ? blockEnd - 1 : this.slot;
    return y;
  }

  /** update()'s block end: the module's finishRingBlock() (K_R and the suffix sums, in WASM), then a block's start. */
  private endBlock(): void {
    this.finishRingBlock();
    const ring = this.ring;
    this.slot = ring;
    this.subEnd = ring + this.subLength;
    this.prefixN = 0;
    this.shiftL = 0;
    this.block1 = 0;
    this.block2 = 0;
    this.sub1 = 0;
    this.sub2 = 0;
  }

  /**
   * Runs the rare path above, on the process's first kernel of this module, and undoes
   * it: V8 then has type feedback for it before TurboFan compiles pushValue (as
   * row-step-sum.ts warmBlockEnd(): with a window of 10 000 its first use would come after
   * the compile, an eager deopt there). Each run is a block's first finite row at offset
   * W − 2, with a finite row after it to re-shift, then the block's last row. The ring's
   * last two rows, the suffix sums and K_R are saved and put back; the held fields are
   * read back by take() and let go unchanged.
   */
  private warmRarePath(): void {
    if (rarePathWarmed) return;
    rarePathWarmed = true;
    this.take();
    const coldRows = this.coldRows;
    const special = this.special;
    this.coldRows = 0;
    this.special = false;
    const f64 = this.f64;
    const first = this.ring + this.window - 2;
    const saved = f64.slice(first, first + 2 * this.window + 4);
    const shiftR = f64[(this.s + S_SHIFT_R) >>> 3]!;
    for (let run = 0; run < RARE_PATH_WARM_UP_RUNS; run++) {
      f64[first + 1] = 2.5;
      this.slot = first;
      this.subEnd = first + 2;
      this.prefixN = 0;
      this.rowInWasm(1.5);
      this.rowInWasm(0 / 0);
    }
    f64.set(saved, first);
    f64[(this.s + S_SHIFT_R) >>> 3] = shiftR;
    this.coldRows = coldRows;
    this.special = special;
    this.take();
    this.live();
  }

  /**
   * The op's result from the window's sums S1, S2 over n finite rows. An override per op, not a
   * `std` field tested per row: the field's test cost ~1 ns a row (std w=100, 15.3 → 16.4 ns).
   */
  protected abstract result(nm2: number, scale: number): number;

  /** var.ts pushValue()'s fast row, then update()'s sub-block end. */
  private row(x: number, slot: number): number {
    const f64 = this.f64;
    const old = f64[slot]!;
    f64[slot] = x;
    const isFiniteRow = x === x; // no ±Inf here: not NaN is finite
    const finite = (this.finite + (isFiniteRow ? 1 : 0) - (old === old ? 1 : 0)) | 0; // | 0: int32, no overflow checks
    this.finite = finite;
    this.prefixN = (this.prefixN + (isFiniteRow ? 1 : 0)) | 0;
    const y = isFiniteRow ? x - this.shiftL : 0;
    const sub1 = this.sub1 + y;
    const sub2 = this.sub2 + y * y;
    const window = this.window;
    const s1 = f64[slot + window + 1]! + (this.block1 + sub1);
    const s2 = f64[slot + 2 * window + 2]! + (this.block2 + sub2);
    const next = slot + 1;
    this.slot = next;
    if (next === this.subEnd) {
      // update()'s sub-block end: the block's sums take the sub-block's.
      this.block1 += sub1;
      this.block2 += sub2;
      this.sub1 = 0;
      this.sub2 = 0;
      this.subEnd = next + this.subLength;
    } else {
      this.sub1 = sub1;
      this.sub2 = sub2;
    }
    if (finite !== this.scaleN) {
      this.scaleN = finite;
      this.scale = 1 / (finite * (finite - this.ddof));
    }
    if (!(finite >= this.minPeriods && finite - this.ddof > 0)) return 0 / 0;
    // varianceOf(): n·S2 − S1², clamped at 0.
    let nm2 = finite * s2 - s1 * s1;
    if (!(nm2 > 0)) nm2 = 0;
    return this.result(nm2, this.scale);
  }

  protected load(f64: Float64Array, i32: Int32Array, s: number): void {
    const pos = i32[(s + S_POS) >>> 2]!;
    this.ring = (s + S_RING) >>> 3;
    this.slot = this.ring + pos;
    this.subEnd = this.slot + i32[(s + S_SUB_LEFT) >>> 2]!;
    this.subLength = i32[(s + S_SUB_LEN) >>> 2]!;
    this.finite = i32[(s + S_FINITE) >>> 2]!;
    this.prefixN = i32[(s + S_PREFIX_N) >>> 2]!;
    this.shiftL = f64[(s + S_SHIFT_L) >>> 3]!;
    this.sub1 = f64[(s + S_SUB1) >>> 3]!;
    this.block1 = f64[(s + S_BLOCK1) >>> 3]!;
    this.sub2 = f64[(s + S_SUB2) >>> 3]!;
    this.block2 = f64[(s + S_BLOCK2) >>> 3]!;
    // The rare path (rowInWasm) takes these: K_L not fixed yet, or a ±Inf or extreme row in the window (WASM).
    this.special = i32[(s + S_INFINITE) >>> 2] !== 0 || i32[(s + S_EXTREME) >>> 2] !== 0;
    const fast = this.prefixN > 0 && !this.special;
    this.edge = fast && this.coldRows === 0 ? this.ring + this.window - 1 : this.slot;
  }

  protected store(f64: Float64Array, i32: Int32Array, s: number): void {
    // JS rows change no ±Inf or extreme count (K_R and the suffix sums are written in place).
    i32[(s + S_POS) >>> 2] = this.slot - this.ring;
    i32[(s + S_SUB_LEFT) >>> 2] = this.subEnd - this.slot;
    i32[(s + S_FINITE) >>> 2] = this.finite;
    i32[(s + S_PREFIX_N) >>> 2] = this.prefixN;
    f64[(s + S_SHIFT_L) >>> 3] = this.shiftL;
    f64[(s + S_SUB1) >>> 3] = this.sub1;
    f64[(s + S_BLOCK1) >>> 3] = this.block1;
    f64[(s + S_SUB2) >>> 3] = this.sub2;
    f64[(s + S_BLOCK2) >>> 3] = this.block2;
    this.release();
  }

  protected override forgetViews(): void {
    super.forgetViews();
    this.release();
  }

  /** Not held: the next row takes the state (pushValue's one test sees slot === edge). */
  private release(): void {
    this.slot = -1;
    this.edge = -1;
  }
}

// One class per op, so that each row runs only its op's operations.

class VarRowKernel extends RollingVarKernel {
  protected result(nm2: number, scale: number): number {
    return nm2 * scale;
  }
}

class StdRowKernel extends RollingVarKernel {
  protected result(nm2: number, scale: number): number {
    return Math.sqrt(nm2 * scale);
  }
}

/** The row-step kernel of a var module plan. */
export function rollingVarKernel(spec: NormalizedSpec, plan: KernelPlan, instance: KernelInstance): WasmKernel {
  if (plan.code === OP_STD) return new StdRowKernel(spec, plan, instance);
  return new VarRowKernel(spec, plan, instance);
}
