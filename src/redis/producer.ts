// The producer: routes rows to their partitions by key and appends them to
// the input streams, one entry per partition per call.
import { type RedisConnectionOptions, connectCore } from './config.js';
import { encodeColumn, encodeKeyColumn, encodeRows } from './codec.js';
import { Commands, createJob, readJob, type Job, type JobDefinition } from './job.js';
import { PartitionCache } from './partition-cache.js';

/**
 * Options of {@link createProducer}: the connection and the job. Unlike a
 * worker's, a producer's connection gives up after `maxOutageMs` = 10 000 ms
 * by default.
 *
 * @example
 * ```ts
 * const options: ProducerOptions = { url: 'redis://127.0.0.1:6379', job: 'prices', maxRowsPerEntry: 500 };
 * ```
 */
export interface ProducerOptions extends RedisConnectionOptions {
  /** The job's name. */
  job: string;
  /** Creates the job with this definition if it does not exist (and checks it matches if it does). */
  create?: JobDefinition;
  /** Most rows in one stream entry; bigger batches are split. @default 1000 */
  maxRowsPerEntry?: number;
  /**
   * The longest a sent row waits for more rows to share its stream entry, in
   * ms (Kafka's `linger.ms`). With 0, every `send` writes its own entries at
   * once. Above 0, the rows of several sends are gathered per partition and
   * written when a partition holds `maxRowsPerEntry` rows, or the first row
   * gathered has waited this long, or on `close`: fewer, fuller entries
   * (fewer commits for the workers) for a bounded latency.
   * @default 0
   */
  lingerMs?: number;
  /**
   * Connections the appends go out on: partition p's entries on connection
   * p mod `connections`, so one partition's entries stay in order. Under
   * load redis-server reads a connection about 16 KB per round of its event
   * loop (each round ending in an fsync under `appendfsync always`), so one
   * connection's appends beyond that wait for the next rounds; n connections
   * are read n times as much per round (issue 20).
   * @default 1
   */
  connections?: number;
}

/** Appends rows to a job's input. */
export interface Producer {
  /** The job the producer appends to, as stored in Redis. */
  readonly job: Job;
  /**
   * Appends rows: row i has key `keys[i]` and value `values[i]`. Rows of a key
   * keep their order. Resolves once Redis has acknowledged every entry.
   * Returns the number of entries written (with `lingerMs`, by the write
   * that carried these rows, rows of other sends included).
   */
  send(keys: readonly string[], values: ArrayLike<number>): Promise<number>;
  /** Writes the rows still gathered (`lingerMs`), then closes the connection. */
  close(): Promise<void>;
}

/** The outcome of a write not made yet: the sends whose rows it will carry wait for it. */
interface Pending {
  promise: Promise<number>;
  resolve: (n: number) => void;
  reject: (e: unknown) => void;
}

function pending(): Pending {
  let resolve!: (n: number) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<number>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => undefined); // each send's caller gets the error; none is left unhandled
  return { promise, resolve, reject };
}

/** Rows per partition, in order. */
type Routed = Map<number, { keys: string[]; values: number[] }>;

/**
 * An input entry's fields for the job's format: text (1); the values as a
 * binary column, no decimal text to write or parse (2); and the keys as a
 * binary key column too, no JSON (3 and 4).
 */
function entryFields(job: Job, keys: string[], values: number[]): (string | Buffer)[] {
  if (job.format === 1) return Object.entries(encodeRows(keys, values)).flat();
  const x = encodeColumn(Float64Array.from(values));
  return job.format >= 3 ? ['kc', encodeKeyColumn(keys), 'x', x] : ['k', JSON.stringify(keys), 'x', x];
}

/**
 * Connects and returns a producer for a job. Rejects with a RedisJobError
 * (`CONNECT`, `AUTH`, `TLS`, `NO_JOB`, `JOB_MISMATCH`, `CONFIG`).
 *
 * @example
 * ```ts
 * const producer = await createProducer({ url: 'redis://127.0.0.1:6379', job: 'prices',
 *   create: { partitions: 64, spec: { op: 'mean', window: 20 } } });
 * await producer.send(['AAPL', 'MSFT'], [189.1, 402.3]);
 * await producer.close();
 * ```
 */
