// Every public type of streamkernel, in one place.

/** The window aggregates over count windows. */
export type RollingOp = 'sum' | 'mean' | 'var' | 'std' | 'min' | 'max' | 'count' | 'median' | 'quantile';

/** The part of a {@link RollingSpec} that every op has. */
export interface RollingWindow {
  /** Rows in the window: an integer from 1 to {@link MAX_WINDOW}. */
  window: number;
  /**
   * Non-NaN rows a window needs for a result; with fewer, the result is NaN.
   * An integer from 0 to `window`.
   * @default window
   */
  minPeriods?: number;
}

/** A rolling op with no parameter of its own (no `ddof`, no `q`). */
export interface PlainRollingSpec extends RollingWindow {
  /** The aggregate. */
  op: 'sum' | 'mean' | 'min' | 'max' | 'count' | 'median';
  /** Only for `var` and `std`. */
  ddof?: never;
  /** Only for `quantile`. */
  q?: never;
}

/** Rolling `var` or `std`. */
export interface VarRollingSpec extends RollingWindow {
  /** The aggregate. */
  op: 'var' | 'std';
  /**
   * Delta degrees of freedom: the divisor is `n - ddof`. A non-negative integer.
   * @default 1
   */
  ddof?: number;
  /** Only for `quantile`. */
  q?: never;
}

/** Rolling `quantile`: `q` is required. */
export interface QuantileRollingSpec extends RollingWindow {
  /** The aggregate. */
  op: 'quantile';
  /** The quantile, in [0, 1], with pandas' linear interpolation. */
  q: number;
  /** Only for `var` and `std`. */
  ddof?: never;
}

/**
 * What an ewm spec computes: pandas' `Series.ewm(...).mean()`, `.var()`
 * (`bias=False`) or `.std()` (`bias=False`).
 */
export type EwmStat = 'mean' | 'var' | 'std';

/**
 * A rolling aggregate over a trailing count window, with pandas'
 * `Series.rolling(window, min_periods)` semantics: the window holds the last
 * `window` rows including the current one, NaN is missing, and ±Infinity are
 * values. A union by `op`, so that `quantile` without `q`, or `q` or `ddof`
 * on an op without it, is a compile error (and, for JavaScript, a run-time
 * `TypeError` still).
 *
 * @example
 * ```ts
 * const spec: RollingSpec = { op: 'std', window: 20, minPeriods: 2 };
 * ```
 */
export type RollingSpec = PlainRollingSpec | VarRollingSpec | QuantileRollingSpec;

/**
 * A {@link RollingSpec}'s fields without the union's pairing of op and
 * parameters: for code that assembles a spec from input known only at run
 * time (the CLI's flags), which `normalizeSpec` then checks. Not exported
 * from the package.
 */
export interface RollingSpecFields extends RollingWindow {
  op: RollingOp;
  ddof?: number;
  q?: number;
}

/** The options of an {@link EwmSpec} besides its decay. */
export interface EwmOptions {
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
  /**
   * The statistic: the weighted mean, or pandas' unbiased weighted variance
   * (`ewm(...).var(bias=False)`) or its square root (`.std()`).
   * @default 'mean'
   */
  stat?: EwmStat;
}

