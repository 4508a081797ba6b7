// Every public type of streamkernel, in one place.

/** The window aggregates over count windows. */
export type RollingOp = 'sum' | 'mean' | 'var' | 'std' | 'min' | 'max' | 'count' | 'median' | 'quantile';

/**
 * A rolling aggregate over a trailing count window, with pandas'
 * `Series.rolling(window, min_periods)` semantics: the window holds the last
 * `window` rows including the current one, NaN is missing, and ±Infinity are
 * values.
 *
 * @example
 * ```ts
 * const spec: RollingSpec = { op: 'std', window: 20, minPeriods: 2 };
 * ```
 */
export interface RollingSpec {
  /** The aggregate. */
  op: RollingOp;
  /** Rows in the window: an integer from 1 to {@link MAX_WINDOW}. */
  window: number;
  /**
   * Non-NaN rows a window needs for a result; with fewer, the result is NaN.
   * An integer from 0 to `window`.
   * @default window
   */
  minPeriods?: number;
  /**
   * Delta degrees of freedom of `var` and `std`: the divisor is `n - ddof`.
   * A non-negative integer. Only for `var` and `std`.
   * @default 1
   */
  ddof?: number;
  /**
   * The quantile of `quantile`, in [0, 1], with pandas' linear interpolation.
   * Required for `quantile`, not allowed elsewhere.
   */
  q?: number;
}

/**
 * An exponentially weighted mean with pandas' `Series.ewm(...).mean()`
 * semantics (`ignore_na=False`). Give exactly one of `alpha`, `span`,
 * `halflife` and `com`.
 *
 * @example
 * ```ts
 * const spec: EwmSpec = { span: 10, adjust: false };
 * ```
 */
export interface EwmSpec {
  /** Smoothing factor, in (0, 1]. */
  alpha?: number;
  /** Span, ≥ 1: alpha = 2 / (span + 1). */
  span?: number;
  /** Half-life in rows, > 0: alpha = 1 − exp(ln(0.5) / halflife). */
  halflife?: number;
  /** Center of mass, ≥ 0: alpha = 1 / (1 + com). */
  com?: number;
  /**
   * Divide by the decaying sum of weights (pandas' `adjust=True`) rather than
   * use the recursive form.
   * @default true
   */
  adjust?: boolean;
  /**
   * Non-NaN rows seen before a result is given; earlier results are NaN.
   * @default 0
   */
  minPeriods?: number;
}

/** An {@link EwmSpec} for {@link createKernel}, marked by its op. */
export interface EwmKernelSpec extends EwmSpec {
  /** Always `'ewm'`. */
  op: 'ewm';
}

/** What {@link createKernel} builds: a rolling aggregate or an exponentially weighted mean. */
export type KernelSpec = RollingSpec | EwmKernelSpec;

/**
 * A streaming kernel: state lives in WebAssembly memory and carries from
 * batch to batch. Cutting a stream into batches never changes the output.
 */
export interface Kernel {
  /** The normalized spec this kernel runs (every default filled in; ewm with `com` and `alpha`). */
  readonly spec: Readonly<NormalizedSpec>;
  /**
   * Processes the next rows of the stream and returns one result per row.
   * With `out` (at least `batch.length` long), writes the results there and
   * allocates no result array; otherwise returns a new `Float64Array`.
   */
  push(batch: Float64Array, out?: Float64Array): Float64Array;
  /**
   * Zero-copy ingest: a view of the kernel's input buffer in WASM memory,
   * `length` rows long, for the caller to fill before {@link Kernel.pushInput}.
   * The view is valid until the next call on this kernel.
   */
  inputBuffer(length: number): Float64Array;
  /**
   * Processes the first `length` rows written into {@link Kernel.inputBuffer}
   * and returns a view of the results in WASM memory, valid until the next
   * call on this kernel.
   */
  pushInput(length: number): Float64Array;
  /** The kernel's state as compact, versioned, checksummed bytes for {@link restoreKernel}. */
  snapshot(): Uint8Array;
  /** Forgets every row seen, as if newly created. */
  reset(): void;
  /** Releases the kernel's WASM instance; any later call throws. */
  dispose(): void;
}

/** A {@link RollingSpec} with every default filled in. */
export interface NormalizedRollingSpec {
  /** The aggregate. */
  op: RollingOp;
  /** Rows in the window. */
  window: number;
  /** Non-NaN rows a window needs for a result. */
  minPeriods: number;
  /** Delta degrees of freedom; present for `var` and `std` only. */
  ddof?: number;
  /** The quantile; present for `quantile` only. */
  q?: number;
}

/** An {@link EwmSpec} with every default filled in and the decay as a centre of mass. */
export interface NormalizedEwmSpec {
  /** Always `'ewm'`. */
  op: 'ewm';
  /** Centre of mass: pandas derives the weights from it, and so does streamkernel. */
  com: number;
  /** The effective smoothing factor, 1 / (1 + com). */
  alpha: number;
  /** pandas' `adjust`. */
  adjust: boolean;
  /** Non-NaN rows seen before a result is given. */
  minPeriods: number;
}

/** A {@link KernelSpec} with every default filled in. */
export type NormalizedSpec = NormalizedRollingSpec | NormalizedEwmSpec;

/** Why a snapshot was refused: see {@link SnapshotError}. */
export type SnapshotErrorCode =
  | 'BAD_LENGTH'
  | 'BAD_MAGIC'
  | 'UNSUPPORTED_VERSION'
  | 'CHECKSUM_MISMATCH'
  | 'OTHER_BUILD'
  | 'OP_MISMATCH'
  | 'BAD_PARAMETERS'
  | 'BAD_STATE';

/** The largest window a kernel accepts, in rows (2²⁴). */
export const MAX_WINDOW = 16_777_216;