export async function createProducer(options: ProducerOptions): Promise<Producer> {
  const connections = options.connections ?? 1;
  if (!Number.isInteger(connections) || connections < 1 || connections > 64) throw new RangeError(`connections must be an integer from 1 to 64, got ${connections}`);
  const connect = () => connectCore({ ...options, maxOutageMs: options.maxOutageMs ?? 10_000 });
  const conn = await connect();
  /** Every connection: the first creates or reads the job. */
  const conns = [conn];
  const closeAll = async (): Promise<void> => void (await Promise.all(conns.map((c) => c.close())));
  try {
    const cmd = new Commands(conn);
    const job = options.create !== undefined ? await createJob(cmd, options.job, options.create) : await readJob(cmd, options.job);
    while (conns.length < Math.min(connections, job.partitions)) conns.push(await connect());
    /** Partition p's appends go out on cmds[p mod cmds.length]: in order per partition. */
    const cmds = conns.map((c) => (c === conn ? cmd : new Commands(c)));
    const maxRows = options.maxRowsPerEntry ?? 1000;
    if (!Number.isInteger(maxRows) || maxRows < 1) throw new RangeError(`maxRowsPerEntry must be a positive integer, got ${maxRows}`);
    const lingerMs = options.lingerMs ?? 0;
    if (typeof lingerMs !== 'number' || !(lingerMs >= 0 && lingerMs < Infinity)) throw new RangeError(`lingerMs must be a non-negative finite number, got ${lingerMs}`);
    const partitionOfKey = new PartitionCache(job.partitions);
    /** Routes rows to their partitions, checking every one (a bad row throws before anything is sent). */
    const route = (keys: readonly string[], values: ArrayLike<number>): Routed => {
      if (keys.length !== values.length) throw new RangeError(`keys and values differ in length (${keys.length} and ${values.length})`);
      const byPartition: Routed = new Map();
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        if (typeof key !== 'string') throw new TypeError(`key ${i} must be a string, got ${typeof key}`);
        const value = values[i]!;
        if (typeof value !== 'number') throw new TypeError(`value ${i} must be a number, got ${typeof value}`);
        const p = partitionOfKey.of(key);
        let group = byPartition.get(p);
        if (group === undefined) byPartition.set(p, (group = { keys: [], values: [] }));
        group.keys.push(key);
        group.values.push(value);
      }
      return byPartition;
    };
    /** Appends the routed rows, one entry per partition per maxRows rows; resolves with the entries written. */
    const write = async (byPartition: Routed): Promise<number> => {
      const writes: Promise<unknown>[] = [];
      for (const [p, group] of byPartition) {
        for (let at = 0; at < group.keys.length; at += maxRows) {
          const keys = group.keys.slice(at, at + maxRows);
          const values = group.values.slice(at, at + maxRows);
          writes.push(cmds[p % cmds.length]!.send(['XADD', job.keys.input(p), '*', ...entryFields(job, keys, values)]));
        }
      }
      // One partition's entries are sent in order on one connection, so they are appended in order.
      await Promise.all(writes);
      return writes.length;
    };
    if (lingerMs === 0) {
      return {
        job,
        send: async (keys, values) => write(route(keys, values)),
        close: closeAll,
      };
    }
    // lingerMs: rows gathered per partition, written together by the timer or a full entry.
    let gathered: Routed = new Map();
    let next: Pending | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = (): Promise<number> => {
      clearTimeout(timer);
      timer = undefined;
      const waiting = next;
      if (waiting === undefined) return Promise.resolve(0);
      const batch = gathered;
      gathered = new Map();
      next = undefined;
      write(batch).then(waiting.resolve, waiting.reject);
      return waiting.promise;
    };
    return {
      job,
      send(keys, values) {
        let full = false;
        try {
          for (const [p, rows] of route(keys, values)) {
            const group = gathered.get(p);
            if (group === undefined) gathered.set(p, rows);
            else {
              for (let i = 0; i < rows.keys.length; i++) {
                group.keys.push(rows.keys[i]!);
                group.values.push(rows.values[i]!);
              }
            }
            full ||= (group ?? rows).keys.length >= maxRows;
          }
        } catch (err) {
          return Promise.reject(err);
        }
        next ??= pending();
        const mine = next.promise;
        if (full) void flush();
        else timer ??= setTimeout(() => void flush(), lingerMs);
        return mine;
      },
      async close() {
        await flush().catch(() => 0);
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
