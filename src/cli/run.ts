// `streamkernel run`: the main job. CSV/NDJSON from a file or stdin → typed
// columns → several ops (count or time windows, keyed or not) → CSV/NDJSON
// to stdout or a file, with optional crash-safe checkpoints.

import { existsSync, unlinkSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { concatBytes } from '../bytes.js';
import { csvSource } from '../connectors/csv.js';
import { MalformedRowError, UnknownColumnError } from '../connectors/errors.js';
import { TextFormatter } from '../connectors/format.js';
import { isoText } from '../connectors/iso-time.js';
import { ndjsonSource } from '../connectors/ndjson.js';
import { csvFileSource, FileSink, ndjsonFileSource } from '../connectors/node.js';
import type { ColumnBatch, ColumnOptions, ResultBatch, SourceOffset } from '../connectors/types.js';
import { SnapshotError } from '../errors.js';
import type { OperatorSpec, TimeRollingOperatorSpec } from '../keyed/spec.js';
import { UsageError } from './args.js';
import {
  checkCheckpoint,
  checkCheckpointFiles,
  CheckpointError,
  checkpointPath,
  fingerprint,
  readCheckpoint,
  removeCheckpoint,
  writeCheckpoint,
  type Checkpoint,
  type HeldRows,
  type OpsState,
} from './checkpoint.js';
import { LatestTimes } from './latest-times.js';
import { KeyedOps, type OpsOutput } from './ops.js';
import { PendingBatches } from './pending.js';
import { ReadAhead, readAheadBatches } from './read-ahead.js';
import { WaitingRows } from './waiting.js';
import { LateRowError, WindowFormatter, windowFormatter, WindowRunner } from './windows.js';
import { describeErrno } from './errno.js';
import { FollowInput, LiveInput, readsRegularFile } from './live.js';
import type { Output } from './output.js';
import { group, Progress, rateText } from './progress.js';
import type { RunCommand } from './run-args.js';
import { checkRunPaths, partialFile, type OutputTarget } from './run-paths.js';

export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
export const EXIT_MALFORMED = 2;
export const EXIT_FILE = 3;
export const EXIT_FAILURE = 4;

/** A failure with its exit code and one-line message. */
export class RunFailure extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'RunFailure';
  }
}

export interface RunIo {
  stdin: Readable;
  out: Output;
  stderr: Writable;
  stderrIsTTY: boolean;
}

/** Output rows as text (or its UTF-8 bytes), and how many. */
export interface Emitted {
  rows: number;
  /** The rows' text: UTF-8 bytes (rolling results) or a string (window records). */
  text: string | Uint8Array;
}

/**
 * What runs the ops over batches, on the keyed operator (ops.ts): one
 * result per input row (OpsRunner), or window records (windows.ts).
 */
export interface Runner {
  readonly names: string[];
  /** Rows left out for being late (time windows), and rows placed back in order. */
  readonly late: number;
  readonly reordered: number;
  /** What made the late rows late, for the summary. */
  readonly lateWhy: string;
  /** The output's header (CSV). */
  header(): string;
  /** The output of the rows of `batch` whose results are known (time windows may hold rows back). */
  process(batch: ColumnBatch): Promise<Emitted>;
  /** Gives back an Emitted's text once the sink is done with it: the next batch's output is written over it, its memory already paged in. */
  recycle?(text: string | Uint8Array): void;
  /** End of input: the output still held. */
  finish(end: SourceOffset): Promise<Emitted>;
  /** Before a checkpoint: the output of every row read so far whose results were still out (workers, --max-out-of-order). */
  settle(): Promise<Emitted>;
  /** --idle-timeout: no row for `ms`: the output of the rows held for reordering that the time gone by releases. */
  idle?(ms: number): Promise<Emitted>;
  /** The ops' state, covering every row whose results were returned. */
  state(): Promise<OpsState>;
  dispose(): void;
}

/** The output's op columns, in order. */
function opNames(cmd: RunCommand): string[] {
  return (cmd.window.kind === 'rows' ? cmd.ops : cmd.timeOps).map((o) => o.name);
}

/** A row of a time window too far behind its key's latest time (with --on-error fail). */
class OrderError extends Error {}

