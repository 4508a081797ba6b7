// The worker: owns partitions through fenced leases, runs every held
// partition's keys through one keyed kernel operator (one WebAssembly
// instance per worker, each key's state in a slab; a partition given back
// drops its keys from it), and commits outputs and state in one script per
// batch.
//
// Per owned partition, one step is: XRANGE the input after the last committed
// id (usually already read: see below); run the rows through the kernels;
// then commit (one transaction: commit.ts), which appends the outputs (ids =
// input ids), stores the new last id and the state (format 1: every key's
// snapshot; formats 2 to 4: the key groups the batch touched), and extends
// the lease, all or nothing, and only
// if the lease is still held with this worker's token and the checkpoint is
// still where this worker started. A step that is not committed (rejected, or
// the connection failed) throws its in-memory state away; the partition is
// restored from its checkpoint when it is taken (or re-taken) again. So
// outputs in Redis are exactly once whatever dies when.
//
// The next batch's XRANGE goes out right behind the commit (same connection,
// so after it), so reading overlaps the commit's round trip; if the commit
// fails, that read is thrown away with the rest.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { SnapshotError } from '../errors.js';
import { type RedisConnection, type RedisConnectionOptions, connectCore } from './config.js';
import { batchOutputs, readBatch } from './batch.js';
import { decodePartitionState, encodePartitionState } from './codec.js';
import { KeyedKernels, PartitionState, STATE_GROUPS } from './keyed.js';
import { RedisJobError } from './errors.js';
import { InputWaiter, type StreamEntry } from './input-waiter.js';
import { Commands, readJob, type Job } from './job.js';
import { rendezvousScore } from './keys.js';
import { commitTransaction, type CommitReply } from './commit.js';
import { ACQUIRE, HEARTBEAT, RELEASE, RENEW } from './scripts.js';

/**
 * Options of {@link startWorker}: the connection, the job and the lease timing.
 *
 * @example
 * ```ts
 * const options: WorkerOptions = { url: 'redis://127.0.0.1:6379', job: 'prices', leaseMs: 5000, log: (e) => console.error(e) };
 * ```
 */
export interface WorkerOptions extends RedisConnectionOptions {
  /** The job's name (it must exist: see {@link createJob}). */
  job: string;
  /**
   * This worker's id, unique among the job's workers: 1 to 100 of A–Z a–z 0–9 _ . -.
   * @default `<host name>-<pid>-<6 random hex digits>`
   */
  id?: string;
  /**
   * Lease length in ms: a dead worker's partitions are taken over this long
   * after its last commit or renewal.
   * @default 10000
   */
  leaseMs?: number;
  /**
   * Heartbeat (membership) period in ms.
   * @default max(20, floor(leaseMs / 3))
   */
  heartbeatMs?: number;
  /** Input entries read (and committed) per partition per step. @default 64 */
  readEntries?: number;
  /**
   * Longest sleep of an idle partition between two reads, in ms. Off a
   * cluster, an entry wakes its idle partition at once (a blocking XREAD on a
   * second connection); the polls are the fallback.
   * @default 25
   */
  pollMs?: number;
  /**
   * The longest input waits for a fuller batch, in ms (as Kafka's
   * `linger.ms`): when a read finds fewer than `readEntries` entries, the
   * worker waits this long and reads once more before it computes and
   * commits them together. 0: a batch is whatever one read finds. Fewer,
   * larger commits for a bounded latency; the outputs are the same.
   * @default 0
   */
  lingerMs?: number;
  /**
   * Job formats 3 and 4 only: stores a partition's state at most this often (ms)
   * instead of with every commit; the commits in between store outputs and
   * `last` only, and whoever takes the partition next recomputes the rows
   * since the state from the input (their outputs are already written).
   * Fewer state writes when a commit touches many keys; a longer recovery.
   * The state is stored when the partition is given back. 0: with every commit.
   * @default on formats 3 and 4, automatic: a commit stores the state when
   * its key groups' records are no larger than its results (8 bytes per
   * row), else the state is stored at most every 1000 ms, or every 10 times
   * the last state-storing commit's round trip if that is longer; on
   * formats 1 and 2, 0 (every commit)
   */
  stateEveryMs?: number;
  /**
   * Commits of one partition sent and not yet answered, at most, once the
   * next is sent (issue 20). 1: a partition's next read goes behind its
   * commit on the worker's connection, so it is answered with that commit
   * and the next commit leaves after the reply (one commit per round trip).
   * 2 or more: the reads go on a connection of their own, answered in the
   * round they reach, so a partition's next commit leaves while the one
   * before it is still in flight; each commit's FENCE expects the `last`
   * the commit before it writes, so it cannot apply unless that one did.
   * @default 1
   */
  commitsInFlight?: number;
  /**
   * Receives events (acquired, released, fenced, …); messages hold no secrets.
   * @default a no-op (events are dropped)
   */
  log?: (event: WorkerEvent) => void;
}

/** Something that happened in a worker, for logs. */
export interface WorkerEvent {
  /**
   * What happened: the worker `started`, `stopped` or `failed`; it `acquired`
   * or `released` a partition's lease; it was `fenced` (a commit, renewal or
   * release refused because the lease was lost or the checkpoint moved); it
   * will `retry` after a Redis error; or the `redis` client reported an error
   * or a reconnection.
   */
  event: 'started' | 'acquired' | 'released' | 'fenced' | 'retry' | 'redis' | 'stopped' | 'failed';
  /** The worker's id. */
  worker: string;
  /** The partition concerned, for partition events. */
  partition?: number;
  /** Further details, by event (never a secret). */
  [field: string]: unknown;
}

