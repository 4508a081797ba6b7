// Rolling by duration behind the GroupOperator interface: one
// DurationRolling (one WASM instance holding every key's window, see
// assembly/kernels/timeroll.ts) per worker, never one per key. A key group's
// snapshot is the operator's snapshot restricted to the group's keys;
// restoring merges a group's keys into the instance.
//
// With a ttl, a key is forgotten against the whole stream's greatest
// timestamp, which one worker does not see from its own rows: the scheduler
// sends every batch to every worker then, with each row's greatest earlier
// timestamp since the workers started (RowsPart.clock; the operator takes the
// larger of it and its restored clock); given every row instead (in process),
// the operator computes it over all of them, owned or not. Key group 0 carries that clock: it is reported changed
// whenever the clock moved and snapshotted even without keys, and a restore
// raises every worker's clock to it (restoreClock), as for window kinds.
import { keyGroupOf } from '../scheduler/hash.js';
import type { GroupOperator, RowsPart } from '../scheduler/operator.js';
import { createDurationRolling, type DurationRolling, type StreamClock } from '../time/rolling.js';
import { decodeTimeSnapshot, KIND_ROLLING } from '../time/snapshot.js';
import { normalizeDurationRolling, sameNormalized } from '../time/spec.js';
import { restoreGroupState } from './restore.js';
import { durationSpecOf, type NormalizedTimeRollingOperatorSpec } from './spec.js';

/** Key ids below this have their key group cached (2 bytes each: 128 KiB at most). */
const GROUP_CACHE_KEYS = 1 << 16;

/** `cache` grown to hold index `key` (doubling, zero-filled: unknown). */
function grownCache(cache: Uint16Array, key: number): Uint16Array<ArrayBuffer> {
  const grown = new Uint16Array(Math.min(GROUP_CACHE_KEYS, Math.max(64, 2 * key + 2)));
  grown.set(cache);
  return grown;
}

/** `marks` grown to hold index `key` (doubling, zero-filled: not marked). */
function grownMarks(marks: Uint8Array, key: number): Uint8Array<ArrayBuffer> {
  const grown = new Uint8Array(Math.min(GROUP_CACHE_KEYS, Math.max(64, 2 * key + 2)));
  grown.set(marks);
  return grown;
}

/** The index of the first of `keys` from `from` that `marks` does not mark (keys.length: none). */
function firstUnmarked(keys: Uint32Array, marks: Uint8Array, from: number): number {
  for (let i = from; i < keys.length; i++) {
    const key = keys[i]!;
    if (key >= marks.length || marks[key] !== 1) return i;
  }
  return keys.length;
}

/** Creates the duration-rolling operator of a worker owning key groups [owned[0], owned[1]). */
export async function createTimeRollingOperator(
  spec: NormalizedTimeRollingOperatorSpec,
  keyGroups: number,
  owned: readonly [number, number] = [0, keyGroups],
): Promise<TimeRollingOperator> {
  return new TimeRollingOperator(await createDurationRolling(durationSpecOf(spec)), keyGroups, owned);
}

/** See the file comment. */
export class TimeRollingOperator implements GroupOperator {
  /** Key groups holding keys. */
  private readonly held = new Set<number>();
  private readonly changed = new Set<number>();
  /** Per key group: 1 once in both `held` and `changed` since the last changedGroups() (a batch's rows then skip both Set adds). */
  private readonly marked: Uint8Array;
  /** Key group + 1 by key id, 0 unknown: ids are small and dense in the CLI, and hashing every row cost as much as the kernel. */
  private groupOfKey = new Uint16Array(0);
  /**
   * Per key id below GROUP_CACHE_KEYS: 1 once its group is marked (`marked`)
   * since the last changedGroups(), so processAll's pass over a batch's keys
   * reads one byte per row (keys interleave: the last key rarely repeats).
   */
  private keyMarked = new Uint8Array(0);
  /** Key groups restored so far (each at most once, before any row). */
  private readonly restored = new Set<number>();
  private started = false;
  // Scratch: the kept rows of a batch.
  private ts = new Float64Array(0);
  private vals = new Float64Array(0);
  private ids = new Uint32Array(0);
  private res = new Float64Array(0);
  private rowOf = new Int32Array(0);
  private before = new Float64Array(0);
  private partEnd = new Int32Array(8);
  /** With a ttl: the stream's clock moved since the last changedGroups(). */
  private clockMoved = false;
  /** Another op's operator over the same rows, run before this one: its grouping by key is taken (follow). */
  private leader: DurationRolling | undefined;
  /** The live key slots by key group, for snapshots of many groups; dropped when rows or a restore change the keys. */
  private slotGroups: Map<number, number[]> | undefined;