/** The decay of an {@link EwmSpec}: exactly one of `alpha`, `span`, `halflife`, `com`. */
export type EwmDecay =
  | {
      /** Smoothing factor, in (0, 1]. */
      alpha: number;
      /** Not with `alpha`: give exactly one decay. */
      span?: never;
      /** Not with `alpha`: give exactly one decay. */
      halflife?: never;
      /** Not with `alpha`: give exactly one decay. */
      com?: never;
    }
  | {
      /** Span, ≥ 1: alpha = 2 / (span + 1). */
      span: number;
      /** Not with `span`: give exactly one decay. */
      alpha?: never;
      /** Not with `span`: give exactly one decay. */
      halflife?: never;
      /** Not with `span`: give exactly one decay. */
      com?: never;
    }
  | {
      /** Half-life in rows, > 0: alpha = 1 − exp(ln(0.5) / halflife). */
      halflife: number;
      /** Not with `halflife`: give exactly one decay. */
      alpha?: never;
      /** Not with `halflife`: give exactly one decay. */
      span?: never;
      /** Not with `halflife`: give exactly one decay. */
      com?: never;
    }
  | {
      /** Center of mass, ≥ 0: alpha = 1 / (1 + com). */
      com: number;
      /** Not with `com`: give exactly one decay. */
      alpha?: never;
      /** Not with `com`: give exactly one decay. */
      span?: never;
      /** Not with `com`: give exactly one decay. */
      halflife?: never;
    };

/**
 * An exponentially weighted mean, variance or standard deviation with
 * pandas' `Series.ewm(...).mean()` / `.var()` / `.std()` semantics
 * (`ignore_na=False`, `bias=False`; see `stat`). Give exactly one of `alpha`, `span`,
 * `halflife` and `com` (none, or two, is a compile error, and a run-time
 * `TypeError` for JavaScript).
 *
 * @example
 * ```ts
 * const spec: EwmSpec = { span: 10, adjust: false };
 * ```
 */
export type EwmSpec = EwmOptions & EwmDecay;

/**
 * An {@link EwmSpec} for {@link createKernel}, marked by its op (`op: 'ewm'`).
 *
 * @example
 * ```ts
 * const spec: EwmKernelSpec = { op: 'ewm', halflife: 5 };
 * ```
 */
export type EwmKernelSpec = EwmSpec & {
  /** Always `'ewm'`. */
  op: 'ewm';
};

/**
 * What {@link createKernel} builds: a rolling aggregate or an exponentially weighted mean.
 *
 * @example
 * ```ts
 * const specs: KernelSpec[] = [{ op: 'median', window: 50 }, { op: 'ewm', alpha: 0.1 }];
 * ```
 */
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
   * Processes one row and returns its result: the scalar path for rows that
   * arrive one at a time. The same result and state, bit for bit, as `push`
   * of a batch holding that row alone, so calls of both may interleave freely.
   * Throws `TypeError` for a value that is not a number.
   */
  pushValue(value: number): number;
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
  /** The statistic; present for `'var'` and `'std'` only (absent is the mean). */
  stat?: EwmStat;
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

// ===========================================================================
// Event-time and keyed windows (src/time/). Everything below belongs to the
// time-window layer; see docs/TIME-WINDOWS.md.
// ===========================================================================

/** The aggregates of the time-window layer: every rolling op plus `first` and `last` (the first/last non-NaN value by event time). */
export type TimeOp = RollingOp | 'first' | 'last';

/**
 * A duration in milliseconds: a non-negative number, or a string of one or
 * more `<number><unit>` parts with units `ms`, `s`, `m`, `h`, `d`
 * (`'250ms'`, `'5s'`, `'1m30s'`, `'1.5h'`).
 *
 * @example
 * ```ts
 * const d: Duration = '1m30s'; // 90 000 ms
 * ```
 */
export type Duration = number | DurationText;

/** A unit of a {@link DurationText}. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';
/** One `<number><unit>` part of a {@link DurationText}: `'5s'`, `'250ms'`. */
export type DurationPart = `${number}${DurationUnit}`;
/**
 * A duration as text, one to three `<number><unit>` parts (`'5s'`, `'1m30s'`,
 * `'1h2m3s'`): a typo such as `'five seconds'` or `'5 s'` is a compile error.
 * Text known only at run time (command-line flags, say) is checked when the
 * spec is: pass it `as DurationText`, or parse it first with `parseDuration`.
 */
export type DurationText = DurationPart | `${DurationPart}${DurationPart}` | `${DurationPart}${DurationPart}${DurationPart}`;

/** Which rows a duration window `(t − d, t]` holds at each end, as pandas' `closed`. */
export type ClosedSide = 'right' | 'left' | 'both' | 'neither';