/** Counters of a worker's life. */
export interface WorkerStats {
  /** Input entries committed. */
  entries: number;
  /** Rows committed (in those entries). */
  rows: number;
  /** Commits that succeeded. */
  commits: number;
  /** Commits refused by the fence (lease lost, or checkpoint moved). */
  rejected: number;
  /** Partition leases taken. */
  acquired: number;
  /** Partition leases given back (not those lost). */
  released: number;
  /** Median commit round-trip time in ms (NaN before any commit). */
  commitP50: number;
  /** 99th-percentile commit round-trip time in ms (NaN before any commit). */
  commitP99: number;
  /**
   * Time (ms) since the worker took its first partition that it had nothing
   * to run (its event loop idle): waiting for Redis's replies, which under
   * `appendfsync always` includes the fsync rounds.
   */
  waitMs: number;
  /**
   * Median (ms) over the reads that found input: from
   * the append of the read's first entry (the time in its id, Redis's
   * clock) to the worker holding the read's reply. It is the input's wait
   * for the worker (its read or poll, its linger, the read's round trip);
   * meaningful when Redis runs on the worker's machine (same clock).
   */
  readAgeP50: number;
  /** 99th percentile of the same (see readAgeP50). */
  readAgeP99: number;
  /** Median (ms) of a batch's computation (decode, kernels, encode, the state records), per commit. */
  computeP50: number;
  /** 99th percentile of the same (see computeP50). */
  computeP99: number;
  /**
   * Median (ms) over the input entries committed: from the entry's append
   * (the time in its id, Redis's clock) to the worker holding its commit's
   * reply, when its outputs are durable and readable. The whole path in
   * Redis, without the producer's wait before the append or a consumer's
   * read after the commit; meaningful when Redis runs on the worker's
   * machine (same clock).
   */
  committedAgeP50: number;
  /** 99th percentile of the same (see committedAgeP50). */
  committedAgeP99: number;
  /** Commits sent while an earlier commit of the same partition was not yet answered (each fenced on the one before it). */
  pipelined: number;
}

/** A running worker. */
export interface WorkerHandle {
  /** The worker's id. */
  readonly id: string;
  /** The job the worker runs, as stored in Redis. */
  readonly job: Job;
  /** Partitions held now. */
  owned(): number[];
  /** The worker's counters so far. */
  stats(): WorkerStats;
  /** Finishes the current step, commits, gives every lease back and leaves. */
  stop(): Promise<WorkerStats>;
  /** Settles when the worker ends: resolves after stop(), rejects on a fatal error (RedisJobError). */
  readonly done: Promise<WorkerStats>;
}

interface Owned {
  p: number;
  token: string;
  last: string;
  state: PartitionState;
  renewedAt: number;
  /** The read of the entries after `last`, sent right behind the last commit. */
  next: Promise<StreamEntry[]> | undefined;
  /** Assigned to another worker: given back after the current step. */
  leaving: boolean;
  /** The last input id of the last commit sent (= last while none is in flight). */
  sent: string;
  /** The commits sent and not yet answered, oldest first. */
  inflight: Commit[];
  /** When the last commit storing the state was sent (performance.now()). */
  stateAt: number;
  /** The state stored in Redis lags the commits (stateEveryMs). */
  stateBehind: boolean;
  /** The input id the restored state is at, while it lags `last` (see catchUp). */
  catchUpFrom: string | undefined;
  /** The round trip (ms) of the last commit that stored the state (automatic stateEveryMs spaces state writes by it). */
  stateCommitMs: number;
  /**
   * The server has run FENCE for this partition since it was taken: its
   * commits send FENCE as EVALSHA, not its 2.1 KB source (commit.ts). False
   * after every take, so the first commit after a Redis restart loads it again.
   */
  fenceCached: boolean;
}

/**
 * stateEveryMs when not given, on formats 3 and 4: the interval at which a
 * state larger than its commit's results is stored. At 10 000 keys per
 * partition a commit of 16 000 rows touched most keys, so storing the state
 * with every commit wrote 2.2 KB per key (a median of 50) for 8 bytes of
 * results per row: 159 ms per commit (issue 14). A live stream's small
 * commits likewise wrote about 1 KB of state per row, each commit's fsync
 * holding up the rows behind it (issue 20).
 */
const AUTO_STATE_EVERY_MS = 1000;

/**
 * Automatic stateEveryMs: a deferred state is stored at most every this many
 * times the last state-storing commit's round trip (if longer than
 * AUTO_STATE_EVERY_MS), so state writes take about a tenth of a partition's
 * time: at 100 000 keys of a median of 50 the whole state is 220 MB, and
 * its commit took seconds; stored every second, the partition did little else.
 */
const AUTO_STATE_COST_FACTOR = 10;

/** Bytes of results per row in a commit (one double): what automatic stateEveryMs weighs the state records against. */
const RESULT_BYTES_PER_ROW = 8;


/**
 * Key-group records of a commit this large (bytes) go to FENCE as one
 * argument (issue 20). redis-server reads a connection about 48 KB per
 * round of its event loop, each round ending in an fsync (appendfsync
 * always), but an argument of 32 KB or more (PROTO_MBULK_BIG_ARG) in one
 * read: a format-2 commit's hundreds of 1.7 KB records took several rounds,
 * and every partition's commit sharing the worker's connection waited
 * behind them (1 000 keys: a 30-50 ms round trip on a quiet machine).
 */
const STATE_BLOB_MIN_BYTES = 32 * 1024;

/** ACQUIRE's reply: token, last id, format-1 state, key-group fields and values, the id a lagging state is at. */
type AcquireReply = [Buffer, Buffer, Buffer, Buffer[], Buffer];

