// `run`'s input read while its ops start: scheduler workers boot (~50 ms of
// CPU each, on the other core) and kernels compile while the coordinator
// would otherwise wait idle; instead it reads and parses the first batches
// meanwhile, and hands them out once the ops are up. The batches and their
// order are the same; only when they are read changes.

/**
 * Batches of `source`, the first read ahead while `until` is pending (at
 * most `most` of them). A read that fails ahead is held and thrown where its
 * batch would have come, so errors reach the consumer in the same order.
 */
export class ReadAhead<T> implements AsyncIterable<T> {
  private readonly it: AsyncIterator<T>;
  private readonly ahead: IteratorResult<T>[] = [];
  private failure: { error: unknown } | undefined;
  private reading: Promise<void>;
  private waiting = true;

  constructor(source: AsyncIterable<T>, until: Promise<unknown>, most: number) {
    this.it = source[Symbol.asyncIterator]();
    const go = (): void => {
      this.waiting = false;
    };
    until.then(go, go);
    this.reading = this.readWhileWaiting(most);
  }

  private async readWhileWaiting(most: number): Promise<void> {
    while (this.waiting && this.ahead.length < most) {
      try {
        const r = await this.it.next();
        this.ahead.push(r);
        if (r.done === true) return;
      } catch (error) {
        this.failure = { error };
        return;
      }
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    this.waiting = false;
    await this.reading;
    let ended = false;
    try {
      while (this.ahead.length > 0) {
        const r = this.ahead.shift() as IteratorResult<T>;
        if (r.done === true) {
          ended = true;
          return;
        }
        yield r.value;
      }
      if (this.failure !== undefined) {
        ended = true;
        throw this.failure.error;
      }
      for (;;) {
        const r = await this.it.next();
        if (r.done === true) {
          ended = true;
          return;
        }
        yield r.value;
      }
    } finally {
      // The consumer stopped early (a failure, a signal): the source closes as under a for-await of its own.
      if (!ended) await this.it.return?.();
    }
  }

  /** Stops reading ahead and closes the source (the ops failed to start: no batch is taken). */
  async close(): Promise<void> {
    this.waiting = false;
    await this.reading;
    if (this.failure === undefined && this.ahead.at(-1)?.done !== true) await this.it.return?.();
  }
}

/** Rows read ahead at most: ~12 MB of columns, more than 2 workers' start-up lets the coordinator parse. */
const READ_AHEAD_ROWS = 1 << 20;

/** Batches of `batchSize` rows read ahead at most (at least one). */
export function readAheadBatches(batchSize: number): number {
  return Math.max(1, Math.min(1024, Math.floor(READ_AHEAD_ROWS / batchSize)));
}