const f64ToBase64 = (a: Float64Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
function base64ToF64(s: string, n: number): Float64Array {
  const b = Buffer.from(s, 'base64');
  if (b.byteLength !== n * 8) throw new CheckpointError('checkpoint holds a damaged list of held rows');
  return new Float64Array(new Uint8Array(b).buffer);
}

/** The command's ops as keyed operator specs: count kernels, or rolling by duration (rows reach them in order: KeyedOps reorders). */
function operatorSpecs(cmd: RunCommand): OperatorSpec[] {
  if (cmd.window.kind !== 'time') return cmd.ops.map((o) => o.spec);
  const window = cmd.window.ms;
  return cmd.timeOps.map((o) => {
    const spec: TimeRollingOperatorSpec = { kind: 'rolling', op: o.op, window };
    if (cmd.minPeriods !== undefined) spec.minPeriods = cmd.minPeriods;
    if (cmd.closed !== undefined) spec.closed = cmd.closed;
    if (o.ddof !== undefined) spec.ddof = o.ddof;
    if (o.q !== undefined) spec.q = o.q;
    return spec;
  });
}

/** A batch with its key column as text (batches moved into WaitingRows before a checkpoint, a rare path). */
function withKeyText(batch: ColumnBatch): ColumnBatch {
  const { keyIds: ids, keyNames: names } = batch;
  if (batch.keys !== undefined || ids === undefined || names === undefined) return batch;
  return { ...batch, keys: Array.from(ids, (id) => names[id] as string) };
}

/**
 * The order check of time windows, kept small (it is compiled early and
 * often in short runs): raises each key's greatest time in `maxTimes` (by key
 * id; -Infinity: none yet) and lists in `late` the rows more than `bound`
 * behind it (`stopAtLate`: stops at the first). Returns the rows behind it
 * within the bound (put back in order).
 */
function checkOrder(ts: Float64Array, ids: Uint32Array | undefined, maxTimes: Float64Array, bound: number, late: number[], stopAtLate: boolean): number {
  const tally = { reordered: 0 };
  for (let i = nextLateRow(ts, ids, maxTimes, bound, 0, tally); i < ts.length; i = nextLateRow(ts, ids, maxTimes, bound, i + 1, tally)) {
    late.push(i);
    if (stopAtLate) break;
  }
  return tally.reordered;
}

/**
 * checkOrder's pass from row `from` to the next row more than `bound` behind
 * its key's greatest time (ts.length: none), counting the rows behind within
 * the bound in `tally`. A late row returns rather than being listed here: late
 * rows are rare, and the list's push, first met after the loop was compiled,
 * had no type feedback there, so the code was thrown out and compiled again.
 */
function nextLateRow(ts: Float64Array, ids: Uint32Array | undefined, maxTimes: Float64Array, bound: number, from: number, tally: { reordered: number }): number {
  for (let i = from; i < ts.length; i++) {
    const id = ids === undefined ? 0 : (ids[i] as number);
    const t = ts[i] as number;
    const max = maxTimes[id] as number;
    if (!(t < max)) maxTimes[id] = t;
    else if (t < max - bound) return i;
    else tally.reordered++;
  }
  return ts.length;
}

/**
 * `batch` without the rows at indices `skipped` (ascending): the rest moved
 * down over them in runs, in place (the batch's columns are the reader's,
 * fresh per batch and read by no one else), and the columns cut to the rows
 * kept. A copy of every column of each batch holding a late row cost ~20
 * bytes a row of fresh memory, and its page faults (issue 19).
 */
function withoutRows(batch: ColumnBatch, skipped: readonly number[]): ColumnBatch {
  const n = batch.length;
  const kept = n - skipped.length;
  const pick = <T extends Float64Array | Uint32Array>(a: T): T => {
    let o = skipped[0] as number;
    for (let s = 0; s < skipped.length; s++) {
      const from = (skipped[s] as number) + 1;
      const to = s + 1 < skipped.length ? (skipped[s + 1] as number) : n;
      a.copyWithin(o, from, to);
      o += to - from;
    }
    return a.subarray(0, kept) as T;
  };
  const pickList = <T>(a: readonly T[]): T[] => {
    const out: T[] = [];
    let from = 0;
    for (const i of [...skipped, n]) {
      for (let j = from; j < i; j++) out.push(a[j] as T);
      from = i + 1;
    }
    return out;
  };
  return {
    length: kept,
    values: pick(batch.values),
    timestamps: pick(batch.timestamps as Float64Array),
    ...(batch.timeText !== undefined ? { timeText: pickList(batch.timeText) } : {}),
    ...(batch.isoTimes !== undefined ? { isoTimes: batch.isoTimes } : {}),
    ...(batch.keys !== undefined ? { keys: pickList(batch.keys) } : {}),
    ...(batch.keyIds !== undefined ? { keyIds: pick(batch.keyIds) } : {}),
    ...(batch.keyNames !== undefined ? { keyNames: batch.keyNames } : {}),
    end: batch.end,
    skipped: batch.skipped,
  };
}

/**
 * The one runner: rows go to the ops (KeyedOps: in process or on workers).
 * Time windows check each key's order first. Where results come back late
 * (workers, or rows held by --max-out-of-order), output keeps input order:
 * rows wait here (with the results known so far) until every earlier row
 * has its results.
 */
class OpsRunner implements Runner {
  readonly names: string[];
  late: number;
  reordered: number;
  readonly lateWhy: string;
  /** Greatest time per key so far (time windows). */
  private readonly maxTimes: LatestTimes;
  private readonly timed: boolean;
  private readonly bound: number;
  private readonly boundText: string;
  /** Rows pushed into the ops so far (their row numbers). */
  private pushed: number;
  /** Rows waiting for their results, in input order. */
  private readonly queue: WaitingRows;
  /**
   * Results in row order (no --max-out-of-order, no held rows restored):
   * batches wait whole, as read, instead of row by row in `queue`.
   */
  private batches: PendingBatches | undefined;
  /** lines − rows at the end of the previous batch: rows are one line each while it stays the same. */
  private lineDiff: number;
  /** Where the input stood after the latest batch. */
  private end: SourceOffset = { bytes: 0, rows: 0, lines: 0 };

  private constructor(
    private readonly ops: KeyedOps,
    opCount: number,
    private readonly cmd: RunCommand,
    private readonly formatter: TextFormatter,
    restore: OpsState | undefined,
    lineDiff: number,
  ) {
    this.names = opNames(cmd);
    this.lateWhy = cmd.maxOutOfOrder !== undefined && cmd.maxOutOfOrder.ms > 0 ? `more than ${cmd.maxOutOfOrder.text} out of order` : 'out of order';
    this.timed = cmd.window.kind === 'time';
    this.bound = cmd.maxOutOfOrder?.ms ?? 0;
    this.boundText = cmd.maxOutOfOrder?.text ?? '0';
    this.maxTimes = new LatestTimes(restore?.lastTimes ?? []);
    this.queue = new WaitingRows(opCount, cmd.key !== undefined);
    this.lineDiff = lineDiff;
    const held = restore?.held;
    this.late = held?.late ?? 0;
    this.reordered = held?.reordered ?? 0;
    this.pushed = held?.pushed ?? 0;
    if (held !== undefined && held.time.length > 0) {
      const n = held.time.length;
      if (held.results.length !== opCount || held.known.length !== n || (cmd.key !== undefined && held.keys?.length !== n)) {
        throw new CheckpointError('checkpoint holds a damaged list of held rows');
      }
      const results = held.results.map((r) => base64ToF64(r, n));
      this.queue.restore(held.time, held.keys ?? [], base64ToF64(held.values, n), results, Array.from(held.known, (c) => c === '1'));
    }
    const reorders = this.timed && this.bound > 0;
    this.batches = reorders || this.queue.length > 0 ? undefined : new PendingBatches(opCount);
  }

  static async create(cmd: RunCommand, restore: OpsState | undefined, start: SourceOffset | undefined, formatter: TextFormatter): Promise<OpsRunner> {
    const specs = operatorSpecs(cmd);
    // Before the first row: CSV has a header line (at least one), NDJSON none.
    const lineDiff = start !== undefined ? start.lines - start.rows : cmd.inputFormat === 'csv' ? 1 : 0;
    const ops = await KeyedOps.create(cmd, specs, restore);
    try {
      return new OpsRunner(ops, specs.length, cmd, formatter, restore, lineDiff);
    } catch (err) {
      ops.dispose();
      throw err;
    }
  }

  private get waiting(): number {
    return this.queue.length + (this.batches?.rows ?? 0);
  }

  header(): string {
    return this.formatter.header();
  }

  recycle(text: string | Uint8Array): void {
    if (typeof text !== 'string') this.formatter.recycle(text);
  }

  private emit(result: ResultBatch): Emitted {
    const rows = result.batch.length;
    // Bytes: the sink writes them as they are (a string would be decoded here and encoded again there).
    return { rows, text: rows > 0 ? this.formatter.formatBytes(result) : '' };
  }

  /** Whole batches, one after another. */
  private emitAll(results: ResultBatch[]): Emitted {
    if (results.length === 1) return this.emit(results[0]!);
    let rows = 0;
    const parts: Uint8Array[] = [];
    for (const r of results) {
      const e = this.emit(r);
      rows += e.rows;
      if (e.rows > 0) parts.push(e.text as Uint8Array);
    }
    return { rows, text: parts.length > 0 ? concatBytes(parts) : '' };
  }

  /** Released results at their rows; the rows that now have all theirs, in input order. */
  private release(out: OpsOutput, end: SourceOffset, skipped: number): Emitted {
    if (this.batches !== undefined) {
      this.batches.place(out);
      return this.emitAll(this.batches.takeDone());
    }
    this.place(out);
    return this.emit(this.queue.take(end, skipped));
  }

  async process(batch: ColumnBatch): Promise<Emitted> {
    this.end = batch.end;
    const b = this.timed ? this.inOrder(batch) : batch;
    // A batch cut before it filled is live input: its rows' results go out with it (workers too).
    const keys = b.keyIds !== undefined && b.keyNames !== undefined ? { ids: b.keyIds, names: b.keyNames } : b.keys;
    const out = await this.ops.push(b.timestamps, b.values, keys, batch.length < this.cmd.batchSize);
    const first = this.pushed;
    this.pushed += b.length;
    // Nothing waiting and every row's results back, in input order (always in process without --max-out-of-order): the batch as it is.
    if (this.waiting === 0 && out.rows === undefined && out.first === first && (out.values[0] as Float64Array).length === b.length) {
      return this.emit({ batch: b, results: out.values });
    }
    if (this.batches !== undefined) this.batches.add(b);
    else this.queue.add(b);
    return this.release(out, b.end, b.skipped);
  }

  /** Time windows: the batch without its rows too far out of order (counted late with --on-error skip; else OrderError). */
  private inOrder(batch: ColumnBatch): ColumnBatch {
    const ts = batch.timestamps as Float64Array;
    // Keyed: the reader's key ids (ColumnOptions.keyIds), indexes of the greatest times.
    const ids = batch.keyIds;
    if (ids === undefined && batch.keys !== undefined) throw new Error('time windows read keys as ids (ColumnOptions.keyIds)');
    // Rows are one line each in this batch when lines − rows did not change: then row i is on line end.lines − n + i + 1.
    const diff = batch.end.lines - batch.end.rows;
    const linesKnown = diff === this.lineDiff && batch.skipped === 0;
    this.lineDiff = diff;
    const skip = this.cmd.onError === 'skip';
    const late: number[] = [];
    this.reordered += checkOrder(ts, ids, this.maxTimes.table(batch.keyNames), this.bound, late, !skip);
    if (late.length === 0) return batch;
    // With --on-error fail the first row too far behind stops the run (checkOrder stopped there).
    if (!skip) throw this.orderError(batch, late[0] as number, linesKnown);
    this.late += late.length;
    return withoutRows(batch, late);
  }

  /** The error of row i, too far behind its key's latest time. */
  private orderError(batch: ColumnBatch, i: number, linesKnown: boolean): OrderError {
    const n = batch.length;
    const t = (batch.timestamps as Float64Array)[i] as number;
    const where = linesKnown ? `line ${batch.end.lines - n + i + 1}` : `data row ${batch.end.rows - batch.skipped - n + i + 1}`;
    const who = batch.keyIds !== undefined ? ` of key ${JSON.stringify(this.maxTimes.name(batch.keyIds[i] as number))}` : '';
    const time = batch.timeText?.[i] ?? (batch.isoTimes === true ? isoText(t) : String(t));
    return new OrderError(
      this.bound === 0
        ? `${where}: time ${time} is before the previous time${who} (time windows need each key's rows in time order; --max-out-of-order DURATION accepts bounded disorder)`
        : `${where}: time ${time}${who} is more than --max-out-of-order ${this.boundText} behind the key's latest time`,
    );
  }

  /** Stores released results at their rows. */
  private place(out: OpsOutput): void {
    // The row number of the first row waiting.
    this.queue.place(out, this.pushed - this.waiting);
  }

  async finish(end: SourceOffset): Promise<Emitted> {
    const out = this.release(await this.ops.flush(), end, 0);
    if (this.waiting !== 0) throw new Error(`${this.waiting} rows have no results at the end of the input`);
    return out;
  }

  /** Before a checkpoint: the results that came back since the last batch (workers). */
  async settle(): Promise<Emitted> {
    return this.release(await this.ops.settle(), this.end, 0);
  }

  /** --idle-timeout: every key's latest time moves on by `ms` here too (so a row is late here exactly when the reorderer would refuse it). */
  async idle(ms: number): Promise<Emitted> {
    this.maxTimes.advance(ms);
    return this.release(await this.ops.idle(ms), this.end, 0);
  }

  async state(): Promise<OpsState> {
    // After settle() no batch waits; any that did become held rows of `queue`, which then takes every later row too.
    if (this.batches !== undefined && this.batches.rows > 0) {
      this.batches.moveTo(this.queue, withKeyText, this.pushed - this.waiting);
      this.batches = undefined;
    }
    const q = this.queue.held();
    const held: HeldRows = {
      pushed: this.pushed,
      late: this.late,
      reordered: this.reordered,
      time: q.time,
      values: f64ToBase64(q.values),
      results: q.results.map(f64ToBase64),
      known: q.known,
      ...(this.cmd.key !== undefined ? { keys: q.keys } : {}),
    };
    return { ...(await this.ops.state()), ...(this.timed ? { lastTimes: this.maxTimes.entries() } : {}), held };
  }
  dispose(): void {
    this.ops.dispose();
  }
}

/** The parts of a command that change its output: resuming needs them unchanged. */
function meaning(cmd: RunCommand): unknown {
  const { file, inputFormat, outputFormat, value, time, key, ops, timeOps, window, minPeriods, closed, output, onError, delimiter, maxOutOfOrder, allowedLateness } = cmd;
  return {
    v: 1,
    ...{ file, inputFormat, outputFormat, value, time, key, ops, timeOps, window, minPeriods, closed, output, onError, delimiter },
    ...(maxOutOfOrder !== undefined && maxOutOfOrder.ms > 0 ? { maxOutOfOrder: maxOutOfOrder.ms } : {}),
    ...(allowedLateness !== undefined ? { allowedLateness: allowedLateness.ms } : {}),
  };
}

/** Test hook: SIGKILL this process at a checkpoint ("N:before" or "N:after" the N-th checkpoint is written). */
function crashPoint(): { at: number; phase: string } | undefined {
  const raw = process.env['STREAMKERNEL_TEST_CRASH'];
  const m = raw === undefined ? null : /^(\d+):(before|after)$/.exec(raw);
  return m === null ? undefined : { at: Number(m[1]), phase: m[2] as string };
}

/** Where results go: stdout, a file with checkpoints, a temporary file renamed at the end, or a FIFO or device. */
interface Sink {
  /** `written`, where the sink can tell: called once it is done with the bytes (they may be written over then). */
  write(text: string | Uint8Array, written?: () => void): Promise<void>;
  commit(): Promise<number>;
  finish(): Promise<void>;
  /** After a failure: closes; `discard` removes the file (nothing of it is committed). */
  abandon(discard: boolean): Promise<void>;
}

function stdoutSink(out: Output): Sink {
  return {
    write: (text, written) => out.write(text, written),
    commit: async () => 0,
    finish: async () => undefined,
    abandon: async () => undefined,
  };
}

/** How `-o FILE` is written. */
interface FilePlan {
  target: OutputTarget;
  /** The file opened: a temporary file renamed over the target on success, or the target itself. */
  written: string;
  viaTemp: boolean;
  /** The file a failed or interrupted run removes, if any (`discard`: nothing of the target is committed). */
  leftover(discard: boolean): string | undefined;
}

/**
 * With a checkpoint, FILE itself (truncated to the committed size on
 * resume); else a temporary file renamed over FILE on success. A FIFO or
 * device is written in place and never removed.
 */
function filePlan(target: OutputTarget, checkpointed: boolean): FilePlan {
  const viaTemp = !target.direct && !checkpointed;
  const written = viaTemp ? partialFile(target.file) : target.file;
  return { target, written, viaTemp, leftover: (discard) => (viaTemp || (discard && !target.direct) ? written : undefined) };
}

/** `live`: every write reaches the file at once (live input: results as rows arrive), else writes are buffered. */
async function fileSink(name: string, plan: FilePlan, resumeAt: number | undefined, live: boolean): Promise<Sink> {
  const { written, viaTemp } = plan;
  let sink: FileSink;
  try {
    sink = await FileSink.open(written, resumeAt === undefined ? {} : { resumeAt });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== undefined) throw new RunFailure(`streamkernel run: cannot write ${JSON.stringify(name)}: ${describeErrno(e)}`, EXIT_FILE);
    throw new RunFailure(`streamkernel run: cannot resume: ${e.message}`, EXIT_FAILURE);
  }
  return {
    write: async (text) => {
      await sink.write(text);
      if (live) await sink.flush();
    },
    commit: () => sink.commit(),
    finish: async () => {
      await sink.commit();
      await sink.close();
      if (viaTemp) await rename(written, plan.target.file);
    },
    abandon: async (discard) => {
      await sink.close().catch(() => undefined);
      const file = plan.leftover(discard);
      if (file !== undefined) await unlink(file).catch(() => undefined);
    },
  };
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Until the returned function is called, SIGINT and SIGTERM first remove
 * `leftover()` (a half-written temporary file), then end the process by the
 * same signal, as it would have ended without this handler.
 */
function cleanUpOnSignal(leftover: () => string | undefined): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    untrap();
    const file = leftover();
    if (file !== undefined) {
      try {
        unlinkSync(file);
      } catch {
        // already gone
      }
    }
    process.kill(process.pid, signal);
  };
  const untrap = (): void => {
    for (const s of SIGNALS) process.off(s, handler);
  };
  for (const s of SIGNALS) process.on(s, handler);
  return untrap;
}

