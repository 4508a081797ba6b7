// Session window state in typed arrays: no object per session, per key or
// per timer. A session is an id into parallel arrays (key, range, flags, the
// emitted range, the accumulator at grid.ts's stride; median and quantile:
// its values, a run in one ValueRuns, slot = session id); a key is a slot
// (KeySlots) holding its sessions as a list by start and its purged end.
// Ids are recycled; each allocation gets a new serial number, which a timer
// carries, so a timer of a removed session is recognized and skipped.
//
// The snapshot lists the keys holding sessions, and then the keys holding a
// purged end, each in the order the object layout's Maps kept them (first
// insertion since the key last left): two linked lists of slots keep it.
import { grow, KeySlots } from './slab.js';
import type { ValueRuns } from './value-runs.js';
import { type AccStore, initAcc, OP_VALS, valuePool } from './grid.js';

/** Session flags. */
export const FIRE_QUEUED = 1;
export const PURGE_QUEUED = 2;
/** A fire timer is pending for the current end. */
export const PENDING_FIRE = 4;

export interface Range {
  start: number;
  end: number;
}

const NONE = -1;
/** Key ids below this have their first session in SessionStore.firstByKey (4 MiB at most, counted in `bytes`). */
const FIRST_BY_KEY_MAX = 1 << 20;

/** Grows an Int32Array (filled with NONE beyond the old length). */
function growIds(a: Int32Array): Int32Array<ArrayBuffer> {
  const more = new Int32Array(Math.max(16, 2 * a.length)).fill(NONE);
  more.set(a);
  return more;
}

/** Sessions and keys, in slabs. */
export class SessionStore implements AccStore {
  // Per session id.
  key = new Uint32Array(16);
  start = new Float64Array(16);
  end = new Float64Array(16);
  flags = new Uint8Array(16);
  /** The last range emitted: NaN start when none. */
  emStart = new Float64Array(16);
  emEnd = new Float64Array(16);
  /** Serial number of the allocation (timers carry it). */
  serial = new Float64Array(16);
  /** The record of the session's fire timer while FIRE_QUEUED (TimerQueue.moveToTail moves it on as the session grows). */
  fireRec: Int32Array<ArrayBuffer> = new Int32Array(16).fill(NONE);
  /** The key's next session by start, or NONE; free ids chain through it too. */
  next: Int32Array<ArrayBuffer> = new Int32Array(16).fill(NONE);
  acc: Float64Array;
  /** OP_VALS: session w's values in slot w (a freed id's run is released). */
  vals: ValueRuns;
  /** Ranges emitted by sessions merged into a session since its last emission (rare: a map). */
  readonly merged = new Map<number, Range[]>();
  private ids = 0;
  private freeId = NONE;
  serials = 0;
  /** Sessions held. */
  count = 0;

  // Per key slot.
  readonly slots = new KeySlots();
  slotKey = new Uint32Array(16);
  /** First session by start, or NONE (written by setHead only). */
  head: Int32Array<ArrayBuffer> = new Int32Array(16).fill(NONE);
  /**
   * Per key id below 2²⁰: its first session + 1 (0: none), head by key id.
   * The usual row's look-up: one load, where the slot and then its head are
   * two dependent ones. Replaced on growth.
   */
  firstByKey: Int32Array<ArrayBuffer> = new Int32Array(0);
  /** Greatest end of the key's purged sessions; −Infinity: none. */
  purged = new Float64Array(16);
  /** Keys holding sessions, and keys holding a purged end: doubly linked lists of slots in insertion order. */
  private readonly live = new SlotList();
  private readonly ends = new SlotList();
  private nSlots = 0;
  private freeSlots: number[] = [];
  /** Purged ends held. */
  purgedCount = 0;

  constructor(
    readonly stride: number,
    private readonly code: number,
  ) {
    this.acc = new Float64Array(16 * stride);
    this.vals = valuePool(code);
  }

  /** The slot of key id k, made when new. */
  slotOf(k: number): number {
    const found = this.slots.get(k);
    if (found >= 0) return found;
    let s = this.freeSlots.pop();
    if (s === undefined) {
      s = this.nSlots++;
      if (s === this.slotKey.length) {
        this.slotKey = grow(this.slotKey);
        this.head = growIds(this.head);
        this.purged = grow(this.purged);
        this.live.grow();
        this.ends.grow();
      }
    }
    this.slotKey[s] = k;
    this.setHead(s, NONE);
    this.purged[s] = -Infinity;
    this.slots.set(k, s);
    return s;
  }

  /** The first session of key id k by start, or NONE (keys beyond firstByKey). */
  firstOf(k: number): number {
    const s = this.slots.get(k);
    return s < 0 ? NONE : this.head[s]!;
  }

