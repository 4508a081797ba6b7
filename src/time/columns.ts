// Columnar window results (pushColumns/flushColumns): the fields of each
// emitted window appended to growable typed arrays instead of one object per
// window, so emitting costs no allocation per window and nothing for the
// garbage collector to trace. A session's `replaces` (rare: a session that
// grew or merged after it was emitted) go to three more columns.
import type { LateRow, ReplacedColumns, WindowColumns } from '../types.js';

const INITIAL_ROOM = 1024;

/**
 * Appends windows' fields to scratch columns that the operator keeps from
 * call to call (they grow to the most windows one call emitted); `finish`
 * hands out copies of exactly `length` windows and empties the scratch.
 */
export class WindowColumnsBuilder {
  length = 0;
  private keys = new Uint32Array(INITIAL_ROOM);
  private start = new Float64Array(INITIAL_ROOM);
  private end = new Float64Array(INITIAL_ROOM);
  private value = new Float64Array(INITIAL_ROOM);
  private count = new Float64Array(INITIAL_ROOM);
  private update = new Uint8Array(INITIAL_ROOM);
  /** Replaced ranges: the replacing window's index, the range. */
  private replacedN = 0;
  private replacedWindow = new Uint32Array(16);
  private replacedStart = new Float64Array(16);
  private replacedEnd = new Float64Array(16);

  /** Appends one window (key id, bounds, value, non-NaN rows, 1 when it updates an emitted window). */
  add(key: number, start: number, end: number, value: number, count: number, update: number): void {
    const i = this.length;
    if (i === this.keys.length) this.grow();
    this.keys[i] = key;
    this.start[i] = start;
    this.end[i] = end;
    this.value[i] = value;
    this.count[i] = count;
    this.update[i] = update;
    this.length = i + 1;
  }

  /** Records that the window added last replaces the emitted range [start, end). */
  addReplaced(start: number, end: number): void {
    const j = this.replacedN;
    if (j === this.replacedWindow.length) {
      const room = 2 * j;
      const window = new Uint32Array(room);
      window.set(this.replacedWindow);
      this.replacedWindow = window;
      this.replacedStart = grown(this.replacedStart, room);
      this.replacedEnd = grown(this.replacedEnd, room);
    }
    this.replacedWindow[j] = this.length - 1;
    this.replacedStart[j] = start;
    this.replacedEnd[j] = end;
    this.replacedN = j + 1;
  }

  private grow(): void {
    const room = 2 * this.keys.length;
    const keys = new Uint32Array(room);
    keys.set(this.keys);
    this.keys = keys;
    this.start = grown(this.start, room);
    this.end = grown(this.end, room);
    this.value = grown(this.value, room);
    this.count = grown(this.count, room);
    const update = new Uint8Array(room);
    update.set(this.update);
    this.update = update;
  }

  /** The columns so far (fresh arrays, exactly `length` long), with the late rows and the key names of `'string'` keys; empties the scratch. */
  finish(late: LateRow[], keyNames: readonly string[] | undefined): WindowColumns {
    const n = this.length, m = this.replacedN;
    this.length = 0;
    this.replacedN = 0;
    const replaced: ReplacedColumns = { length: m, window: this.replacedWindow.slice(0, m), start: this.replacedStart.slice(0, m), end: this.replacedEnd.slice(0, m) };
    return {
      length: n,
      keys: this.keys.slice(0, n),
      start: this.start.slice(0, n),
      end: this.end.slice(0, n),
      value: this.value.slice(0, n),
      count: this.count.slice(0, n),
      update: this.update.slice(0, n),
      keyNames,
      late,
      replaced,
    };
  }

  /** Empties the scratch (a call that threw). */
  clear(): void {
    this.length = 0;
    this.replacedN = 0;
  }
}

function grown(a: Float64Array, room: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(room);
  b.set(a);
  return b;
}