/** How rows are keyed: not at all, by `Uint32Array` ids, or by strings mapped to ids. */
export type KeyMode = 'none' | 'number' | 'string';

/** Keys of a batch: one per row. `Uint32Array` (or numbers) in `'number'` mode, strings in `'string'` mode. */
export type BatchKeys = Uint32Array | readonly number[] | readonly string[];

/** The aggregate part shared by every time-window spec. */
export interface TimeAggregate {
  /** The aggregate. */
  op: TimeOp;
  /**
   * Delta degrees of freedom of `var` and `std`: the divisor is `n − ddof`.
   * Only for `var` and `std`.
   * @default 1
   */
  ddof?: number;
  /** The quantile of `quantile`, in [0, 1], with pandas' linear interpolation. Required for `quantile`. */
  q?: number;
  /**
   * How rows are keyed. `'none'`: one series (push no keys). `'number'`:
   * `Uint32Array` keys. `'string'`: string keys, mapped to ids by the
   * TypeScript layer (the mapping is kept for the life of the operator).
   * @default 'none'
   */
  keys?: KeyMode;
}

/**
 * Rolling aggregate over a trailing duration, one output per input row:
 * pandas' `df.rolling('5s', on='ts')` (per key: `df.groupby(key).rolling(...)`).
 *
 * @example
 * ```ts
 * const spec: DurationRollingSpec = { op: 'mean', window: '5s', keys: 'number' };
 * ```
 */
export interface DurationRollingSpec extends TimeAggregate {
  /** Window length: a {@link Duration} > 0. */
  window: Duration;
  /**
   * Which ends of `(t − window, t]` are in the window: `'right'` `(t−d, t]`,
   * `'left'` `[t−d, t)`, `'both'` `[t−d, t]`, `'neither'` `(t−d, t)`. As in
   * pandas, rows before the current one with the same timestamp are always in
   * its window; only the current row itself is left out by `'left'`/`'neither'`.
   * @default 'right'
   */
  closed?: ClosedSide;
  /**
   * Non-NaN rows a window needs for a result; with fewer, the result is NaN.
   * @default 1
   */
  minPeriods?: number;
  /**
   * How far a key's timestamps may go backwards. 0: each key's timestamps
   * must be non-decreasing and every row's result comes back in the same
   * `push`. Greater: rows are held until the key's greatest timestamp minus
   * this bound passes them, then processed in timestamp order (ties in
   * arrival order); results come back when released, tagged with their row.
   * A row further back than the bound is an error naming the row.
   * @default 0
   */
  maxOutOfOrderness?: Duration;
  /**
   * Idle keys are forgotten: a key whose last row is more than `ttl` behind
   * the greatest timestamp seen (over all keys) starts afresh at its next row,
   * and its memory is reclaimed. Infinity keeps every key.
   * @default Infinity
   */
  ttl?: Duration;
}

/**
 * The watermark and lateness options shared by the event-time window kinds.
 *
 * @example
 * ```ts
 * const options: EventTimeOptions = { maxOutOfOrderness: '5s', allowedLateness: '1m', minPeriods: 1 };
 * ```
 */
export interface EventTimeOptions {
  /**
   * The watermark is the greatest timestamp seen minus this bound: rows at
   * most this far behind it are placed in their windows as if in order.
   * @default 0
   */
  maxOutOfOrderness?: Duration;
  /**
   * How long after its end (by the watermark) a window can still take late
   * rows; each late row re-emits it with `update: true`. Later rows go to the
   * late side output.
   * @default 0
   */
  allowedLateness?: Duration;
  /**
   * Non-NaN rows a window needs for a value; with fewer the value is NaN
   * (with 0, an all-NaN window has sum 0 and count 0, as pandas' `resample`).
   * @default 0
   */
  minPeriods?: number;
}