/** A commit sent, and what it covers. */
interface Commit {
  reply: Promise<CommitReply>;
  started: number;
  /** When its reply came (performance.now() and Date.now()): its step may handle it later, behind the next read. */
  repliedAt?: number;
  /** Its reply (or failure) came: finishCommit will not wait for it. */
  settled?: boolean;
  repliedAtMs?: number;
  /** Its first and last input entry ids. */
  first: string;
  last: string;
  entries: number;
  rows: number;
  /** It stores the state. */
  withState: boolean;
  /** Its entries' append times (ms, Redis's clock: the time in their ids), for WorkerStats.committedAge. */
  appended: number[];
}


const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * stateEveryMs: when partition `p` of `partitions`, taken at `now`, counts
 * its state as last stored: p/partitions of the interval earlier. Partitions
 * taken together would otherwise store their states in the same round, and
 * that round's AOF write and fsync (every key's state at once: 1.7 MB for
 * 1 000 keys of a mean over 100) held up every row committed with it; spread
 * out, each round carries about 1/partitions of it (issue 20).
 */
function staggeredStateAt(now: number, p: number, partitions: number, stateEveryMs: number): number {
  return now - (p / partitions) * stateEveryMs;
}

function defaultId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40);
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Timings (ms) for WorkerStats' percentiles: the last 50 000 to 100 000 kept, so a long-running worker's memory stays bounded. */
class Samples {
  private values: number[] = [];
  push(ms: number): void {
    this.values.push(ms);
    if (this.values.length > 100_000) this.values.splice(0, 50_000);
  }
  /** The median and the 99th percentile (NaN when empty). */
  percentiles(): [number, number] {
    const sorted = [...this.values].sort((a, b) => a - b);
    return [percentile(sorted, 0.5), percentile(sorted, 0.99)];
  }
}

/** The append time (ms, Redis's clock) in a stream entry id `<ms>-<seq>`. */
function appendedAt(id: Buffer): number {
  const s = id.toString();
  return Number(s.slice(0, s.indexOf('-')));
}

/**
 * Connects, reads the job and starts working. Rejects with a RedisJobError
 * for a bad configuration (`CONFIG`, `CONNECT`, `AUTH`, `TLS`, `NO_JOB`);
 * errors after that (`BAD_CHECKPOINT`, `CONNECTION_LOST`) reject `done`.
 *
 * @example
 * ```ts
 * const worker = await startWorker({ url: 'redis://127.0.0.1:6379', job: 'prices' });
 * process.on('SIGTERM', () => void worker.stop());
 * await worker.done;
 * ```
 */
export async function startWorker(options: WorkerOptions): Promise<WorkerHandle> {
  const id = options.id ?? defaultId();
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(id)) throw new RedisJobError('CONFIG', 'worker id must be 1 to 100 characters of A-Z a-z 0-9 _ . -');
  const leaseMs = options.leaseMs ?? 10_000;
  if (!Number.isInteger(leaseMs) || leaseMs < 100) throw new RedisJobError('CONFIG', `leaseMs must be an integer ≥ 100, got ${leaseMs}`);
  const heartbeatMs = options.heartbeatMs ?? Math.max(20, Math.floor(leaseMs / 3));
  const readEntries = options.readEntries ?? 64;
  const pollMs = options.pollMs ?? 25;
  const lingerMs = options.lingerMs ?? 0;
  if (typeof lingerMs !== 'number' || !(lingerMs >= 0 && lingerMs < Infinity)) throw new RedisJobError('CONFIG', `lingerMs must be a non-negative finite number, got ${lingerMs}`);
  const explicitStateEveryMs = options.stateEveryMs;
  if (explicitStateEveryMs !== undefined && (!Number.isInteger(explicitStateEveryMs) || explicitStateEveryMs < 0)) {
    throw new RedisJobError('CONFIG', `stateEveryMs must be an integer ≥ 0, got ${explicitStateEveryMs}`);
  }
  const commitsInFlight = options.commitsInFlight ?? 1;
  if (!Number.isInteger(commitsInFlight) || commitsInFlight < 1) throw new RedisJobError('CONFIG', `commitsInFlight must be an integer ≥ 1, got ${commitsInFlight}`);
  const log = options.log ?? (() => {});
  const conn = await connectCore(options, (event, detail) => log({ event: 'redis', worker: id, what: event, detail }));
  let job: Job;
  try {
    job = await readJob(new Commands(conn), options.job);
  } catch (err) {
    await conn.close();
    throw err;
  }
  if (explicitStateEveryMs !== undefined && explicitStateEveryMs > 0 && job.format < 3) {
    await conn.close();
    throw new RedisJobError('CONFIG', `stateEveryMs needs a job of format 3 or 4; job '${job.name}' is of format ${job.format}`);
  }
  // Formats 3 and 4 (whose workers all know stateLast) defer a state larger than the commit's results unless told otherwise.
  const stateAuto = explicitStateEveryMs === undefined && job.format >= 3;
  const stateEveryMs = explicitStateEveryMs ?? (stateAuto ? AUTO_STATE_EVERY_MS : 0);
  // Wakes idle partitions when input arrives (not on a cluster: one XREAD cannot span the partitions' slots).
  let waiter: InputWaiter | undefined;
  if (options.cluster !== true) {
    try {
      waiter = new InputWaiter(await connectCore(options), (clientId) => conn.sendCommand(['CLIENT', 'UNBLOCK', clientId]), readEntries);
    } catch (err) {
      await conn.close();
      throw err;
    }
  }
  // commitsInFlight > 1: reads off the commits' connection, so a read is not answered behind the commit in flight.
  let readConn: RedisConnection | undefined;
  if (commitsInFlight > 1) {
    try {
      readConn = await connectCore(options);
    } catch (err) {
      await waiter?.close();
      await conn.close();
      throw err;
    }
  }
  const worker = new Worker(id, job, conn, { leaseMs, heartbeatMs, readEntries, pollMs, lingerMs, stateEveryMs, stateAuto, commitsInFlight, log }, waiter, readConn);
  return worker.start();
}