  constructor(
    private readonly op: DurationRolling,
    private readonly keyGroups: number,
    private readonly owned: readonly [number, number],
  ) {
    this.marked = new Uint8Array(keyGroups);
  }

  /** The key group of a key id, cached for ids below GROUP_CACHE_KEYS. */
  private groupOf(key: number): number {
    if (key >= GROUP_CACHE_KEYS) return keyGroupOf(key, this.keyGroups);
    if (key >= this.groupOfKey.length) this.groupOfKey = grownCache(this.groupOfKey, key);
    const cached = this.groupOfKey[key]!;
    if (cached !== 0) return cached - 1;
    const group = keyGroupOf(key, this.keyGroups);
    this.groupOfKey[key] = group + 1;
    return group;
  }

  /** Records that an owned key group got rows. */
  private touch(group: number): void {
    if (this.marked[group] === 1) return;
    this.marked[group] = 1;
    this.held.add(group);
    this.changed.add(group);
  }

  /** Marks key `key`'s group changed, and the key as marked (keyMarked) when its id is cached. */
  private markKey(key: number): void {
    this.touch(this.groupOf(key));
    if (key >= GROUP_CACHE_KEYS) return;
    if (key >= this.keyMarked.length) this.keyMarked = grownMarks(this.keyMarked, key);
    this.keyMarked[key] = 1;
  }

  private owns(group: number): boolean {
    return group >= this.owned[0] && group < this.owned[1];
  }

  process(values: Float64Array, keys: Uint32Array | undefined, out: Float64Array, times?: Float64Array): void {
    this.processParts([{ values, keys, out, times }]);
  }

  processParts(parts: readonly RowsPart[]): void {
    this.started = true;
    this.slotGroups = undefined;
    const only = parts.length === 1 ? parts[0]! : undefined;
    if (only !== undefined && this.ownsAll && !this.ttl && only.keys?.length === only.values.length) {
      this.processAll(only.values, only.keys, only.out, only.times);
      return;
    }
    let total = 0;
    for (const p of parts) total += p.values.length;
    if (this.ts.length < total) {
      this.ts = new Float64Array(total);
      this.vals = new Float64Array(total);
      this.ids = new Uint32Array(total);
      this.res = new Float64Array(total);
      this.rowOf = new Int32Array(total);
      if (this.ttl) this.before = new Float64Array(total);
    }
    const ttl = this.ttl;
    let clock = ttl ? this.op.maxTimestamp : -Infinity;
    const startClock = clock;
    // Gather the rows of owned key groups, in stream order: each key's rows stay in order.
    let kept = 0;
    let lastKey = -1;
    let lastOwned = false;
    if (this.partEnd.length < parts.length) this.partEnd = new Int32Array(2 * parts.length);
    for (let k = 0; k < parts.length; k++) {
      const { values, keys, times } = parts[k]!;
      if (times === undefined || times.length !== values.length) throw new TypeError('rolling by duration needs one event time per row');
      for (let i = 0; i < values.length; i++) {
        const key = keys === undefined ? 0 : keys[i]!;
        if (key !== lastKey) {
          lastKey = key;
          const group = this.groupOf(key);
          lastOwned = this.owns(group);
          if (lastOwned) this.touch(group);
        }
        if (ttl) {
          const given = parts[k]!.clock;
          if (given !== undefined) {
            // Routed rows: the coordinator's clock since the workers started, and this worker's (restored) before them.
            if (lastOwned) this.before[kept] = Math.max(given.before[i]!, startClock);
            if (given.after > clock) clock = given.after;
          } else {
            const t = times[i]!;
            if (lastOwned) this.before[kept] = clock;
            if (t > clock && t - t === 0) clock = t; // a bad time is refused by its key's own worker
          }
        }
        if (!lastOwned) continue;
        this.ts[kept] = times[i]!;
        this.vals[kept] = values[i]!;
        this.ids[kept] = key;
        this.rowOf[kept++] = i;
      }
      this.partEnd[k] = kept;
    }
    const streamClock: StreamClock | undefined = ttl ? { before: this.before.subarray(0, kept), after: clock } : undefined;
    if (clock !== startClock) this.clockMoved = true;
    if (kept === 0) {
      if (streamClock !== undefined) this.op.advanceClock(clock);
      return;
    }
    const res = this.res.subarray(0, kept);
    this.op.pushIds(this.ts.subarray(0, kept), this.vals.subarray(0, kept), this.ids.subarray(0, kept), res, streamClock);
    let j = 0;
    for (let k = 0; k < parts.length; k++) {
      const { out } = parts[k]!;
      for (const end = this.partEnd[k]!; j < end; j++) out[this.rowOf[j]!] = res[j]!;
    }
  }

