// The values of median and quantile windows (grid buckets, sessions): a run
// per window in one Float64Array instead of an array per window, so a window
// growing and closing leaves nothing for the garbage collector.
//
// A slot (a window's or session's number) holds a block of 2^c values; a run
// that fills its block moves to a block twice the size, and a released block
// goes on its size's free list (linked through its first value), which the
// next block of that size takes. Nothing is ever compacted: in a steady
// stream every block comes from a free list and the pool stops growing; a
// store whose windows all closed is rebuilt smaller by its owner (sessions:
// SessionStore.compacted; a grid bucket keeps its pool for its next use).

/** The smallest block: 16 values (2^4; 8 moved more often, for ~1.4 ns a value more in a burst of interleaved sessions). */
const MIN_CLASS = 4;
const NONE = -1;

/** Runs of values, one per slot, in blocks of one pool. */
export class ValueRuns {
  /** The values: slot s's run is data[off(s), off(s) + len(s)). Replaced on growth: read it after append(). */
  data: Float64Array;
  private offs: Int32Array;
  private lens: Int32Array;
  /** The block's size (0: none). */
  private rooms: Int32Array;
  /** Per block size 2^c, its first free block's offset (NONE: none); each free block's first value holds the next. */
  private readonly freeHead = new Int32Array(32).fill(NONE);
  private top = 0;

  /** @param room - the pool's first room in values (0 for a pool that may stay unused). */
  constructor(room: number) {
    this.data = new Float64Array(room);
    this.offs = new Int32Array(room === 0 ? 0 : 16);
    this.lens = new Int32Array(this.offs.length);
    this.rooms = new Int32Array(this.offs.length);
  }

  off(s: number): number {
    return this.offs[s]!;
  }

  len(s: number): number {
    return this.lens[s]!;
  }

  /** Slot s empty and holding no block (a new window; a released or never used slot). */
  open(s: number): void {
    if (s >= this.offs.length) this.growSlots(s + 1);
    this.lens[s] = this.rooms[s] = 0;
  }

  /** Appends x to slot s's run. */
  append(s: number, x: number): void {
    const n = this.lens[s]!;
    if (n === this.rooms[s]!) this.move(s, n + 1);
    this.data[this.offs[s]! + n] = x;
    this.lens[s] = n + 1;
  }

  /** Slot s's run becomes data[from, from + n) of `src` (a snapshot's values, a copied store's run). */
  setRun(s: number, src: ArrayLike<number>, from: number, n: number): void {
    this.lens[s] = 0;
    if (n > this.rooms[s]!) this.move(s, n);
    const data = this.data, o = this.offs[s]!;
    for (let j = 0; j < n; j++) data[o + j] = src[from + j]!;
    this.lens[s] = n;
  }

  /** Empties slot s's run and frees its block. */
  release(s: number): void {
    const room = this.rooms[s]!;
    if (room > 0) this.giveBack(this.offs[s]!, room);
    this.lens[s] = this.rooms[s] = 0;
  }

  /** Forgets every run, keeping the pool's room (a recycled grid bucket): every slot is opened before use. */
  reset(): void {
    this.top = 0;
    this.freeHead.fill(NONE);
  }

  /** Bytes held. */
  get bytes(): number {
    return this.data.byteLength + this.offs.byteLength + this.lens.byteLength + this.rooms.byteLength;
  }

  /** Gives slot s a block of at least `need` values (twice its room, or more), its run copied there. */
  private move(s: number, need: number): void {
    const old = this.rooms[s]!;
    let c = Math.max(MIN_CLASS, 32 - Math.clz32(old));
    while (1 << c < need) c++;
    const o = this.take(c);
    const data = this.data, from = this.offs[s]!, n = this.lens[s]!;
    for (let j = 0; j < n; j++) data[o + j] = data[from + j]!;
    if (old > 0) this.giveBack(from, old);
    this.offs[s] = o;
    this.rooms[s] = 1 << c;
  }

  /** A block of 2^c values: a free one, else new at the top. */
  private take(c: number): number {
    const head = this.freeHead[c]!;
    if (head !== NONE) {
      this.freeHead[c] = this.data[head]!;
      return head;
    }
    const o = this.top, size = 1 << c;
    if (o + size > this.data.length) {
      const more = new Float64Array(Math.max(2 * this.data.length, o + size, 256));
      more.set(this.data.subarray(0, o));
      this.data = more;
    }
    this.top = o + size;
    return o;
  }

  private giveBack(o: number, room: number): void {
    const c = 31 - Math.clz32(room);
    this.data[o] = this.freeHead[c]!;
    this.freeHead[c] = o;
  }

  private growSlots(n: number): void {
    const size = Math.max(16, n, 2 * this.offs.length);
    const offs = new Int32Array(size), lens = new Int32Array(size), rooms = new Int32Array(size);
    offs.set(this.offs);
    lens.set(this.lens);
    rooms.set(this.rooms);
    this.offs = offs;
    this.lens = lens;
    this.rooms = rooms;
  }
}