class Worker {
  private readonly cmd: Commands;
  /** Where reads go: the commits' connection (a read answered with the commit ahead of it), or readConn. */
  private readonly readCmd: Commands;
  private readonly owned = new Map<number, Owned>();
  /** The one operator every held partition runs on (created at the first acquire). */
  private kernels: Promise<KeyedKernels> | undefined;
  /** The running partition loops. */
  private readonly loops = new Set<Promise<void>>();
  /** The first fatal error of a partition loop. */
  private failure: unknown;
  /** Tokens of partitions dropped after a failed step: the worker may take them back while its lease lasts. */
  private readonly previous = new Map<number, string>();
  private live: string[];
  private assignmentKey = '';
  private assignment = new Set<number>();
  private nextHeartbeat = 0;
  private stopping = false;
  private wake: (() => void) | undefined;
  private readonly latencies = new Samples();
  /** Per read with input: its first entry's age (ms) when read; per batch: its computation's time (ms). */
  private readonly readAges = new Samples();
  private readonly computeTimes = new Samples();
  /** Per input entry committed: from its append to its commit's reply (ms). */
  private readonly committedAges = new Samples();
  /** The event loop's utilization when the first partition was taken (for waitMs). */
  private busySince: EventLoopUtilization | undefined;
  private readonly counters = { entries: 0, rows: 0, commits: 0, rejected: 0, acquired: 0, released: 0, pipelined: 0 };

  constructor(
    readonly id: string,
    readonly job: Job,
    private readonly conn: RedisConnection,
    private readonly cfg: { leaseMs: number; heartbeatMs: number; readEntries: number; pollMs: number; lingerMs: number; stateEveryMs: number; stateAuto: boolean; commitsInFlight: number; log: (e: WorkerEvent) => void },
    /** Wakes idle partition loops when their input gets an entry; undefined: they only poll. */
    private readonly waiter?: InputWaiter,
    /** commitsInFlight > 1: the connection the partitions' reads go on (else the commits' own). */
    private readonly readConn?: RedisConnection,
  ) {
    this.cmd = new Commands(conn);
    this.readCmd = readConn === undefined ? this.cmd : new Commands(readConn);
    this.live = [id];
  }

  start(): WorkerHandle {
    const done = this.run();
    done.catch(() => {}); // the caller handles `done`; never an unhandled rejection here
    return {
      id: this.id,
      job: this.job,
      owned: () => [...this.owned.keys()].sort((a, b) => a - b),
      stats: () => this.stats(),
      stop: async () => {
        this.stopping = true;
        this.wake?.();
        return done;
      },
      done,
    };
  }

  private emit(event: WorkerEvent['event'], fields: Record<string, unknown> = {}): void {
    this.cfg.log({ event, worker: this.id, ...fields });
  }

  private stats(): WorkerStats {
    const waitMs = this.busySince === undefined ? 0 : performance.eventLoopUtilization(this.busySince).idle;
    const [commitP50, commitP99] = this.latencies.percentiles();
    const [readAgeP50, readAgeP99] = this.readAges.percentiles();
    const [computeP50, computeP99] = this.computeTimes.percentiles();
    const [committedAgeP50, committedAgeP99] = this.committedAges.percentiles();
    return { ...this.counters, commitP50, commitP99, waitMs, readAgeP50, readAgeP99, computeP50, computeP99, committedAgeP50, committedAgeP99 };
  }

  /**
   * The control loop: heartbeats, takes the partitions assigned to this
   * worker and marks those assigned to others. Each held partition runs its
   * own loop (partitionLoop), so one partition computes while others wait
   * for their commits.
   */
  private async run(): Promise<WorkerStats> {
    this.emit('started', { job: this.job.name, partitions: this.job.partitions, redis: this.conn.display });
    try {
      while (!this.stopping && this.failure === undefined) {
        this.checkConnection();
        if (Date.now() >= this.nextHeartbeat) {
          await this.heartbeat(false);
          await this.acquire();
          this.nextHeartbeat = Date.now() + this.cfg.heartbeatMs;
          this.markExtras();
        } else if (this.missing()) await this.acquire();
        // A partition assigned here but held elsewhere is given back after its holder's step: look again every pollMs, not only at heartbeats.
        await this.nap(Math.max(1, Math.min(this.nextHeartbeat - Date.now(), this.missing() ? this.cfg.pollMs : Infinity)));
      }
      await this.settle();
      if (this.failure !== undefined) throw this.failure;
      await this.heartbeat(true).catch(() => {});
      const stats = this.stats();
      this.emit('stopped', { ...stats });
      return stats;
    } catch (err) {
      const error = this.fatal(this.failure ?? err);
      this.emit('failed', { code: error.code, message: error.message });
      await this.settle().catch(() => {});
      throw error;
    } finally {
      for (const owned of this.owned.values()) owned.state.dispose();
      this.owned.clear();
      await this.waiter?.close();
      await this.readConn?.close();
      await this.conn.close();
    }
  }

  /** Stops every partition loop after its step (each gives its lease back), then releases what is left. */
  private async settle(): Promise<void> {
    this.stopping = true;
    while (this.loops.size > 0) await Promise.all([...this.loops]);
    await this.releaseAll();
  }