/**
 * Tumbling windows `[start, start + size)` with `start` a multiple of `size`
 * plus `offset` (epoch-aligned): pandas' `resample(size, offset=...)`.
 *
 * @example
 * ```ts
 * const spec: TumblingSpec = { kind: 'tumbling', op: 'sum', size: '1m', allowedLateness: '10s' };
 * ```
 */
export interface TumblingSpec extends TimeAggregate, EventTimeOptions {
  /** Always `'tumbling'`. */
  kind: 'tumbling';
  /** Window length, a {@link Duration} > 0. */
  size: Duration;
  /**
   * Shift of the window grid from the epoch.
   * @default 0
   */
  offset?: Duration;
}

/**
 * Hopping (sliding) windows of `size` starting every `step` (aligned to the
 * epoch plus `offset`); a row belongs to every window that holds it.
 *
 * @example
 * ```ts
 * const spec: HoppingSpec = { kind: 'hopping', op: 'max', size: '1m', step: '10s' };
 * ```
 */
export interface HoppingSpec extends TimeAggregate, EventTimeOptions {
  /** Always `'hopping'`. */
  kind: 'hopping';
  /** Window length, a {@link Duration} > 0. */
  size: Duration;
  /** Distance between window starts, a {@link Duration} > 0 (at most 10 000 windows per row). */
  step: Duration;
  /**
   * Shift of the window grid from the epoch.
   * @default 0
   */
  offset?: Duration;
}

/**
 * Session windows per key: rows less than `gap` apart are in one session
 * `[first row, last row + gap)`; a late row that bridges two sessions merges
 * them.
 *
 * @example
 * ```ts
 * const spec: SessionSpec = { kind: 'session', op: 'count', gap: '30m', keys: 'string' };
 * ```
 */
export interface SessionSpec extends TimeAggregate, EventTimeOptions {
  /** Always `'session'`. */
  kind: 'session';
  /** Inactivity that closes a session, a {@link Duration} > 0. */
  gap: Duration;
}

/**
 * An event-time window spec for {@link createWindows}, told apart by `kind`.
 *
 * @example
 * ```ts
 * const spec: WindowSpec = { kind: 'session', op: 'sum', gap: '5m', maxOutOfOrderness: '2s' };
 * ```
 */
export type WindowSpec = TumblingSpec | HoppingSpec | SessionSpec;

/**
 * Count-based tumbling (`step` = `size`) or hopping windows, per key in
 * arrival order: window j holds a key's rows `[j·step, j·step + size)`.
 *
 * @example
 * ```ts
 * const spec: CountWindowSpec = { op: 'mean', size: 100, step: 50, keys: 'number' };
 * ```
 */
export interface CountWindowSpec extends TimeAggregate {
  /** Rows per window, an integer ≥ 1. */
  size: number;
  /**
   * Rows between window starts, an integer ≥ 1.
   * @default size
   */
  step?: number;
  /**
   * Non-NaN rows a window needs for a value.
   * @default 0
   */
  minPeriods?: number;
}

/** One emitted window. */
export interface WindowResult {
  /** The key (0 when unkeyed; the string in `'string'` mode). */
  key: number | string;
  /** Start of the window (ms; for count windows the key's row number). */
  start: number;
  /** End of the window, exclusive (ms; for count windows the row number after its last row). */
  end: number;
  /** The aggregate. */
  value: number;
  /** Non-NaN rows in the window. */
  count: number;
  /** True when this window was emitted before and a late row changed it. */
  update: boolean;
  /** Session windows only: earlier emitted sessions this one merged and replaces. */
  replaces?: {
    /** Start of the replaced session (ms). */
    start: number;
    /** End of the replaced session, exclusive (ms). */
    end: number;
  }[];
}

/** A row that reached no window because its windows had closed for good. */
export interface LateRow {
  /** The row's number in the stream (0-based, over every push). */
  row: number;
  /** The row's key (0 when unkeyed; the string in `'string'` mode). */
  key: number | string;
  /** The row's event timestamp (ms). */
  ts: number;
  /** The row's value. */
  value: number;
  /** Windows the row missed (a hopping row may miss some of its windows and reach others). */
  missed: number;
}