  private setHead(s: number, w: number): void {
    this.head[s] = w;
    const k = this.slotKey[s]!;
    if (k >= FIRST_BY_KEY_MAX) return;
    if (k >= this.firstByKey.length) {
      if (w === NONE) return;
      const more = new Int32Array(Math.min(FIRST_BY_KEY_MAX, Math.max(2 * this.firstByKey.length, k + 1, 256)));
      more.set(this.firstByKey);
      this.firstByKey = more;
    }
    this.firstByKey[k] = w + 1;
  }

  /** Forgets slot s once its key holds nothing: a key whose sessions have all closed holds no state. */
  private release(s: number): void {
    if (this.head[s] !== NONE || this.purged[s] !== -Infinity) return;
    this.slots.delete(this.slotKey[s]!);
    this.freeSlots.push(s);
  }

  /**
   * A new session of slot s, its accumulator empty, in no list yet: the
   * caller writes its start[w] and end[w], then links it (link). The bounds
   * are not passed: a double passed to a call that V8 does not inline is
   * boxed (epoch-ms times are no small integers).
   */
  open(s: number): number {
    return this.alloc(s);
  }

  /** Places opened session w of slot s before the key's first session starting at or after start[w]. */
  link(s: number, w: number): void {
    const start = this.start[w]!;
    let prev = NONE, at = this.head[s]!;
    while (at !== NONE && this.start[at]! < start) {
      prev = at;
      at = this.next[at]!;
    }
    this.next[w] = at;
    if (prev !== NONE) this.next[prev] = w;
    else {
      if (at === NONE) this.live.append(s);
      this.setHead(s, w);
    }
  }

  /** A restored session of slot s, after the key's others (a snapshot lists them by start); the caller loads its accumulator. */
  restore(s: number, start: number, end: number): number {
    const w = this.alloc(s);
    this.start[w] = start;
    this.end[w] = end;
    let at = this.head[s]!;
    if (at === NONE) {
      this.setHead(s, w);
      this.live.append(s);
    } else {
      while (this.next[at] !== NONE) at = this.next[at]!;
      this.next[at] = w;
    }
    this.next[w] = NONE;
    return w;
  }

  private alloc(s: number): number {
    let w = this.freeId;
    if (w !== NONE) this.freeId = this.next[w]!;
    else {
      w = this.ids++;
      if (w === this.key.length) this.growSessions();
    }
    this.key[w] = this.slotKey[s]!;
    this.flags[w] = 0;
    this.emStart[w] = NaN;
    this.serial[w] = ++this.serials;
    initAcc(this.acc, w * this.stride, this.code);
    if (this.code === OP_VALS) this.vals.open(w);
    this.count++;
    return w;
  }

  /** Takes session w out of slot s's list (after `prev`, or the head when NONE). */
  private unlinkAfter(s: number, prev: number, w: number): void {
    if (prev === NONE) {
      this.setHead(s, this.next[w]!);
      if (this.head[s] === NONE) this.live.remove(s);
    } else this.next[prev] = this.next[w]!;
  }

  private unlink(s: number, w: number): void {
    let prev = NONE, at = this.head[s]!;
    while (at !== w) {
      prev = at;
      at = this.next[at]!;
    }
    this.unlinkAfter(s, prev, w);
  }

  /** Frees session w, the next session `prev` → w of slot s (prev NONE: the first). */
  dropAfter(s: number, prev: number, w: number): void {
    this.unlinkAfter(s, prev, w);
    this.free(w);
  }

  /** Frees session w of slot s. */
  drop(s: number, w: number): void {
    this.unlink(s, w);
    this.free(w);
  }

  private free(w: number): void {
    this.serial[w] = 0;
    this.merged.delete(w);
    if (this.code === OP_VALS) this.vals.release(w);
    this.next[w] = this.freeId;
    this.freeId = w;
    this.count--;
  }

  /** Raises slot s's purged end to at least e. */
  purge(s: number, e: number): void {
    this.purgeTo(s, e);
  }

  /** purge(s, end[w]), reading the end here (see open). */
  purgeToEnd(s: number, w: number): void {
    this.purgeTo(s, this.end[w]!);
  }

  private purgeTo(s: number, e: number): void {
    const p = this.purged[s]!;
    if (p === -Infinity) {
      this.ends.append(s);
      this.purgedCount++;
    }
    this.purged[s] = Math.max(p, e);
  }

  /** Forgets slot s's purged end. */
  forget(s: number): void {
    this.purged[s] = -Infinity;
    this.ends.remove(s);
    this.purgedCount--;
    this.release(s);
  }