  private startLoop(owned: Owned): void {
    const loop: Promise<void> = this.partitionLoop(owned)
      .catch((err: unknown) => {
        this.failure ??= err;
        this.wake?.();
      })
      .finally(() => this.loops.delete(loop));
    this.loops.add(loop);
  }

  /** Steps one partition while it is held and wanted; gives it back when another worker should have it, or on stop. */
  private async partitionLoop(owned: Owned): Promise<void> {
    let idle = 1;
    // Until caught up, nothing is committed: the stored state (and stateLast) stay as they are.
    if (owned.catchUpFrom !== undefined && !(await this.catchUp(owned))) {
      if (this.owned.get(owned.p) === owned) await this.release(owned);
      return;
    }
    while (!this.stopping && !owned.leaving && this.owned.get(owned.p) === owned) {
      this.checkConnection();
      if (await this.step(owned)) idle = 1;
      else {
        // Woken as soon as input comes, with the entries its next read would get (the waiter), else when the poll interval ends.
        if (this.waiter === undefined) await sleep(idle);
        else {
          const entries = await this.waiter.wait(this.job.keys.input(owned.p), owned.sent, idle);
          if (entries !== undefined && owned.next === undefined) owned.next = Promise.resolve(entries);
        }
        idle = Math.min(idle * 2, this.cfg.pollMs);
      }
    }
    if (this.owned.get(owned.p) === owned && (await this.settleCommit(owned)) && (await this.storeState(owned))) await this.release(owned);
  }

  private fatal(err: unknown): RedisJobError {
    if (err instanceof RedisJobError) return err;
    if (this.conn.failure !== undefined) return this.conn.failure;
    return new RedisJobError('PROTOCOL', `worker failed: ${this.cmd.describe(err)}`, { cause: err });
  }

  private checkConnection(): void {
    if (this.conn.failure !== undefined) throw this.conn.failure;
    if (this.readConn?.failure !== undefined) throw this.readConn.failure;
  }

  private nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** A Redis error in the middle of the loop: wait out the outage (the client reconnects) unless it gave up. */
  private async transient(err: unknown, what: string, partition?: number): Promise<void> {
    if (err instanceof RedisJobError) throw err;
    this.checkConnection();
    this.emit('retry', { what, ...(partition !== undefined ? { partition } : {}), message: this.cmd.describe(err) });
    await sleep(50);
  }

  private async heartbeat(leaving: boolean): Promise<void> {
    try {
      const live = await this.cmd.script<string[]>(HEARTBEAT, [this.job.keys.members], [this.id, String(this.cfg.leaseMs), leaving ? '1' : '0']);
      if (leaving) return;
      this.live = live.includes(this.id) ? live : [...live, this.id];
    } catch (err) {
      if (leaving) throw err;
      await this.transient(err, 'heartbeat');
    }
  }

  /**
   * The partitions this worker should hold, computed alike by every worker
   * from the same live list: rendezvous hashing with bounded loads. Each
   * worker may hold ⌊P/live⌋ partitions, and P mod live of them (picked by a
   * hash of their ids) one more, so the capacities add up to P; partition
   * after partition goes to its highest-ranked worker with room left. Plain
   * "hold at most ⌈P/live⌉" can leave a newcomer with nothing (6 partitions,
   * 4 workers: 2+2+2+0); this cannot, and a join or leave moves few partitions.
   */
  private assigned(): Set<number> {
    const live = [...new Set(this.live)].sort();
    const cacheKey = live.join(' ');
    if (this.assignmentKey === cacheKey) return this.assignment;
    const partitions = this.job.partitions;
    const base = Math.floor(partitions / live.length);
    const extra = partitions % live.length;
    const byHash = [...live].sort((a, b) => rendezvousScore(a, -1) - rendezvousScore(b, -1) || (a < b ? -1 : 1));
    const room = new Map(byHash.map((w, i) => [w, base + (i < extra ? 1 : 0)]));
    const mine = new Set<number>();
    for (let p = 0; p < partitions; p++) {
      const ranked = live.map((w) => [w, rendezvousScore(w, p)] as const).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      const owner = ranked.find(([w]) => room.get(w)! > 0)![0];
      room.set(owner, room.get(owner)! - 1);
      if (owner === this.id) mine.add(p);
    }
    this.assignmentKey = cacheKey;
    this.assignment = mine;
    return mine;
  }

  /** Whether a partition assigned to this worker is not held by it. */
  private missing(): boolean {
    for (const p of this.assigned()) if (!this.owned.has(p)) return true;
    return false;
  }

  /**
   * Takes the free partitions assigned to this worker. Their ACQUIREs go out
   * together: each is a write, so under `appendfsync always` its reply waits
   * for an fsync round, and one after another they took a round each (16
   * partitions: 1.6 to 3.9 s of a bench run, behind the first partitions'
   * commits).
   */
  private async acquire(): Promise<void> {
    if (this.stopping) return;
    const candidates = [...this.assigned()].filter((p) => !this.owned.has(p));
    if (candidates.length === 0) return;
    let holders: (string | null)[];
    try {
      holders = await Promise.all(candidates.map((p) => this.cmd.send<string | null>(['GET', this.job.keys.lease(p)])));
    } catch (err) {
      await this.transient(err, 'acquire');
      return;
    }
    const free: number[] = [];
    for (let i = 0; i < candidates.length; i++) {
      const p = candidates[i]!;
      if (holders[i] === null || holders[i] === this.previous.get(p)) free.push(p);
      else this.previous.delete(p); // someone else has it now
    }
    if (this.stopping) return;
    const replies = await Promise.allSettled(
      free.map((p) =>
        this.cmd.script<AcquireReply | null>(
          ACQUIRE,
          [this.job.keys.lease(p), this.job.keys.checkpoint(p), ...(this.job.format !== 1 ? [this.job.keys.state(p)] : [])],
          [this.id, String(this.cfg.leaseMs), this.previous.get(p) ?? ''],
          true,
        ),
      ),
    );
    let failed: { err: unknown; p: number } | undefined;
    for (let i = 0; i < free.length; i++) {
      const p = free[i]!;
      const reply = replies[i]!;
      if (reply.status === 'rejected') {
        failed ??= { err: reply.reason, p }; // taken or not: the next heartbeat looks again
        continue;
      }
      this.previous.delete(p);
      if (reply.value === null) continue;
      try {
        await this.adopt(p, reply.value);
      } catch (err) {
        // A checkpoint that cannot be restored is fatal: the leases taken with it go back too.
        await Promise.all(replies.map((r, j) => (j > i && r.status === 'fulfilled' && r.value !== null ? this.giveBack(free[j]!, r.value[0]) : undefined)));
        throw err;
      }
    }
    if (failed !== undefined) await this.transient(failed.err, 'acquire', failed.p);
  }