/**
 * Windows as columns (`pushColumns`, `flushColumns`): window i of the
 * emission order is `keys[i]`, `start[i]`, … — the same windows, in the same
 * order and with the same values as `push`/`flush`'s objects, with no object
 * per window. Session windows' `replaces` come as columns too (`replaced`).
 */
export interface WindowColumns {
  /** Windows emitted. */
  length: number;
  /** Key ids: the key in `'number'` mode, 0 unkeyed; in `'string'` mode the id whose name is `keyNames[id]`. */
  keys: Uint32Array;
  /** Start of each window (ms). */
  start: Float64Array;
  /** End of each window, exclusive (ms). */
  end: Float64Array;
  /** The aggregate of each window. */
  value: Float64Array;
  /** Non-NaN rows in the window. */
  count: Float64Array;
  /** 1 when the window was emitted before and a late row changed it. */
  update: Uint8Array;
  /** `'string'` keys: the operator's names by id (it grows with new keys); undefined otherwise. */
  keyNames: readonly string[] | undefined;
  /** The late side output, as `push`'s. */
  late: LateRow[];
  /**
   * Session windows: the earlier emitted sessions that windows replace (their
   * results' `replaces`, in that order), entry j replaced by window
   * `replaced.window[j]` (ascending); empty (`length` 0) for tumbling and hopping.
   */
  replaced: ReplacedColumns;
}

/** The `replaces` of windows as columns: entry j is the range [start[j], end[j]) that window `window[j]` replaces. */
export interface ReplacedColumns {
  /** Entries. */
  length: number;
  /** The index of the replacing window in the columns (ascending). */
  window: Uint32Array;
  /** Start of the replaced session (ms). */
  start: Float64Array;
  /** End of the replaced session, exclusive (ms). */
  end: Float64Array;
}

/** What a window operator returns from `push` and `flush`. */
export interface WindowOutput {
  /** Windows emitted, in order of emission. */
  windows: WindowResult[];
  /** The late side output: rows that missed a window; never dropped silently. */
  late: LateRow[];
}

/** What a duration-rolling operator returns: one result per released row. */
export interface RollingOutput {
  /** Stream row numbers (0-based over every push) of the results, in release order. */
  rows: Float64Array;
  /** The results, `values[i]` for row `rows[i]`. */
  values: Float64Array;
}

/** A spec that names its key mode (the shape {@link KeyModeOf} reads). */
export interface WithKeyMode<K extends KeyMode> {
  /** The spec's key mode. */
  keys: K;
}

/** The key mode a spec asks for: its `keys`, or `'none'` when it names none. */
export type KeyModeOf<S> = 'keys' extends keyof S ? (S extends WithKeyMode<infer K extends KeyMode> ? K : KeyMode) : 'none';

/**
 * The keys a `push` takes in key mode `K`: none when unkeyed (so keys
 * pushed to an unkeyed operator are a compile error), ids in `'number'`
 * mode, strings in `'string'` mode, either when the mode is known only at
 * run time.
 */
export type PushKeys<K extends KeyMode = KeyMode> = [K] extends ['none'] ? [] : [K] extends ['number'] ? [keys?: Uint32Array | readonly number[]] : [K] extends ['string'] ? [keys?: readonly string[]] : [keys?: BatchKeys];

/**
 * The key a one-row push takes in key mode `K`: none when unkeyed, an id in
 * `'number'` mode, a string in `'string'` mode, either when the mode is known
 * only at run time.
 */
export type RowKey<K extends KeyMode = KeyMode> = [K] extends ['none'] ? [] : [K] extends ['number'] ? [key: number] : [K] extends ['string'] ? [key: string] : [key?: number | string];