  /** After a removal: frees the slot if its key holds nothing. */
  settle(s: number): void {
    this.release(s);
  }

  /** Whether most of the room is empty (after a burst of keys that all closed): then compacted() gives it back. */
  get sparse(): boolean {
    const room = Math.max(this.key.length, this.slotKey.length);
    return room > 4096 && 4 * (this.count + this.slots.size) < room;
  }

  /**
   * The same sessions and purged ends in a new store of just the room they
   * need, in the same orders; `moved` gets each session's new id at its old
   * one (timers are renumbered with it).
   */
  compacted(moved: Int32Array): SessionStore {
    const to = new SessionStore(this.stride, this.code);
    to.serials = this.serials;
    for (const s of this.live.list()) {
      const slot = to.slotOf(this.slotKey[s]!);
      for (let w = this.head[s]!; w !== NONE; w = this.next[w]!) {
        const v = to.restore(slot, this.start[w]!, this.end[w]!);
        moved[w] = v;
        to.flags[v] = this.flags[w]!;
        to.emStart[v] = this.emStart[w]!;
        to.emEnd[v] = this.emEnd[w]!;
        to.serial[v] = this.serial[w]!;
        to.acc.set(this.acc.subarray(w * this.stride, (w + 1) * this.stride), v * this.stride);
        if (this.code === OP_VALS) {
          to.vals.setRun(v, this.vals.data, this.vals.off(w), this.vals.len(w));
        }
        const merged = this.merged.get(w);
        if (merged !== undefined) to.merged.set(v, merged);
      }
    }
    for (const s of this.ends.list()) to.purge(to.slotOf(this.slotKey[s]!), this.purged[s]!);
    return to;
  }

  /** Bytes of the typed arrays held (room included). */
  get bytes(): number {
    const perSession = [this.key, this.start, this.end, this.flags, this.emStart, this.emEnd, this.serial, this.next, this.acc];
    const perSlot = [this.slotKey, this.head, this.purged];
    return [...perSession, ...perSlot].reduce((n, a) => n + a.byteLength, 0) + this.firstByKey.byteLength + this.live.bytes + this.ends.bytes + this.vals.bytes;
  }

  /** Room for session ids (for compacted's map). */
  get idRoom(): number {
    return this.ids;
  }

  /** Slots holding sessions, in the snapshot's order. */
  liveSlots(): number[] {
    return this.live.list();
  }

  /** Slots holding a purged end, in the snapshot's order. */
  purgedSlots(): number[] {
    return this.ends.list();
  }

  private growSessions(): void {
    this.key = grow(this.key);
    this.start = grow(this.start);
    this.end = grow(this.end);
    this.emStart = grow(this.emStart);
    this.emEnd = grow(this.emEnd);
    this.serial = grow(this.serial);
    this.next = growIds(this.next);
    this.fireRec = growIds(this.fireRec);
    const flags = new Uint8Array(this.key.length);
    flags.set(this.flags);
    this.flags = flags;
    const acc = new Float64Array(this.key.length * this.stride);
    acc.set(this.acc);
    this.acc = acc;
  }
}

/** Slots in insertion order: a doubly linked list over slot numbers. */
class SlotList {
  private prev: Int32Array<ArrayBuffer> = new Int32Array(16).fill(NONE);
  private next: Int32Array<ArrayBuffer> = new Int32Array(16).fill(NONE);
  private first = NONE;
  private last = NONE;

  grow(): void {
    this.prev = growIds(this.prev);
    this.next = growIds(this.next);
  }

  append(s: number): void {
    this.prev[s] = this.last;
    this.next[s] = NONE;
    if (this.last === NONE) this.first = s;
    else this.next[this.last] = s;
    this.last = s;
  }

  remove(s: number): void {
    const p = this.prev[s]!, n = this.next[s]!;
    if (p === NONE) this.first = n;
    else this.next[p] = n;
    if (n === NONE) this.last = p;
    else this.prev[n] = p;
  }

  get bytes(): number {
    return this.prev.byteLength + this.next.byteLength;
  }

  list(): number[] {
    const out: number[] = [];
    for (let s = this.first; s !== NONE; s = this.next[s]!) out.push(s);
    return out;
  }
}

/** Timer types, in the order they run at one time. */
export const FIRE = 0;
export const PURGE = 1;
/** Session: the key's purged end no longer decides lateness (see forget). */
export const FORGET = 2;

