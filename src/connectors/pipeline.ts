// Column batches through several kernels at once, per key when keyed
// (browser-safe).

import { createKernel, restoreKernel } from '../kernel.js';
import type { Kernel } from '../types.js';
import type { ColumnBatch, NamedOp, ReplayableSource, ResultBatch } from './types.js';

/**
 * The kernels' state as bytes, per key, for {@link KernelSet.restore}.
 *
 * @example
 * ```ts
 * const state: KernelSetState = set.snapshot(); // { keyed: false, entries: [{ key: null, states: [...] }] }
 * ```
 */
export interface KernelSetState {
  /** Whether the set runs one kernel per op and key. */
  keyed: boolean;
  /** Every key seen, in order of first appearance (one entry with key `null` when unkeyed). */
  entries: KernelSetEntry[];
}

/**
 * One key's kernels in a {@link KernelSetState}.
 *
 * @example
 * ```ts
 * const entry: KernelSetEntry = { key: 'sensor-1', states: [meanKernel.snapshot()] };
 * ```
 */
export interface KernelSetEntry {
  /** The key, or `null` in an unkeyed set. */
  key: string | null;
  /** Each op's kernel snapshot, in the order of the ops. */
  states: Uint8Array[];
}

/**
 * Several ops over one stream, with one kernel per op (and per key when
 * keyed). Results are exactly each kernel's `push` results: batching and
 * keying never change them.
 *
 * @example
 * ```ts
 * const set = await KernelSet.create([{ name: 'mean', spec: { op: 'mean', window: 3 } }]);
 * const [means] = await set.process(batch);
 * set.dispose();
 * ```
 */
export class KernelSet {
  /** The ops, in output order. */
  readonly ops: readonly NamedOp[];
  /** Whether kernels are per key. */
  readonly keyed: boolean;
  private readonly byKey = new Map<string | null, Kernel[]>();
  private handedOut: Float64Array | undefined;

  private constructor(ops: readonly NamedOp[], keyed: boolean) {
    this.ops = ops;
    this.keyed = keyed;
  }

  /**
   * Checks the ops (names unique, specs valid) and creates the set.
   *
   * @param keyed - one kernel per op and key (batches must carry keys).
   */
  static async create(ops: readonly NamedOp[], keyed = false): Promise<KernelSet> {
    if (!Array.isArray(ops) || ops.length === 0) throw new TypeError('ops must be a non-empty array');
    const names = new Set<string>();
    for (const op of ops) {
      if (typeof op?.name !== 'string' || op.name === '') throw new TypeError('every op needs a name');
      if (names.has(op.name)) throw new TypeError(`op name ${JSON.stringify(op.name)} is used twice`);
      names.add(op.name);
    }
    const set = new KernelSet([...ops], keyed);
    // Creating the unkeyed kernels (or a probe when keyed) checks every spec now.
    const kernels = await Promise.all(ops.map((op) => createKernel(op.spec)));
    if (keyed) for (const k of kernels) k.dispose();
    else set.byKey.set(null, kernels);
    return set;
  }

  /**
   * Restores a set from {@link KernelSet.snapshot}: every key's kernels
   * continue bit-identically. Throws `SnapshotError` for a bad snapshot.
   *
   * @example
   * ```ts
   * const copy = await KernelSet.restore(ops, set.snapshot());
   * ```
   */
  static async restore(ops: readonly NamedOp[], state: KernelSetState): Promise<KernelSet> {
    const set = await KernelSet.create(ops, state.keyed);
    for (const old of set.byKey.values()) for (const k of old) k.dispose();
    set.byKey.clear();
    for (const entry of state.entries) {
      if (entry.states.length !== ops.length) throw new RangeError(`state holds ${entry.states.length} kernels per key, expected ${ops.length}`);
      set.byKey.set(entry.key, await Promise.all(entry.states.map((s, i) => restoreKernel(s, (ops[i] as NamedOp).spec))));
    }
    if (!state.keyed && !set.byKey.has(null)) throw new RangeError('unkeyed state without kernels');
    return set;
  }

  /** Number of keys with kernels (1 when unkeyed). */
  get keyCount(): number {
    return this.byKey.size;
  }

  /**
   * When unkeyed: the first kernel's input buffer in WASM memory, for a
   * source's `valueBuffer` option, so values are parsed straight into WASM
   * memory; {@link KernelSet.process} then pushes it in place.
   *
   * @example
   * ```ts
   * csvSource(bytes, { value: 'v', valueBuffer: (n) => set.inputBuffer(n) });
   * ```
   */
  inputBuffer(rows: number): Float64Array {
    const first = this.byKey.get(null)?.[0];
    if (this.keyed || first === undefined) throw new Error('inputBuffer() is for unkeyed sets');
    this.handedOut = first.inputBuffer(rows);
    return this.handedOut;
  }