/** Until the returned function is called, SIGINT and SIGTERM call `stop` (once; a second signal ends the process as usual). */
function endOnSignal(stop: () => void): () => void {
  const handler = (): void => {
    untrap();
    stop();
  };
  const untrap = (): void => {
    for (const s of SIGNALS) process.off(s, handler);
  };
  for (const s of SIGNALS) process.on(s, handler);
  return untrap;
}

/**
 * The batches, and with an idle timeout (--idle-timeout; Infinity: off),
 * `{ idle }` after each stretch of that long without a batch: what
 * `runner.idle` released for the time gone by since the last batch or tick.
 */
async function* idleTicks(batches: AsyncIterable<ColumnBatch>, runner: Runner, timeoutMs: number): AsyncGenerator<ColumnBatch | { idle: Emitted }> {
  if (timeoutMs === Infinity || runner.idle === undefined) {
    yield* batches;
    return;
  }
  const it = batches[Symbol.asyncIterator]();
  let last = performance.now();
  let next = it.next();
  for (;;) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = new Promise<'tick'>((resolve) => (timer = setTimeout(() => resolve('tick'), Math.max(0, last + timeoutMs - performance.now()))));
    const got = await Promise.race([next, tick]);
    clearTimeout(timer);
    const t = performance.now();
    if (got === 'tick') {
      yield { idle: await runner.idle(t - last) };
      last = t;
      continue;
    }
    if (got.done === true) return;
    last = t;
    next = it.next();
    yield got.value;
  }
}