/**
 * Timers ordered by (time, type, key id, start), in typed arrays: a timer is
 * a record (time, type, key, start, session id, the session's serial
 * number). A record sits in one of two places: a list sorted by that order,
 * which takes a record only at its tail (a stream in event-time order queues
 * its timers in order: O(1) each, and a session that grows moves its fire
 * timer to the tail, O(1)), or a min-heap for the rest (timers queued out of
 * order). The top is the least of the list's head and the heap's top.
 */
export class TimerQueue {
  time = new Float64Array(16);
  type = new Uint8Array(16);
  key = new Uint32Array(16);
  start = new Float64Array(16);
  session = new Int32Array(16);
  serial = new Float64Array(16);
  /** The sorted list: links per record, and whether the record is in it (else in the heap). */
  private prev: Int32Array<ArrayBuffer> = new Int32Array(16).fill(NONE);
  private next: Int32Array<ArrayBuffer> = new Int32Array(16).fill(NONE);
  private inList = new Uint8Array(16);
  private head = NONE;
  private tail = NONE;
  private listN = 0;
  private heap = new Int32Array(16);
  private n = 0;
  private freeRecs: number[] = [];
  private recs = 0;

  get size(): number {
    return this.n + this.listN;
  }

  /** Timers in the heap (queued out of order); the rest are in the sorted list. */
  get heapSize(): number {
    return this.n;
  }

  /** The record at the top, or NONE. */
  peek(): number {
    const l = this.head;
    if (this.n === 0) return l;
    const h = this.heap[0]!;
    return l !== NONE && this.before(l, h) ? l : h;
  }

  /** less(a, b), with the usual case (times differ) decided here: small enough to inline. */
  private before(a: number, b: number): boolean {
    const ta = this.time[a]!, tb = this.time[b]!;
    return ta < tb || (ta === tb && this.less(a, b));
  }

  private less(a: number, b: number): boolean {
    const ta = this.time[a]!, tb = this.time[b]!;
    if (ta !== tb) return ta < tb;
    if (this.type[a] !== this.type[b]) return this.type[a]! < this.type[b]!;
    if (this.key[a] !== this.key[b]) return this.key[a]! < this.key[b]!;
    return this.start[a]! < this.start[b]!;
  }

  /** Queues a timer; returns its record number (valid until the record pops). */
  push(time: number, type: number, key: number, start: number, session: number, serial: number): number {
    const r = this.claim();
    this.time[r] = time;
    this.start[r] = start;
    return this.queue(r, type, key, session, serial);
  }

  /**
   * A free record for a timer (the arrays may grow: read them after). The
   * caller writes its time[r] and start[r], then queues it (queue): the
   * operator's hot paths pass no double to a call that V8 may not inline,
   * which boxes it (epoch-ms times are no small integers).
   */
  claim(): number {
    let r = this.freeRecs.pop();
    if (r === undefined) {
      r = this.recs++;
      if (r === this.time.length) this.growRecs();
    }
    return r;
  }

  /** Queues claimed record r (its time and start written); returns r. */
  queue(r: number, type: number, key: number, session: number, serial: number): number {
    this.type[r] = type;
    this.key[r] = key;
    this.session[r] = session;
    this.serial[r] = serial;
    this.place(r);
    return r;
  }

  /** Puts record r at the list's tail when it sorts there, else into the heap (after takeTop: the top moved on). */
  place(r: number): void {
    if (this.tail === NONE || !this.before(r, this.tail)) this.append(r);
    else this.heapPush(r);
  }

  private append(r: number): void {
    this.inList[r] = 1;
    this.prev[r] = this.tail;
    this.next[r] = NONE;
    if (this.tail === NONE) this.head = r;
    else this.next[this.tail] = r;
    this.tail = r;
    this.listN++;
  }

  private unlink(r: number): void {
    const p = this.prev[r]!, q = this.next[r]!;
    if (p === NONE) this.head = q;
    else this.next[p] = q;
    if (q === NONE) this.tail = p;
    else this.prev[q] = p;
    this.inList[r] = 0;
    this.listN--;
  }

