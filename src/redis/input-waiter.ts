// Wakes idle partition loops of a worker when their input stream gets an
// entry (issue 20). Without it an idle partition polls with XRANGE and
// sleeps up to pollMs in between, so an entry arriving on a quiet partition
// waited up to pollMs (25 ms by default) before it was even read.
//
// One dedicated connection runs XREAD BLOCK over the input streams of every
// waiting partition, each after the last id its loop has read: an entry
// already there answers at once, so no wake-up is lost between a partition's
// empty read and its registration. The entries it returns are the ones the
// loop's own XRANGE would read (same start, same COUNT), so they are handed
// over: one round trip less, which with appendfsync always is one fsync less. A partition that starts waiting while a
// block is in flight without it interrupts the block (CLIENT UNBLOCK from the
// worker's main connection), and the next XREAD covers it. It only wakes
// loops early: each loop still re-reads when its own poll timer fires, so the
// worker works as before if the waiter's connection fails. Not used on a
// Redis Cluster, where the partitions' streams live in different slots.
import type { RedisConnection } from './config.js';

/** How long one XREAD blocks at most (ms); a change of the waiting set interrupts it sooner. */
const BLOCK_MS = 1000;

/** An entry as read (binary: field values stay bytes). */
export type StreamEntry = [id: Buffer, fields: Buffer[]];

interface Waiting {
  after: string;
  wake: (entries?: StreamEntry[]) => void;
}

export class InputWaiter {
  /** Input stream → the last id its loop has read, and how to wake it. */
  private readonly waiting = new Map<string, Waiting>();
  /** The streams (and ids) of the XREAD in flight. */
  private blocked = new Map<string, string>();
  private clientId: string | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly conn: RedisConnection,
    /** Sends CLIENT UNBLOCK on another connection (the blocked one cannot). */
    private readonly unblock: (clientId: string) => Promise<unknown>,
    /** Entries read per stream at most: the loops' own XRANGE COUNT. */
    private readonly count: number,
  ) {}

  /**
   * Resolves with the entries of `stream` after `after` (up to `count`) as
   * soon as there are some, or with undefined after `timeoutMs` (the caller
   * then reads again, as without a waiter).
   */
  wait(stream: string, after: string, timeoutMs: number): Promise<StreamEntry[] | undefined> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(undefined);
      const waiting: Waiting = {
        after,
        wake: (entries) => {
          clearTimeout(timer);
          if (this.waiting.get(stream) === waiting) this.waiting.delete(stream);
          resolve(entries);
        },
      };
      const timer = setTimeout(() => waiting.wake(undefined), timeoutMs);
      this.waiting.set(stream, waiting);
      if (this.loop === undefined) this.loop = this.run().finally(() => (this.loop = undefined));
      else if (this.blocked.get(stream) !== after) this.interrupt();
    });
  }

  /** Wakes every waiting loop and ends the blocking read; the connection is closed. */
  async close(): Promise<void> {
    this.closed = true;
    this.wakeAll();
    this.interrupt();
    await this.loop;
    await this.conn.close();
  }

  private interrupt(): void {
    if (this.clientId !== undefined && this.blocked.size > 0) this.unblock(this.clientId).catch(() => undefined);
  }

  private wakeAll(): void {
    for (const { wake } of [...this.waiting.values()]) wake(undefined);
  }

  private async run(): Promise<void> {
    while (!this.closed && this.waiting.size > 0) {
      this.blocked = new Map([...this.waiting].map(([stream, w]) => [stream, w.after]));
      const sent = this.blocked;
      const streams = [...this.blocked.keys()];
      let reply: unknown;
      try {
        // Sent together: the id is this connection's current one (it changes on a reconnect).
        const [id, read] = await Promise.all([
          this.conn.sendCommand(['CLIENT', 'ID']),
          this.conn.sendCommand(['XREAD', 'COUNT', String(this.count), 'BLOCK', String(BLOCK_MS), 'STREAMS', ...streams, ...this.blocked.values()], true),
        ]);
        this.clientId = String(id);
        reply = read;
      } catch {
        // The loops poll on their own timers; stop waking them early.
        this.blocked = new Map();
        this.wakeAll();
        return;
      }
      this.blocked = new Map();
      for (const [stream, entries] of streamsOf(reply)) {
        const waiting = this.waiting.get(stream);
        // A loop that registered again after another id meanwhile reads for itself.
        if (waiting !== undefined) waiting.wake(waiting.after === sent.get(stream) ? entries : undefined);
      }
    }
  }
}

/** The streams of an XREAD reply and their entries: null, [[name, entries], …] (RESP2), or a map (RESP3). */
function streamsOf(reply: unknown): [string, StreamEntry[]][] {
  if (reply === null || typeof reply !== 'object') return [];
  const pairs = Array.isArray(reply) ? (reply as [Buffer | string, StreamEntry[]][]) : reply instanceof Map ? [...(reply as Map<Buffer | string, StreamEntry[]>)] : Object.entries(reply as Record<string, StreamEntry[]>);
  return pairs.map(([name, entries]) => [String(name), entries]);
}