/** Writes a checkpoint that is due; a failure names the directory (exit 3), the previous checkpoint stays as it was. */
async function saveCheckpoint(dir: string, cp: Checkpoint): Promise<void> {
  try {
    await writeCheckpoint(dir, cp);
  } catch (err) {
    throw new RunFailure(`streamkernel run: cannot write the checkpoint in ${JSON.stringify(dir)}: ${describeErrno(err as NodeJS.ErrnoException)}`, EXIT_FILE);
  }
}

/** Removes the checkpoint of a complete run. The output is complete by then: a failure is only a warning. */
async function dropCheckpoint(dir: string, stderr: Writable): Promise<void> {
  try {
    await removeCheckpoint(dir);
  } catch (err) {
    // A read-only directory refuses even where there is nothing to remove.
    if (!existsSync(checkpointPath(dir))) return;
    stderr.write(
      `streamkernel run: warning: the output is complete, but the checkpoint ${JSON.stringify(checkpointPath(dir))} cannot be removed: ${describeErrno(err as NodeJS.ErrnoException)}; remove it before the next run\n`,
    );
  }
}

/** What a run did, for callers such as the demo. */
export interface RunStats {
  /** Rows written, malformed rows skipped, rows too far out of order (skipped), rows put back in time order. */
  rows: number;
  skipped: number;
  late: number;
  reordered: number;
}