  /** Gives back a lease just taken (a token of ACQUIRE's reply), ignoring errors: it expires anyway. */
  private async giveBack(p: number, token: Buffer): Promise<void> {
    await this.cmd.script(RELEASE, [this.job.keys.lease(p)], [token.toString()]).catch(() => {});
  }

  /** Restores a partition just taken and starts its loop (a stop meanwhile: the loop gives it back at once). */
  private async adopt(p: number, [token, last, stored, groups, stateLast]: AcquireReply): Promise<void> {
    let state: PartitionState;
    try {
      state = await this.restore(stored, groups);
    } catch (err) {
      const hint =
        err instanceof SnapshotError && err.code === 'OTHER_BUILD'
          ? '; it was written by another build of streamkernel: finish the job with that build, or start a new job'
          : '';
      await this.giveBack(p, token);
      throw new RedisJobError(
        'BAD_CHECKPOINT',
        `cannot restore partition ${p} of job '${this.job.name}' from ${this.conn.display} (key ${this.job.keys.checkpoint(p)}): ${this.cmd.describe(err)}${hint}`,
        { cause: err },
      );
    }
    const from = last.toString();
    const stateFrom = stateLast.toString();
    const owned: Owned = {
      p,
      token: token.toString(),
      last: from,
      sent: from,
      state,
      renewedAt: Date.now(),
      next: undefined,
      leaving: false,
      inflight: [],
      stateAt: staggeredStateAt(performance.now(), p, this.job.partitions, this.cfg.stateEveryMs),
      stateBehind: false,
      catchUpFrom: stateFrom !== '' && stateFrom !== from ? stateFrom : undefined,
      stateCommitMs: 0,
      fenceCached: false,
    };
    this.owned.set(p, owned);
    this.busySince ??= performance.eventLoopUtilization();
    this.startLoop(owned);
    this.counters.acquired++;
    this.emit('acquired', { partition: p, token: token.toString(), from, keys: state.size });
  }

  /**
   * Brings a restored state that lags the checkpoint (format 3 with deferred
   * state) up to `last`: runs the input entries (catchUpFrom, last] through
   * the kernels, whose outputs are already in the output stream. Their key
   * groups count as touched, so the next commit with state stores them. The
   * lease is renewed on the way (this can take longer than a lease). Returns
   * whether the partition is still held and caught up.
   */
  private async catchUp(owned: Owned): Promise<boolean> {
    const { p, last } = owned;
    for (let after = owned.catchUpFrom!; after !== last; ) {
      if (this.stopping || owned.leaving || this.owned.get(p) !== owned) return false;
      let entries: StreamEntry[];
      try {
        entries = await this.read(p, after);
      } catch (err) {
        this.drop(owned, true);
        await this.transient(err, 'read', p);
        return false;
      }
      if (this.owned.get(p) !== owned) return false;
      const end = entries.findIndex(([id]) => id.toString() === last);
      const batch = end >= 0 ? entries.slice(0, end + 1) : entries;
      if (batch.length === 0) {
        throw new RedisJobError('BAD_CHECKPOINT', `cannot restore partition ${p} of job '${this.job.name}': its state is at input id ${owned.catchUpFrom!}, but ${this.job.keys.input(p)} ends at ${after}, before the checkpoint's last id ${last}`);
      }
      this.compute(owned.state, batch);
      after = batch[batch.length - 1]![0].toString();
      if (Date.now() - owned.renewedAt >= this.cfg.leaseMs / 3) await this.renew(owned);
    }
    owned.catchUpFrom = undefined;
    owned.stateBehind = true; // the state in Redis is still the lagging one
    return this.owned.get(p) === owned;
  }

  /** A partition's kernels from its checkpoint: `state` (format 1) or its key-group records (formats 2 to 4). */
  private async restore(stored: Buffer, groups: Buffer[]): Promise<PartitionState> {
    this.kernels ??= KeyedKernels.create(this.job.spec);
    const state = (await this.kernels).partition();
    try {
      if (this.job.format === 1) {
        if (stored.length > 0) state.restoreSnapshots(decodePartitionState(new Uint8Array(stored)));
        return state;
      }
      for (let i = 0; i + 1 < groups.length; i += 2) {
        const field = groups[i]!.toString();
        const group = Number(field);
        if (!/^\d+$/.test(field) || group >= STATE_GROUPS) throw new SnapshotError('BAD_STATE', `the state hash has a field ${JSON.stringify(field.slice(0, 40))}, not a key group (0 to ${STATE_GROUPS - 1})`);
        state.restoreGroup(group, new Uint8Array(groups[i + 1]!));
      }
      state.checkRestored();
      return state;
    } catch (err) {
      state.dispose();
      throw err;
    }
  }

