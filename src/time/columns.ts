// Columnar window results (pushColumns/flushColumns of tumbling and hopping
// windows): the fields of each emitted window appended to growable typed
// arrays instead of one object per window, so emitting costs no allocation
// per window and nothing for the garbage collector to trace.
import type { LateRow, WindowColumns } from '../types.js';

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
    const n = this.length;
    this.length = 0;
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
    };
  }

  /** Empties the scratch (a call that threw). */
  clear(): void {
    this.length = 0;
  }
}

function grown(a: Float64Array, room: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(room);
  b.set(a);
  return b;
}