/** Runs the job; resolves with the exit code (messages on stderr). With `stats`, fills it in on success. */
export async function runJob(cmd: RunCommand, io: RunIo, stats?: RunStats): Promise<number> {
  try {
    return await runJobInner(cmd, io, stats);
  } catch (err) {
    if (err instanceof RunFailure) {
      io.stderr.write(`${err.message}\n`);
      return err.code;
    }
    throw err;
  }
}

async function runJobInner(cmd: RunCommand, io: RunIo, stats: RunStats | undefined): Promise<number> {
  const where = 'streamkernel run';
  const fromFile = cmd.file !== undefined && cmd.file !== '-';
  const inputName = fromFile ? JSON.stringify(cmd.file) : 'stdin';

  // Nothing written may be the input, by any name: checked before anything is opened.
  let target: OutputTarget | undefined;
  try {
    const stdinFd = (io.stdin as { fd?: unknown }).fd;
    target = await checkRunPaths(cmd, typeof stdinFd === 'number' ? stdinFd : undefined);
  } catch (err) {
    if (err instanceof UsageError) throw new RunFailure(`${where}: ${err.message} (see 'streamkernel run --help')`, EXIT_USAGE);
    throw err;
  }

  // The input must be readable before anything else happens.
  if (fromFile) {
    try {
      const h = await open(cmd.file as string, 'r');
      const st = await h.stat();
      await h.close();
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    } catch (err) {
      throw new RunFailure(`${where}: cannot open ${inputName}: ${describeErrno(err as NodeJS.ErrnoException)}`, EXIT_FILE);
    }
  }

  // A checkpoint to resume from?
  let cp: Checkpoint | undefined;
  let fp = '';
  const dir = cmd.checkpoint;
  if (dir !== undefined) {
    try {
      await mkdir(dir, { recursive: true });
      fp = await fingerprint(meaning(cmd), cmd.file as string, cmd.output as string);
      cp = await readCheckpoint(dir);
    } catch (err) {
      if (err instanceof CheckpointError) throw new RunFailure(`${where}: ${err.message}; remove it to start over`, EXIT_FAILURE);
      throw new RunFailure(`${where}: cannot use checkpoint directory ${JSON.stringify(dir)}: ${describeErrno(err as NodeJS.ErrnoException)}`, EXIT_FILE);
    }
    if (cp !== undefined && cp.fingerprint !== fp) {
      throw new RunFailure(
        `${where}: the checkpoint in ${JSON.stringify(dir)} is of another run (other options, input or output, or the input changed); remove it or use another --checkpoint DIR`,
        EXIT_USAGE,
      );
    }
  }

  // The CRC only shows the checkpoint is as written: its fields must also fit the command and the files, before the output is truncated to it.
  const formatter =
    cmd.window.kind === 'records'
      ? windowFormatter(cmd)
      : new TextFormatter(cmd.outputFormat, {
          value: cmd.value,
          ...(cmd.time !== undefined ? { time: cmd.time } : {}),
          ...(cmd.key !== undefined ? { key: cmd.key } : {}),
          ops: opNames(cmd),
        });
  if (cp !== undefined && dir !== undefined) {
    try {
      checkCheckpoint(dir, cp, { keyed: cmd.key !== undefined, ops: opNames(cmd).length });
      await checkCheckpointFiles(dir, cp, { input: cmd.file as string, csv: cmd.inputFormat === 'csv', output: cmd.output as string, header: formatter.header() });
    } catch (err) {
      if (err instanceof CheckpointError) throw new RunFailure(`${where}: ${err.message}; remove it to start over`, EXIT_FAILURE);
      throw new RunFailure(`${where}: cannot check the checkpoint against ${inputName} and ${JSON.stringify(cmd.output)}: ${describeErrno(err as NodeJS.ErrnoException)}`, EXIT_FILE);
    }
  }

  // The ops start (scheduler workers boot, kernels compile) while a file's first batches are read (ReadAhead).
  const records = formatter instanceof WindowFormatter;
  const starting: Promise<Runner> = records ? WindowRunner.create(cmd, cp?.ops, cp?.offset, formatter) : OpsRunner.create(cmd, cp?.ops, cp?.offset, formatter as TextFormatter);
  const columns: ColumnOptions & { delimiter?: string } = {
    value: cmd.value,
    ...(cmd.time !== undefined ? { time: cmd.time } : {}),
    ...(cmd.key !== undefined ? { key: cmd.key } : {}),
    batchSize: cmd.batchSize,
    onError: cmd.onError,
    ...(cmd.inputFormat === 'csv' ? { delimiter: cmd.delimiter } : {}),
    // Window records print times from ms (WindowRunner.time) and number keys (KeyedOps): no text per row.
    ...(records ? { timeText: false, keyIds: true } : {}),
    // The ops number keys too (KeyedOps, TextFormatter, the order check of time windows): no key string per row.
    // Rows that wait (WaitingRows) keep ids too, of its own list (restored held rows come as strings).
    ...(!records && cmd.key !== undefined ? { keyIds: true } : {}),
    // Rows echo their time cell: canonical ISO cells are written from the ms (TextFormatter, WaitingRows), no string per row.
    ...(!records ? { timeText: 'unlessIso' as const } : {}),
  };
  // A regular file (not followed) is read ahead while the ops start: its batches are the same whenever read.
  let ahead: ReadAhead<ColumnBatch> | undefined;
  let total: number | undefined;
  if (fromFile && !cmd.follow) {
    try {
      const source = cmd.inputFormat === 'csv' ? csvFileSource(cmd.file as string, columns) : ndjsonFileSource(cmd.file as string, columns);
      total = source.size;
      ahead = new ReadAhead(source.batches(cp?.offset), starting, readAheadBatches(cmd.batchSize));
    } catch (err) {
      void starting.then((r) => r.dispose(), () => undefined);
      throw err;
    }
  }

  let runner: Runner;
  try {
    runner = await starting;
  } catch (err) {
    await ahead?.close();
    if (err instanceof SnapshotError || err instanceof CheckpointError) throw new RunFailure(`${where}: cannot resume from the checkpoint: ${err.message}; remove it to start over`, EXIT_FAILURE);
    if (err instanceof RangeError || err instanceof TypeError) throw new RunFailure(`${where}: ${err.message} (see 'streamkernel run --help')`, EXIT_USAGE);
    throw err;
  }

  let batches: AsyncIterable<ColumnBatch>;
  let liveInput = false;
  // --follow: SIGINT and SIGTERM end the input; the run then finishes as at the end of a file.
  const follow = cmd.follow ? new FollowInput(cmd.file as string, cmd.inputFormat === 'csv', (m) => io.stderr.write(`${where}: ${m}\n`)) : undefined;
  const unfollow = follow !== undefined ? endOnSignal(follow.stop) : () => undefined;
  if (follow !== undefined) {
    const live = new LiveInput(Readable.from(follow.chunks()), cmd.maxDelayMs);
    liveInput = true;
    const liveColumns = { ...columns, cutBatch: live.cut };
    batches = cmd.inputFormat === 'csv' ? csvSource(live.chunks(), liveColumns) : ndjsonSource(live.chunks(), liveColumns);
  } else if (ahead !== undefined) {
    batches = ahead;
  } else {
    // A pipe or terminal is live input: rows go out as they arrive, not when a batch fills (live.ts).
    const live = readsRegularFile(io.stdin) ? undefined : new LiveInput(io.stdin, cmd.maxDelayMs);
    liveInput = live !== undefined;
    const input = live?.chunks() ?? io.stdin;
    const stdinColumns = live !== undefined ? { ...columns, cutBatch: live.cut } : columns;
    batches = cmd.inputFormat === 'csv' ? csvSource(input, stdinColumns) : ndjsonSource(input, stdinColumns);
  }

  let checkpoints = 0;
  // Nothing committed to keep: a failure or a signal removes what was written.
  const discard = (): boolean => cp === undefined && checkpoints === 0;
  // -o /dev/stdout goes to stdout as it is (it may be a socket, which cannot be opened by name).
  const plan = cmd.output !== undefined && target !== undefined && !target.stdout ? filePlan(target, dir !== undefined) : undefined;
  // Trapped before the file is created, so no signal can come between.
  const untrap = plan !== undefined && follow === undefined ? cleanUpOnSignal(() => plan.leftover(discard())) : () => undefined;
  let sink: Sink;
  try {
    sink = plan === undefined ? stdoutSink(io.out) : await fileSink(cmd.output as string, plan, cp?.outputBytes, liveInput);
  } catch (err) {
    untrap();
    unfollow();
    runner.dispose();
    throw err;
  }
  const showProgress = cmd.progress === 'always' || (cmd.progress === 'auto' && io.stderrIsTTY);
  const progress = new Progress(io.stderr, showProgress, total, cp?.offset.bytes ?? 0);
  const crash = crashPoint();
  let rows = cp?.rows ?? 0;
  let skipped = cp?.skipped ?? 0;
  const startRows = cp?.offset.rows ?? 0;
  let readRows = startRows;
  let sinceCheckpoint = 0;
  let bytes = cp?.offset.bytes ?? 0;
  let end: SourceOffset = cp?.offset ?? { bytes: 0, rows: 0, lines: 0 };
  let done = false;

  try {
    // The header goes out with the first batch, so an unknown column writes nothing.
    let headerDone = cp !== undefined;
    for await (const batch of idleTicks(batches, runner, cmd.idleTimeoutMs)) {
      if ('idle' in batch) {
        // No row for --idle-timeout: the rows that released go out now.
        if (batch.idle.rows > 0) {
          rows += batch.idle.rows;
          await sink.write(batch.idle.text);
        }
        continue;
      }
      if (!headerDone) {
        await sink.write(runner.header());
        headerDone = true;
      }
      const result = await runner.process(batch);
      rows += result.rows;
      skipped += batch.skipped;
      bytes = batch.end.bytes;
      readRows = batch.end.rows;
      end = batch.end;
      if (result.rows > 0) await sink.write(result.text, runner.recycle && (() => runner.recycle!(result.text)));
      sinceCheckpoint += batch.length + batch.skipped;
      if (dir !== undefined && sinceCheckpoint >= cmd.checkpointEvery) {
        sinceCheckpoint = 0;
        const due = checkpoints + 1;
        // The checkpoint covers every row read: results still out are written first.
        const rest = await runner.settle();
        if (rest.rows > 0) {
          rows += rest.rows;
          await sink.write(rest.text);
        }
        const ops = await runner.state();
        const outputBytes = await sink.commit();
        if (crash?.at === due && crash.phase === 'before') process.kill(process.pid, 'SIGKILL');
        await saveCheckpoint(dir, { fingerprint: fp, offset: batch.end, outputBytes, rows, skipped, ops });
        checkpoints = due;
        if (crash?.at === checkpoints && crash.phase === 'after') process.kill(process.pid, 'SIGKILL');
      }
      progress.update(readRows - startRows, bytes);
    }
    if (!headerDone) await sink.write(runner.header());
    // Rows still held for out-of-order arrival get their results now (window records: the windows still open).
    const last = await runner.finish(end);
    if (last.rows > 0) {
      rows += last.rows;
      await sink.write(last.text);
    }
    await sink.finish();
    done = true;
  } catch (err) {
    progress.clear();
    if (err instanceof MalformedRowError) throw new RunFailure(`${where}: ${inputName}: ${err.message}`, EXIT_MALFORMED);
    if (err instanceof OrderError || err instanceof LateRowError) throw new RunFailure(`${where}: ${inputName}: ${err.message}`, EXIT_MALFORMED);
    if (err instanceof UnknownColumnError) throw new RunFailure(`${where}: ${inputName}: ${err.message}`, EXIT_USAGE);
    const e = err as NodeJS.ErrnoException;
    if (e.syscall === 'read' || e.syscall === 'open') throw new RunFailure(`${where}: cannot read ${inputName}: ${describeErrno(e)}`, EXIT_FILE);
    throw err;
  } finally {
    untrap();
    unfollow();
    follow?.stop(); // after a failure: the file is not read any further
    if (!done) await sink.abandon(discard());
    runner.dispose();
  }
  if (dir !== undefined) await dropCheckpoint(dir, io.stderr);

  progress.update(readRows - startRows, bytes, true);
  progress.clear();
  const late = runner.late;
  if (stats !== undefined) Object.assign(stats, { rows, skipped, late, reordered: runner.reordered });
  if (cmd.progress === 'always' || (cmd.progress === 'auto' && (io.stderrIsTTY || skipped > 0 || late > 0))) {
    const seconds = progress.seconds;
    const parts = [`${group(rows)} rows`];
    if (skipped > 0) parts.push(`${group(skipped)} malformed row${skipped === 1 ? '' : 's'} skipped`);
    if (runner.reordered > 0) parts.push(`${group(runner.reordered)} out-of-order row${runner.reordered === 1 ? '' : 's'} put in order`);
    if (late > 0) parts.push(`${group(late)} late row${late === 1 ? '' : 's'} (${runner.lateWhy}) skipped`);
    if (cp !== undefined) parts.push(`resumed at row ${group(cp.offset.rows)}`);
    const processed = readRows - startRows;
    io.stderr.write(
      `${where}: ${parts.join(', ')}; ${runner.names.length} op${runner.names.length === 1 ? '' : 's'} in ${seconds.toFixed(2)} s (${rateText(processed / seconds)})${cmd.output !== undefined ? ` → ${cmd.output}` : ''}\n`,
    );
  }
  return EXIT_OK;
}