  /**
   * One part, every key group owned, no ttl (the CLI in process): the rows go
   * to the kernel as they are, with no gathering into scratch columns and no
   * scattering of results back.
   */
  private processAll(values: Float64Array, keys: Uint32Array, out: Float64Array, times: Float64Array | undefined): void {
    if (times === undefined || times.length !== values.length) throw new TypeError('rolling by duration needs one event time per row');
    this.markKeys(keys);
    if (values.length === 0) return;
    if (this.leader !== undefined) this.op.pushIdsFollowing(this.leader, times, values, keys, out);
    else this.op.pushIds(times, values, keys, out);
  }

  /**
   * This op gets every batch right after `leader` (another op of the same
   * job, in process): the rows it ran in one piece are not checked and
   * grouped by key again here, but taken grouped from it
   * (DurationRolling.pushIdsFollowing; any other batch runs as usual).
   */
  follow(leader: TimeRollingOperator): void {
    if (leader !== this) this.leader = leader.op;
  }

  /**
   * Marks the key groups of a batch's keys. The pass over every row is
   * firstUnmarked, with no call in it: a call made in the loop's first run,
   * before the function had type feedback, had none in the loop's optimized
   * code, which was thrown out (and compiled again) when a later batch met a
   * key not marked yet.
   */
  private markKeys(keys: Uint32Array): void {
    for (let i = firstUnmarked(keys, this.keyMarked, 0); i < keys.length; i = firstUnmarked(keys, this.keyMarked, i + 1)) this.markKey(keys[i]!);
  }

  private get ownsAll(): boolean {
    return this.owned[0] === 0 && this.owned[1] === this.keyGroups;
  }

  /** Bytes of the keys' windows (the instance's state, not its IO buffers nor freed blocks). */
  get stateBytes(): number {
    return this.op.stateBytes;
  }

  /** Whether keys are forgotten by a time to live (against the whole stream's clock). */
  private get ttl(): boolean {
    return this.op.spec.ttl !== Infinity;
  }

  changedGroups(): number[] {
    if (this.clockMoved && this.owns(0)) this.changed.add(0);
    this.clockMoved = false;
    const groups = [...this.changed].sort((a, b) => a - b);
    this.changed.clear();
    this.marked.fill(0);
    this.keyMarked.fill(0);
    return groups;
  }

  snapshotGroup(group: number): Uint8Array | undefined {
    // With a ttl, group 0 carries the stream's clock, keys or not.
    if (!this.held.has(group) && !(group === 0 && this.ttl && this.owns(0) && this.op.maxTimestamp !== -Infinity)) return undefined;
    // One pass over the keys for every group's snapshot of a checkpoint (a scan per group was O(groups × keys)).
    this.slotGroups ??= this.op.slotsByGroup((key) => keyGroupOf(key, this.keyGroups));
    return this.op.snapshotSlots(this.slotGroups.get(group) ?? [], (key) => keyGroupOf(key, this.keyGroups) === group);
  }

  restoreGroup(group: number, bytes: Uint8Array): void {
    this.slotGroups = undefined;
    restoreGroupState(group, this.owned, this.restored, this.started, (fail) => {
      const { spec: raw, state } = decodeTimeSnapshot(bytes, KIND_ROLLING);
      const spec = normalizeDurationRolling(raw);
      if (!sameNormalized(spec, this.op.spec)) fail(`it is of ${JSON.stringify(raw)}, the operator of ${JSON.stringify(this.op.spec)}`);
      this.op.restoreState(state, (key) => keyGroupOf(key, this.keyGroups) === group);
    });
    this.held.add(group);
  }

  /** With a ttl: raises this worker's clock to key group 0's snapshot (before any row), whichever worker holds the group. */
  restoreClock(bytes: Uint8Array): void {
    const { state } = decodeTimeSnapshot(bytes, KIND_ROLLING);
    this.op.restoreClock(state);
  }

  trap(): void {
    throw new Error('injected trap');
  }
}