  private async kernelsFor(key: string): Promise<Kernel[]> {
    let kernels = this.byKey.get(key);
    if (kernels === undefined) {
      kernels = await Promise.all(this.ops.map((op) => createKernel(op.spec)));
      this.byKey.set(key, kernels);
    }
    return kernels;
  }

  /** Runs a batch through every op; one result array per op, `batch.length` long. */
  async process(batch: ColumnBatch): Promise<Float64Array[]> {
    const n = batch.length;
    const values = batch.values.length === n ? batch.values : batch.values.subarray(0, n);
    if (!this.keyed) {
      const kernels = this.byKey.get(null) as Kernel[];
      const given = this.handedOut;
      this.handedOut = undefined;
      return kernels.map((kernel, k) => {
        if (k === 0 && given !== undefined && values.buffer === given.buffer && values.byteOffset === given.byteOffset) {
          return kernel.pushInput(n).slice(); // the values are in WASM memory already
        }
        return kernel.push(values);
      });
    }
    const keys = batch.keys;
    if (keys === undefined) throw new TypeError('a keyed KernelSet needs batches with keys');
    const { groupKeys, starts, order, gathered } = groupByKey(keys, values, n);
    const results = this.ops.map(() => new Float64Array(n));
    const pushed = new Float64Array(n);
    for (let g = 0; g < groupKeys.length; g++) {
      const key = groupKeys[g] as string;
      const kernels = this.byKey.get(key) ?? (await this.kernelsFor(key));
      const from = starts[g] as number;
      const to = starts[g + 1] as number;
      for (let k = 0; k < kernels.length; k++) {
        (kernels[k] as Kernel).push(gathered.subarray(from, to), pushed.subarray(from, to));
        const out = results[k] as Float64Array;
        for (let j = from; j < to; j++) out[order[j] as number] = pushed[j] as number;
      }
    }
    return results;
  }

  /** Every kernel's state, per key. */
  snapshot(): KernelSetState {
    return {
      keyed: this.keyed,
      entries: [...this.byKey].map(([key, kernels]) => ({ key, states: kernels.map((k) => k.snapshot()) })),
    };
  }

  /** Releases every kernel. */
  dispose(): void {
    for (const kernels of this.byKey.values()) for (const k of kernels) k.dispose();
    this.byKey.clear();
  }
}

/**
 * A batch's rows grouped by key, keys in order of first appearance and each
 * key's rows in order: group g is rows `order[starts[g]..starts[g+1])`, whose
 * values are `gathered` there (a counting sort: no array per key).
 */
function groupByKey(keys: readonly string[], values: Float64Array, n: number): { groupKeys: string[]; starts: Int32Array; order: Int32Array; gathered: Float64Array } {
  const ids = new Int32Array(n);
  const idOf = new Map<string, number>();
  const groupKeys: string[] = [];
  const counts: number[] = [];
  for (let i = 0; i < n; i++) {
    const key = keys[i] as string;
    let id = idOf.get(key);
    if (id === undefined) {
      id = groupKeys.length;
      idOf.set(key, id);
      groupKeys.push(key);
      counts.push(0);
    }
    ids[i] = id;
    counts[id] = (counts[id] as number) + 1;
  }
  const starts = new Int32Array(groupKeys.length + 1);
  for (let g = 0; g < groupKeys.length; g++) starts[g + 1] = (starts[g] as number) + (counts[g] as number);
  const next = starts.slice(0, groupKeys.length);
  const order = new Int32Array(n);
  const gathered = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = ids[i] as number;
    const at = next[g] as number;
    next[g] = at + 1;
    order[at] = i;
    gathered[at] = values[i] as number;
  }
  return { groupKeys, starts, order, gathered };
}

/**
 * Options of {@link runKernels}.
 *
 * @example
 * ```ts
 * const options: RunKernelsOptions = { keyed: true };
 * ```
 */
export interface RunKernelsOptions {
  /**
   * One kernel per op and key: each key's rows form their own series.
   * @default false
   */
  keyed?: boolean;
}

/**
 * Runs every batch of a source through several ops at once and yields each
 * batch with its results. Accepts any async iterable of batches or a
 * {@link ReplayableSource} (read from its start).
 *
 * @example
 * ```ts
 * const ops = [
 *   { name: 'mean', spec: { op: 'mean', window: 20 } },
 *   { name: 'std', spec: { op: 'std', window: 20 } },
 * ] as const;
 * for await (const { batch, results } of runKernels(csvSource(text, { value: 'v' }), ops)) {
 *   console.log(batch.length, results[0], results[1]);
 * }
 * ```
 */
export async function* runKernels(
  source: AsyncIterable<ColumnBatch> | ReplayableSource,
  ops: readonly NamedOp[],
  options: RunKernelsOptions = {},
): AsyncGenerator<ResultBatch> {
  const set = await KernelSet.create(ops, options.keyed ?? false);
  try {
    const batches = 'batches' in source ? source.batches() : source;
    for await (const batch of batches) {
      yield { batch, results: await set.process(batch) };
    }
  } finally {
    set.dispose();
  }
}
