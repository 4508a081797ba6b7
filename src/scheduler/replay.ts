// The push-mode replay log: every pushed batch, copied into chunks the job
// reuses, kept until a checkpoint covers it (a failure replays it into fresh
// workers). Before, the log held the pushed arrays themselves: a live feed's
// per-push arrays then survived into the old generation until a checkpoint,
// and the caller could not reuse them. Copied, the caller's arrays die young
// (or are reused), and the log allocates nothing once its chunks are pooled
// (issue 20: ArrayBuffer bytes allocated per row are V8's "external memory",
// whose growth starts the coordinator's major GCs). The pool keeps as many
// chunks as the log held at the most at its last DROPS_KEPT drops (at least
// MIN_FREE), so intervals of uneven length reuse chunks too: a checkpoint
// interval holding more rows than a fixed pool (issue 12: a checkpoint per
// second at 6 M rows/s held 92 chunks against a pool of 64) allocated the
// rest anew every interval and dropped as much as garbage at each commit:
// 1–1.5 more of the coordinator's major GCs per second.
import type { Batch } from './types.js';

/** Rows per chunk (a larger batch gets a chunk of its own, a power of two of rows). */
const CHUNK_ROWS = 1 << 16;
/** Free chunks kept for reuse at least (more when the log held more at its last drops: see dropTo). */
const MIN_FREE = 64;
/** Drops whose chunks held size the pool: checkpoint intervals vary (a slow store, an explicit checkpoint between periodic ones). */
const DROPS_KEPT = 8;

interface Chunk {
  capacity: number;
  values: Float64Array;
  keys: Uint32Array | undefined;
  times: Float64Array | undefined;
  /** Rows written from the start. */
  used: number;
  /** Rows of entries not yet dropped. */
  live: number;
}

interface Entry {
  offset: number;
  batch: Batch;
  chunk: Chunk;
}

const capacityFor = (rows: number): number => Math.max(CHUNK_ROWS, 2 ** Math.ceil(Math.log2(rows)));

export class ReplayLog {
  /** Entries in offset order from `head` on (dropped ones before it, compacted now and then). */
  private entries: Entry[] = [];
  private head = 0;
  private free: Chunk[] = [];
  private current: Chunk | undefined;
  /** Chunks holding entries or being filled (not free): at a drop, what the interval since the previous one needed. */
  private held = 0;
  /** Chunks held at each of the last DROPS_KEPT drops (a ring). */
  private readonly heldAtDrops = new Int32Array(DROPS_KEPT);
  private drops = 0;
  /** Free chunks kept at most: the most chunks held at the last DROPS_KEPT drops, at least MIN_FREE. */
  private maxFree = MIN_FREE;
  /** Chunks allocated so far (tests: a log in a steady state allocates none). */
  allocated = 0;

  /** Copies `batch` (rows from `offset` on) into the log; returns the copy, views the log owns until `dropTo` passes it. */
  append(offset: number, batch: Batch): Batch {
    const rows = batch.values.length;
    const chunk = this.chunkFor(rows, batch);
    const at = chunk.used;
    const copy: Batch = { values: copyInto(chunk.values, at, batch.values) };
    if (batch.keys !== undefined) copy.keys = copyInto(chunk.keys!, at, batch.keys);
    if (batch.times !== undefined) copy.times = copyInto(chunk.times!, at, batch.times);
    chunk.used += rows;
    chunk.live += rows;
    this.entries.push({ offset, batch: copy, chunk });
    return copy;
  }

  /** The entry starting at `offset`, if any. */
  at(offset: number): Batch | undefined {
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.offset === offset) return e.batch;
      if (e.offset > offset) break;
    }
    return undefined;
  }

  /** Drops the entries that end at or before `offset` (a checkpoint covers them); emptied chunks are reused. */
  dropTo(offset: number): void {
    const { entries } = this;
    // The next intervals will likely need what the last ones did: keep that many free, and no more (a long one's excess goes).
    this.heldAtDrops[this.drops++ % DROPS_KEPT] = this.held;
    this.maxFree = Math.max(MIN_FREE, ...this.heldAtDrops);
    if (this.free.length > this.maxFree) this.free.length = this.maxFree;
    while (this.head < entries.length) {
      const e = entries[this.head]!;
      const rows = e.batch.values.length;
      if (e.offset + rows > offset) break;
      this.head++;
      const chunk = e.chunk;
      chunk.live -= rows;
      if (chunk.live === 0) {
        chunk.used = 0;
        if (chunk !== this.current) this.release(chunk);
      }
    }
    if (this.head > 1024 && this.head * 2 > entries.length) {
      this.entries = entries.slice(this.head);
      this.head = 0;
    }
  }

  /** A chunk with room for `rows` more rows of `batch`'s columns. */
  private chunkFor(rows: number, batch: Batch): Chunk {
    const c = this.current;
    if (c !== undefined && c.used + rows <= c.capacity) return c;
    let chunk: Chunk | undefined;
    for (let i = this.free.length - 1; i >= 0 && chunk === undefined; i--) if (this.free[i]!.capacity >= rows) chunk = this.free.splice(i, 1)[0];
    if (chunk === undefined) {
      chunk = newChunk(capacityFor(rows), batch);
      this.allocated++;
    }
    this.held++;
    // The chunk left behind goes back to the pool once its last entry is dropped (dropTo), or now if it has none.
    if (c !== undefined && c.live === 0) {
      c.used = 0;
      this.release(c);
    }
    this.current = chunk;
    return chunk;
  }

  /** A chunk no entry holds any more: pooled, or left to the GC past `maxFree`. */
  private release(chunk: Chunk): void {
    this.held--;
    if (this.free.length < this.maxFree) this.free.push(chunk);
  }
}

/** A job's batches are all keyed or not, all timed or not: a chunk has the columns of its first batch. */
function newChunk(capacity: number, batch: Batch): Chunk {
  return {
    capacity,
    values: new Float64Array(capacity),
    keys: batch.keys === undefined ? undefined : new Uint32Array(capacity),
    times: batch.times === undefined ? undefined : new Float64Array(capacity),
    used: 0,
    live: 0,
  };
}

function copyInto<T extends Float64Array | Uint32Array>(into: T, at: number, from: T): T {
  into.set(from, at);
  return into.subarray(at, at + from.length) as T;
}