  /** Forgets a partition's in-memory state (its keys leave the operator); with `retake`, remembers the token to take it back. */
  private drop(owned: Owned, retake: boolean): void {
    owned.next?.catch(() => {}); // a read sent behind the last commit: nobody waits for it now
    if (this.owned.get(owned.p) === owned) this.owned.delete(owned.p);
    owned.state.dispose();
    if (retake) {
      this.previous.set(owned.p, owned.token);
      this.nextHeartbeat = 0; // look for partitions again at once
      this.wake?.();
    }
  }

  /** The entries after `after`, at most --read-entries, as bytes. */
  private read(p: number, after: string): Promise<StreamEntry[]> {
    return this.readCmd.send<StreamEntry[]>(['XRANGE', this.job.keys.input(p), `(${after}`, '+', 'COUNT', String(this.cfg.readEntries)], true);
  }

  /** lingerMs: after a short read, waits, then adds what came meanwhile (up to readEntries); a failed read adds nothing (read again next step). */
  private async linger(p: number, entries: StreamEntry[]): Promise<StreamEntry[]> {
    await sleep(this.cfg.lingerMs);
    try {
      const more = await this.read(p, entries[entries.length - 1]![0].toString());
      return entries.concat(more.slice(0, this.cfg.readEntries - entries.length));
    } catch {
      return entries;
    }
  }

  /**
   * Reads and computes one batch of a partition and sends its commit, then
   * waits for replies until at most commitsInFlight commits are unanswered
   * (so commits are in flight while the next batches are read and computed:
   * with appendfsync always, a commit's round trip includes an fsync).
   * Returns whether there was input.
   */
  private async step(owned: Owned): Promise<boolean> {
    const p = owned.p;
    let entries: StreamEntry[];
    try {
      entries = await (owned.next ?? this.read(p, owned.sent));
      owned.next = undefined;
    } catch (err) {
      this.drop(owned, true);
      await this.transient(err, 'read', p);
      return false;
    }
    if (this.owned.get(p) !== owned) return false; // dropped while reading
    if (entries.length === 0) {
      // Reads of their own (commitsInFlight > 1): a commit still in flight is not waited for, so the partition waits for input at once.
      if (this.readConn !== undefined && !(await this.finishAnswered(owned))) return true;
      if (owned.inflight.length > 0 && this.readConn !== undefined) return false;
      if (!(await this.settleCommit(owned))) return true;
      // No input: a lagging state is stored once its time has come.
      if (owned.stateBehind && this.storesState(owned, 0) && !(await this.storeState(owned))) return true;
      if (Date.now() - owned.renewedAt >= this.cfg.leaseMs / 3) await this.renew(owned);
      return false;
    }
    this.readAges.push(Date.now() - appendedAt(entries[0]![0]));
    if (this.cfg.lingerMs > 0 && entries.length < this.cfg.readEntries) entries = await this.linger(p, entries);
    const computeStart = performance.now();
    const { outputs, rows } = this.compute(owned.state, entries);
    this.sendCommit(owned, entries, outputs, rows, this.storesState(owned, rows));
    this.computeTimes.push(performance.now() - computeStart);
    owned.next = this.read(p, owned.sent);
    owned.next.catch(() => {}); // awaited by the next step, unless the partition is dropped first
    while (owned.inflight.length > this.cfg.commitsInFlight) if (!(await this.finishCommit(owned, owned.inflight.shift()!))) break;
    return true;
  }

  /**
   * Whether the next commit (of `rows` rows) stores the state: always, unless
   * stateEveryMs defers it (never when the partition is about to go); when
   * automatic, also when the state is no larger than the commit's results.
   */
  private storesState(owned: Owned, rows: number): boolean {
    if (this.cfg.stateEveryMs === 0 || owned.leaving || this.stopping) return true;
    if (!this.cfg.stateAuto) return performance.now() - owned.stateAt >= this.cfg.stateEveryMs;
    if (owned.state.pendingStateBytes() <= rows * RESULT_BYTES_PER_ROW) return true;
    return performance.now() - owned.stateAt >= Math.max(this.cfg.stateEveryMs, AUTO_STATE_COST_FACTOR * owned.stateCommitMs);
  }

  /**
   * Sends the commit of a batch's outputs (no entries: the state only),
   * behind the previous commit, with its new last id as the expected one:
   * if that commit is refused or lost, this one is refused too (the lease or
   * the last id no longer match).
   */
  private sendCommit(owned: Owned, entries: StreamEntry[], outputs: (string | Buffer)[], rows: number, withState: boolean): void {
    const { keys } = this.job;
    const p = owned.p;
    const newLast = entries.length > 0 ? entries[entries.length - 1]![0].toString() : owned.sent;
    const state = withState ? this.stateArgs(owned.state) : { full: '-', groups: ['0'] };
    if (withState) owned.stateAt = performance.now();
    owned.stateBehind = !withState;
    const first = entries[0]?.[0].toString() ?? newLast;
    const fence = [owned.token, String(this.cfg.leaseMs), owned.sent, newLast, state.full, String(entries.length), first, ...state.groups];
    const reply = commitTransaction(this.conn, keys, p, this.job.format !== 1, fence, outputs, owned.fenceCached);
    reply.catch(() => {}); // awaited by settleCommit, unless the partition is dropped first
    const commit: Commit = { reply, started: performance.now(), first, last: newLast, entries: entries.length, rows, withState, appended: entries.map(([id]) => appendedAt(id)) };
    reply.then(
      () => ((commit.repliedAt = performance.now()), (commit.repliedAtMs = Date.now()), (commit.settled = true)),
      () => (commit.settled = true),
    );
    if (owned.inflight.some((c) => c.settled !== true)) this.counters.pipelined++;
    owned.inflight.push(commit);
    owned.sent = newLast;
  }

