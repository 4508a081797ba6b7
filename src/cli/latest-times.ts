// Each key's greatest time so far, for `run`'s order check of time windows
// (OpsRunner.inOrder). Rows come with the reader's key ids
// (ColumnOptions.keyIds), so a row costs one typed-array read: a profile of
// the demo showed a Map look-up by key string per row here, and another in
// KeyIds, both gone with ids.

/** The one key of an unkeyed run. */
const NO_KEY: readonly string[] = [''];

export class LatestTimes {
  /** Restored from a checkpoint (and moved on by `advance`): a key's entry is read when the reader first names it. */
  private readonly restored: Map<string, number>;
  /** By reader key id: the greatest time, -Infinity while the key has none. */
  private times = new Float64Array(0);
  /** Reader key ids below this have their entry in `times`. */
  private known = 0;
  private names: readonly string[] = NO_KEY;

  constructor(restored: readonly (readonly [string, number])[]) {
    this.restored = new Map(restored);
  }

  /**
   * The greatest times by id of the reader's key list `names` (the batch's
   * `keyNames`; undefined: unkeyed, id 0), with room for every key it holds.
   * Row i's key id indexes it; a time is written back as the row is taken.
   */
  table(names: readonly string[] | undefined): Float64Array {
    const list = names ?? NO_KEY;
    if (list !== this.names) {
      // The reader's one list grows in place; another list numbers keys anew (not within one run).
      if (this.known > 0) this.flushTo(this.restored);
      this.names = list;
      this.known = 0;
    }
    const n = list.length;
    if (n > this.times.length) {
      const more = new Float64Array(Math.max(n, 2 * this.times.length, 64));
      more.set(this.times.subarray(0, this.known));
      this.times = more;
    }
    for (let id = this.known; id < n; id++) this.times[id] = this.restored.get(list[id] as string) ?? -Infinity;
    this.known = Math.max(this.known, n);
    return this.times;
  }

  /** The name of key id `id` ('' unkeyed). */
  name(id: number): string {
    return this.names[id] ?? '';
  }

  /** --idle-timeout: every key's latest time moves on by `ms`. */
  advance(ms: number): void {
    for (const [k, t] of this.restored) this.restored.set(k, t + ms);
    for (let id = 0; id < this.known; id++) this.times[id] = (this.times[id] as number) + ms;
  }

  /**
   * [key, time] pairs for a checkpoint, in the order a Map by key string
   * would hold them: the restored keys first, then the others in order of
   * their first row (the reader numbers keys in that order).
   */
  entries(): [string, number][] {
    const all = new Map(this.restored);
    this.flushTo(all);
    return [...all];
  }

  private flushTo(map: Map<string, number>): void {
    for (let id = 0; id < this.known; id++) {
      const t = this.times[id] as number;
      const k = this.names[id] as string;
      if (t !== -Infinity || map.has(k)) map.set(k, t);
    }
  }
}