  private heapPush(r: number): void {
    // A reused record (after clear()) may have been in the list.
    this.inList[r] = 0;
    if (this.n === this.heap.length) {
      const more = new Int32Array(2 * this.n);
      more.set(this.heap);
      this.heap = more;
    }
    const h = this.heap;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(r, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = r;
  }

  /** Takes the top record out (without freeing it): retimeTop's first half, for a caller that writes the time itself (see claim). */
  take(): number {
    const top = this.peek();
    if (this.inList[top] === 1) this.unlink(top);
    else {
      const last = this.heap[--this.n]!;
      if (this.n > 0) this.siftDown(last);
    }
    return top;
  }

  /** Removes the top record; its fields stay readable until the next push. */
  pop(): number {
    const top = this.take();
    this.freeRecs.push(top);
    return top;
  }

  /** Moves the top timer on to a later time (its session grew): a pop and a push of it. */
  retimeTop(time: number, start: number): void {
    const r = this.take();
    this.time[r] = time;
    this.start[r] = start;
    this.place(r);
  }

  /**
   * Moves record r (queued) on to session w's later end (time) and start
   * when it then sorts at the list's tail: true then. Otherwise it stays
   * where it is (and is moved on when it comes up, as retimeTop does). The
   * arrays are passed, not the doubles: a double passed to a call that is
   * not inlined is boxed.
   */
  moveToTail(r: number, ends: Float64Array, starts: Float64Array, w: number): boolean {
    if (this.inList[r] !== 1) return false;
    const time = ends[w]!, start = starts[w]!;
    const tail = this.tail;
    if (r !== tail) {
      // less(r, tail) with r's new time and start, the usual case (times differ) first.
      const tt = this.time[tail]!;
      if (time < tt || (time === tt && this.sortsBefore(this.type[r]!, this.key[r]!, start, tail))) return false;
      // Unlink r (it has a next: the tail) and append it; it stays in the list, so inList and listN stay.
      const p = this.prev[r]!, q = this.next[r]!;
      if (p === NONE) this.head = q;
      else this.next[p] = q;
      this.prev[q] = p;
      this.prev[r] = tail;
      this.next[r] = NONE;
      this.next[tail] = r;
      this.tail = r;
    }
    this.time[r] = time;
    this.start[r] = start;
    return true;
  }

  /** less(a, b) at equal times, for a timer a not yet written (type, key, start). */
  private sortsBefore(type: number, key: number, start: number, b: number): boolean {
    if (type !== this.type[b]) return type < this.type[b]!;
    if (key !== this.key[b]) return key < this.key[b]!;
    return start < this.start[b]!;
  }

  /** Places record r from the root down. */
  private siftDown(r: number): void {
    const h = this.heap;
    let i = 0;
    for (;;) {
      const a = 2 * i + 1, b = a + 1;
      let m = r;
      let at = i;
      if (a < this.n && this.less(h[a]!, m)) {
        m = h[a]!;
        at = a;
      }
      if (b < this.n && this.less(h[b]!, m)) {
        m = h[b]!;
        at = b;
      }
      if (at === i) break;
      h[i] = m;
      i = at;
    }
    h[i] = r;
  }

  clear(): void {
    this.n = 0;
    this.recs = 0;
    this.freeRecs = [];
    this.head = this.tail = NONE;
    this.listN = 0;
  }

  /** Bytes of the typed arrays held (room included). */
  get bytes(): number {
    return [this.time, this.type, this.key, this.start, this.session, this.serial, this.heap, this.prev, this.next, this.inList].reduce((n, a) => n + a.byteLength, 0);
  }

  /** Whether most of the records' room is empty. */
  get sparse(): boolean {
    return this.time.length > 4096 && 4 * this.size < this.time.length;
  }

  /** The queued records (in no particular order). */
  records(): number[] {
    const out = Array.from(this.heap.subarray(0, this.n));
    for (let r = this.head; r !== NONE; r = this.next[r]!) out.push(r);
    return out;
  }

  /**
   * The same timers in a new queue of just the room they need, their
   * sessions renumbered by `moved` (old id → new id); a timer whose session
   * is gone keeps a serial no session has (−1), so it is skipped as before.
   */
  compacted(moved: Int32Array, serialOf: Float64Array): TimerQueue {
    const to = new TimerQueue();
    // The list first, in its order: its records stay in the new list.
    const recs = this.records();
    for (const r of [...recs.slice(this.n), ...recs.slice(0, this.n)]) {
      let w = this.session[r]!, serial = this.serial[r]!;
      if (this.type[r] !== FORGET) {
        const v = w < moved.length ? moved[w]! : -1;
        if (v >= 0 && serialOf[v] === serial) w = v;
        else serial = -1;
      }
      to.push(this.time[r]!, this.type[r]!, this.key[r]!, this.start[r]!, w, serial);
    }
    return to;
  }

  private growRecs(): void {
    this.time = grow(this.time);
    this.key = grow(this.key);
    this.start = grow(this.start);
    this.serial = grow(this.serial);
    const type = new Uint8Array(this.time.length);
    type.set(this.type);
    this.type = type;
    const inList = new Uint8Array(this.time.length);
    inList.set(this.inList);
    this.inList = inList;
    this.session = grow(this.session);
    this.prev = growIds(this.prev);
    this.next = growIds(this.next);
  }
}