  /** Stores a lagging state (stateEveryMs) with a commit of no entries; returns whether the partition is still held. */
  private async storeState(owned: Owned): Promise<boolean> {
    if (!owned.stateBehind) return true;
    this.sendCommit(owned, [], [], 0, true);
    return this.settleCommit(owned);
  }

  /** Waits for every commit in flight. Returns whether the partition is still held. */
  private async settleCommit(owned: Owned): Promise<boolean> {
    while (owned.inflight.length > 0) if (!(await this.finishCommit(owned, owned.inflight.shift()!))) return false;
    return true;
  }

  /** Handles the commits already answered, oldest first, without waiting. Returns whether the partition is still held. */
  private async finishAnswered(owned: Owned): Promise<boolean> {
    while (owned.inflight[0]?.settled === true) if (!(await this.finishCommit(owned, owned.inflight.shift()!))) return false;
    return true;
  }

  /** Handles a commit's reply; drops the partition unless it was applied. Returns whether the partition is still held. */
  private async finishCommit(owned: Owned, commit: Commit): Promise<boolean> {
    const { keys } = this.job;
    const p = owned.p;
    let reply: CommitReply;
    try {
      reply = await commit.reply;
    } catch (err) {
      // Unknown whether it was applied: restore from the checkpoint, which knows.
      this.drop(owned, true);
      await this.transient(err, 'commit', p);
      return false;
    }
    if (this.owned.get(p) !== owned) return false; // dropped meanwhile
    owned.fenceCached = true; // FENCE ran: the server has it
    if (reply[0] === 1) {
      const ms = (commit.repliedAt ?? performance.now()) - commit.started;
      this.latencies.push(ms);
      if (commit.withState) owned.stateCommitMs = ms;
      const now = commit.repliedAtMs ?? Date.now();
      for (const at of commit.appended) this.committedAges.push(now - at);
      owned.last = commit.last;
      owned.renewedAt = Date.now();
      this.counters.commits++;
      this.counters.entries += commit.entries;
      this.counters.rows += commit.rows;
      return true;
    }
    this.counters.rejected++;
    if (reply[1] === 'park') throw new RedisJobError('PROTOCOL', `${keys.output(p)} was not parked at the fence of its commit: something else writes to this job's output keys`);
    if (reply[1] === 'out') {
      throw new RedisJobError(
        'PROTOCOL',
        `${keys.output(p)} already holds entry id ${String(reply[2])}, not before input ${commit.first}: something else writes to this job's output stream`,
      );
    }
    this.emit('fenced', { partition: p, op: 'commit', reason: reply[1] === 'lease' ? 'lease lost' : `checkpoint moved to ${String(reply[2])}`, token: owned.token });
    this.drop(owned, false);
    return false;
  }

  /** Runs a batch's rows through the partition's kernels (one pass for all its entries) and returns the commit's output entries (batch.ts). */
  private compute(state: PartitionState, entries: StreamEntry[]): { outputs: (string | Buffer)[]; rows: number } {
    const { parts, read } = readBatch(state, entries);
    state.process(parts);
    return batchOutputs(read, this.job.format);
  }

  /** The state a commit stores: format 1, every key's snapshot; format 2, the key groups touched since the last commit. */
  private stateArgs(state: PartitionState): { full: string | Buffer; groups: (string | Buffer)[] } {
    if (this.job.format === 1) {
      const bytes = encodePartitionState(state.snapshots());
      return { full: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), groups: [] };
    }
    const touched = state.takeTouched();
    const records = touched.map((group) => {
      const record = state.groupRecord(group);
      return Buffer.from(record.buffer, record.byteOffset, record.length);
    });
    if (records.reduce((n, r) => n + r.length, 0) >= STATE_BLOB_MIN_BYTES) return { full: '', groups: ['*', Buffer.concat(records), ...touched.flatMap((group, i) => [String(group), String(records[i]!.length)])] };
    return { full: '', groups: [String(touched.length), ...touched.flatMap((group, i) => [String(group), records[i]!])] };
  }

  private async renew(owned: Owned): Promise<void> {
    let ok: number;
    try {
      ok = await this.cmd.script<number>(RENEW, [this.job.keys.lease(owned.p)], [owned.token, String(this.cfg.leaseMs)]);
    } catch (err) {
      this.drop(owned, true);
      await this.transient(err, 'renew', owned.p);
      return;
    }
    if (ok === 1) owned.renewedAt = Date.now();
    else {
      this.emit('fenced', { partition: owned.p, op: 'renew', reason: 'lease lost', token: owned.token });
      this.drop(owned, false);
    }
  }

  private async release(owned: Owned): Promise<void> {
    this.drop(owned, false);
    try {
      const held = await this.cmd.script<number>(RELEASE, [this.job.keys.lease(owned.p)], [owned.token]);
      if (held === 1) {
        this.counters.released++;
        this.emit('released', { partition: owned.p, at: owned.last });
      } else this.emit('fenced', { partition: owned.p, op: 'release', reason: 'lease lost', token: owned.token });
    } catch (err) {
      // The lease runs out by itself.
      this.emit('retry', { what: 'release', partition: owned.p, message: this.cmd.describe(err) });
    }
  }

  /** Partitions assigned to others go back after their current step (their loop releases them). */
  private markExtras(): void {
    const mine = this.assigned();
    for (const owned of this.owned.values()) if (!mine.has(owned.p)) owned.leaving = true;
  }

  private async releaseAll(): Promise<void> {
    for (const owned of [...this.owned.values()]) await this.release(owned);
  }
}
