// Per-key state in one typed array instead of an object per key: each slot
// (a key) owns a run of float64s, front-dropped and appended to. A run that
// outgrows its room moves to the end of the pool with twice the room (up to
// `maxRun`); the pool is compacted when more than half of it is left-behind
// room. Memory is the live runs (at most 2× each) plus at most as much again.

/** Float64 runs per slot, in one Float64Array. */
export class RunPool {
  /** The values; slot s's run is data[off(s), off(s) + len(s)). Replaced on growth: read it after reserve(). */
  data = new Float64Array(256);
  private offs = new Float64Array(16);
  private caps = new Float64Array(16);
  private lens = new Float64Array(16);
  private slots = 0;
  private top = 0;
  private freed = 0;

  /** @param maxRun - the most values a run ever holds (its room never grows past it). */
  constructor(private readonly maxRun: number) {}

  /** A new, empty slot (numbered 0, 1, … in order). */
  addSlot(): number {
    if (this.slots === this.offs.length) {
      this.offs = grow(this.offs);
      this.caps = grow(this.caps);
      this.lens = grow(this.lens);
    }
    const s = this.slots++;
    this.offs[s] = this.caps[s] = this.lens[s] = 0;
    return s;
  }

  off(s: number): number {
    return this.offs[s]!;
  }

  len(s: number): number {
    return this.lens[s]!;
  }

  /** Appends `n` values (left as they are: the caller writes them) to slot s's run; returns where they start in `data`. */
  append(s: number, n: number): number {
    const len = this.lens[s]!;
    if (len + n > this.caps[s]!) this.move(s, Math.min(Math.max(len + n, 2 * this.caps[s]!, 4), Math.max(this.maxRun, len + n)));
    this.lens[s] = len + n;
    return this.offs[s]! + len;
  }

  /** Drops the first `n` values of slot s's run. */
  dropFront(s: number, n: number): void {
    const o = this.offs[s]!;
    const len = this.lens[s]!;
    if (n < len) this.data.copyWithin(o, o + n, o + len);
    this.lens[s] = len - n;
  }

  /** Forgets every slot. */
  clear(): void {
    this.data = new Float64Array(256);
    this.slots = this.top = this.freed = 0;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.data.byteLength + 3 * this.offs.byteLength;
  }

  /** Gives slot s a run of room `cap` at the end of the pool. */
  private move(s: number, cap: number): void {
    if (this.top + cap > this.data.length) {
      if (2 * this.freed > this.top) this.compact();
      if (this.top + cap > this.data.length) {
        const more = new Float64Array(Math.max(2 * this.data.length, this.top + cap));
        more.set(this.data.subarray(0, this.top));
        this.data = more;
      }
    }
    const o = this.offs[s]!;
    this.data.copyWithin(this.top, o, o + this.lens[s]!);
    this.freed += this.caps[s]!;
    this.offs[s] = this.top;
    this.caps[s] = cap;
    this.top += cap;
  }

  /** Moves every run to the front, in slot order, dropping the room left behind. */
  private compact(): void {
    const data = new Float64Array(this.data.length);
    let top = 0;
    for (let s = 0; s < this.slots; s++) {
      const o = this.offs[s]!;
      data.set(this.data.subarray(o, o + this.lens[s]!), top);
      this.offs[s] = top;
      top += this.caps[s]!;
    }
    this.data = data;
    this.top = top;
    this.freed = 0;
  }
}

/** `a` in an array twice as long. */
export function grow<T extends Float64Array | Uint32Array | Int32Array>(a: T): T {
  const more = new (a.constructor as new (n: number) => T)(Math.max(16, 2 * a.length));
  more.set(a);
  return more;
}

/** Key ids below this are looked up in a table (4 MiB at most) rather than the Map. */
const DIRECT_MAX = 1 << 20;

/**
 * Key id → slot: a table for ids below 2²⁰ (string keys, dense numbers: the
 * per-row lookup without hashing), a Map for the rest.
 */
export class KeySlots {
  private readonly map = new Map<number, number>();
  /** Slot + 1 per key id below DIRECT_MAX (0: none). */
  private direct = new Int32Array(0);

  get size(): number {
    return this.map.size;
  }

  /** The slot of key id k, or −1. */
  get(k: number): number {
    const d = this.direct[k];
    if (d !== undefined) return d - 1;
    return this.map.get(k) ?? -1;
  }

  set(k: number, s: number): void {
    this.map.set(k, s);
    if (k < DIRECT_MAX) {
      if (k >= this.direct.length) {
        const more = new Int32Array(Math.min(DIRECT_MAX, Math.max(2 * this.direct.length, k + 1, 256)));
        more.set(this.direct);
        this.direct = more;
      }
      this.direct[k] = s + 1;
    }
  }

  delete(k: number): void {
    this.map.delete(k);
    if (k < this.direct.length) this.direct[k] = 0;
  }

  values(): IterableIterator<number> {
    return this.map.values();
  }

  clear(): void {
    this.map.clear();
    this.direct = new Int32Array(0);
  }
}