/** Rolling-by-duration operator: see {@link createTimeRolling}. `K`: its key mode. */
export interface TimeRolling<K extends KeyMode = KeyMode> {
  /** The normalized spec (durations in ms, defaults filled in). */
  readonly spec: Readonly<NormalizedDurationRollingSpec>;
  /** Number of live keys held in WASM memory. */
  readonly liveKeys: number;
  /**
   * Processes rows: `timestamps` in ms, `values`, and `keys` when keyed. All
   * rows are checked first; a bad row throws naming its index and nothing of
   * the batch is processed.
   */
  push(timestamps: Float64Array | readonly number[], values: Float64Array | readonly number[], ...keys: PushKeys<K>): RollingOutput;
  /**
   * One row (live streams): its result, with the same state, results and
   * snapshot as `push([time], [value], [key])`, without the arrays. Needs
   * `maxOutOfOrderness` 0 (a row held for reordering has no result yet:
   * use `push`). A bad row throws as `push` does and changes nothing.
   */
  pushRow(time: number, value: number, ...key: RowKey<K>): number;
  /**
   * `push` with the results written into `out`, an array the caller owns and
   * may reuse from batch to batch, instead of fresh columns: `out[i]` is the
   * result of the batch's row i (stream row: the rows pushed before it plus
   * i), with the same state, results and snapshot as `push`. `out` must be a
   * `Float64Array` of at least the batch's length that shares no memory with
   * the input columns; entries past the batch are left as they are. Returns
   * the batch's row count. Needs `maxOutOfOrderness` 0 (rows held for
   * reordering come out later and in another order: use `push`). A bad row
   * throws as `push` does; nothing of the batch is processed and `out` is
   * left as it was.
   *
   * @example
   * ```ts
   * const out = new Float64Array(4096);
   * const n = op.pushInto(ts, values, out, keys); // out[0 … n) hold the results
   * ```
   */
  pushInto(timestamps: Float64Array | readonly number[], values: Float64Array | readonly number[], out: Float64Array, ...keys: PushKeys<K>): number;
  /** End of stream: releases every row held for out-of-order arrival. */
  flush(): RollingOutput;
  /**
   * An idle timeout on a live stream (`maxOutOfOrderness` above 0): every
   * key's greatest timestamp advances by `ms`, as if each key had a row that
   * much later, and the held rows that passes are released with their
   * results. Later rows further behind are then out of bounds: the results
   * depend on when rows arrive, not only on the rows. The snapshot holds the
   * advanced times. Without held rows, it changes only those times.
   */
  idleAdvance(ms: number): RollingOutput;
  /** Every key's window, held rows and counters as versioned, checksummed bytes. */
  snapshot(): Uint8Array;
  /** Forgets everything, as if newly created. */
  reset(): void;
  /** Releases the WASM instance; later calls throw. */
  dispose(): void;
}

/** Event-time window operator: see {@link createWindows}. `K`: its key mode. */
export interface WindowOperator<K extends KeyMode = KeyMode> {
  /** The normalized spec (durations in ms, defaults filled in). */
  readonly spec: Readonly<NormalizedWindowSpec>;
  /** The current watermark (−Infinity before the first row). */
  readonly watermark: number;
  /** Rows sent to the late side output so far. */
  readonly lateCount: number;
  /** Processes rows and returns the windows that fired and the late rows. */
  push(timestamps: Float64Array | readonly number[], values: Float64Array | readonly number[], ...keys: PushKeys<K>): WindowOutput;
  /**
   * One row (live streams): the windows it fired and whether it was late,
   * with the same state, output and snapshot as `push([time], [value], [key])`.
   */
  pushRow(time: number, value: number, ...key: RowKey<K>): WindowOutput;
  /** End of stream: emits every window not emitted yet. Later pushes throw until `reset()`. */
  flush(): WindowOutput;
  /**
   * `push`, with the windows as columns (no object per window; the same
   * windows, order and state; a session's `replaces` in `replaced`).
   */
  pushColumns(timestamps: Float64Array | readonly number[], values: Float64Array | readonly number[], ...keys: PushKeys<K>): WindowColumns;
  /** `flush`, with the windows as columns. */
  flushColumns(): WindowColumns;
  /** Open windows, watermark, keys and counters as versioned, checksummed bytes for {@link restoreWindows}. */
  snapshot(): Uint8Array;
  /** Forgets everything (windows, keys, watermark, the ended state), as if newly created. */
  reset(): void;
  /** Drops the operator's state; any later call throws. */
  dispose(): void;
}

/** Count-window operator: see {@link createCountWindows}. `K`: its key mode. */
export interface CountWindowOperator<K extends KeyMode = KeyMode> {
  /** The normalized spec (defaults filled in). */
  readonly spec: Readonly<NormalizedCountWindowSpec>;
  /** Processes rows (in arrival order per key) and returns completed windows. */
  push(values: Float64Array | readonly number[], ...keys: PushKeys<K>): WindowOutput;
  /** End of stream: emits every partial window (its `end` tells how many rows it got). */
  flush(): WindowOutput;
  /** Every key's open windows, keys and counters as versioned, checksummed bytes for {@link restoreCountWindows}. */
  snapshot(): Uint8Array;
  /** Forgets everything (windows, keys, the ended state), as if newly created. */
  reset(): void;
  /** Drops the operator's state; any later call throws. */
  dispose(): void;
}

/** A {@link DurationRollingSpec} with durations in ms and defaults filled in. */
export interface NormalizedDurationRollingSpec {
  /** The aggregate. */
  op: TimeOp;
  /** Window length (ms, > 0). */
  window: number;
  /** Which ends of the window are in it. */
  closed: ClosedSide;
  /** Non-NaN rows a window needs for a result. */
  minPeriods: number;
  /** How far a key's timestamps may go backwards (ms; 0: in order). */
  maxOutOfOrderness: number;
  /** Idle time after which a key is forgotten (ms; Infinity: never). */
  ttl: number;
  /** How rows are keyed. */
  keys: KeyMode;
  /** Delta degrees of freedom; present for `var` and `std` only. */
  ddof?: number;
  /** The quantile; present for `quantile` only. */
  q?: number;
}

/** A {@link WindowSpec} with durations in ms and defaults filled in (`step` = `size` and `gap` = 0 where unused). */
export interface NormalizedWindowSpec {
  /** The window kind. */
  kind: 'tumbling' | 'hopping' | 'session';
  /** The aggregate. */
  op: TimeOp;
  /** Window length (ms); 0 for sessions. */
  size: number;
  /** Distance between window starts (ms): `size` for tumbling, 0 for sessions. */
  step: number;
  /** Shift of the window grid from the epoch (ms); 0 for sessions. */
  offset: number;
  /** Session gap (ms); 0 for tumbling and hopping. */
  gap: number;
  /** The watermark's bound behind the greatest timestamp seen (ms). */
  maxOutOfOrderness: number;
  /** How long after its end a window still takes late rows (ms). */
  allowedLateness: number;
  /** Non-NaN rows a window needs for a value. */
  minPeriods: number;
  /** How rows are keyed. */
  keys: KeyMode;
  /** Delta degrees of freedom; present for `var` and `std` only. */
  ddof?: number;
  /** The quantile; present for `quantile` only. */
  q?: number;
}

/** A {@link CountWindowSpec} with defaults filled in. */
export interface NormalizedCountWindowSpec {
  /** The aggregate. */
  op: TimeOp;
  /** Rows per window. */
  size: number;
  /** Rows between window starts (`size` for tumbling). */
  step: number;
  /** Non-NaN rows a window needs for a value. */
  minPeriods: number;
  /** How rows are keyed. */
  keys: KeyMode;
  /** Delta degrees of freedom; present for `var` and `std` only. */
  ddof?: number;
  /** The quantile; present for `quantile` only. */
  q?: number;
}
