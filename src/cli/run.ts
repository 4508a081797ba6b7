// `streamkernel run`: the main job. CSV/NDJSON from a file or stdin → typed
// columns → several ops (count or time windows, keyed or not) → CSV/NDJSON
// to stdout or a file, with optional crash-safe checkpoints.

import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { csvSource } from '../connectors/csv.js';
import { MalformedRowError, UnknownColumnError } from '../connectors/errors.js';
import { TextFormatter } from '../connectors/format.js';
import { ndjsonSource } from '../connectors/ndjson.js';
import { csvFileSource, FileSink, ndjsonFileSource } from '../connectors/node.js';
import { KernelSet } from '../connectors/pipeline.js';
import type { ColumnBatch, ColumnOptions, ResultBatch } from '../connectors/types.js';
import { SnapshotError } from '../errors.js';
import { createTimeRolling, restoreTimeRolling } from '../time/rolling.js';
import type { DurationRollingSpec, TimeRolling } from '../types.js';
import { CheckpointError, fingerprint, readCheckpoint, removeCheckpoint, writeCheckpoint, type Checkpoint, type OpsState } from './checkpoint.js';
import type { Output } from './output.js';
import { group, Progress, rateText } from './progress.js';
import type { RunCommand } from './run-args.js';

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

/** What runs the ops over batches: count-window kernels or time-window operators. */
interface Runner {
  readonly names: string[];
  /** For unkeyed count windows: parse values straight into WASM memory. */
  readonly valueBuffer: ((rows: number) => Float64Array) | undefined;
  process(batch: ColumnBatch): Promise<ResultBatch>;
  state(): OpsState;
  dispose(): void;
}

class CountRunner implements Runner {
  readonly names: string[];
  readonly valueBuffer: ((rows: number) => Float64Array) | undefined;
  private constructor(private readonly set: KernelSet) {
    this.names = set.ops.map((o) => o.name);
    this.valueBuffer = set.keyed ? undefined : (rows: number) => set.inputBuffer(rows);
  }
  static async create(cmd: RunCommand, restore: OpsState | undefined): Promise<CountRunner> {
    const keyed = cmd.key !== undefined;
    return new CountRunner(restore ? await KernelSet.restore(cmd.ops, { keyed, entries: restore.entries }) : await KernelSet.create(cmd.ops, keyed));
  }
  async process(batch: ColumnBatch): Promise<ResultBatch> {
    return { batch, results: await this.set.process(batch) };
  }
  state(): OpsState {
    return { entries: this.set.snapshot().entries };
  }
  dispose(): void {
    this.set.dispose();
  }
}

/** A row of a time window that came before its key's previous row. */
class OrderError extends Error {}

class TimeRunner implements Runner {
  readonly names: string[];
  readonly valueBuffer = undefined;
  private readonly lastTimes: Map<string, number>;
  private constructor(
    private readonly ops: TimeRolling[],
    names: string[],
    lastTimes: [string, number][],
    private readonly skip: boolean,
  ) {
    this.names = names;
    this.lastTimes = new Map(lastTimes);
  }
  static specs(cmd: RunCommand): DurationRollingSpec[] {
    if (cmd.window.kind !== 'time') throw new Error('not a time window');
    const ms = cmd.window.ms;
    return cmd.timeOps.map((o) => {
      const spec: DurationRollingSpec = { op: o.op, window: ms, keys: cmd.key !== undefined ? 'string' : 'none' };
      if (cmd.minPeriods !== undefined) spec.minPeriods = cmd.minPeriods;
      if (cmd.closed !== undefined) spec.closed = cmd.closed;
      if (o.ddof !== undefined) spec.ddof = o.ddof;
      if (o.q !== undefined) spec.q = o.q;
      return spec;
    });
  }
  static async create(cmd: RunCommand, restore: OpsState | undefined): Promise<TimeRunner> {
    const specs = TimeRunner.specs(cmd);
    const names = cmd.timeOps.map((o) => o.name);
    const skip = cmd.onError === 'skip';
    if (restore === undefined) return new TimeRunner(await Promise.all(specs.map((s) => createTimeRolling(s))), names, [], skip);
    const states = restore.entries[0]?.states ?? [];
    if (restore.entries.length !== 1 || states.length !== specs.length) throw new CheckpointError('checkpoint holds another number of time-window operators');
    const ops = await Promise.all(specs.map((s, i) => restoreTimeRolling(states[i] as Uint8Array, s)));
    return new TimeRunner(ops, names, restore.lastTimes ?? [], skip);
  }
  async process(batch: ColumnBatch): Promise<ResultBatch> {
    const n = batch.length;
    const ts = batch.timestamps as Float64Array;
    const keys = batch.keys;
    let keep: number[] | undefined;
    const before = batch.end.rows - n - batch.skipped;
    for (let i = 0; i < n; i++) {
      const k = keys?.[i] ?? '';
      const t = ts[i] as number;
      const last = this.lastTimes.get(k);
      if (last !== undefined && t < last) {
        if (!this.skip) {
          const who = keys !== undefined ? ` of key ${JSON.stringify(k)}` : '';
          throw new OrderError(`data row ${before + i + 1}: time ${batch.timeText?.[i] ?? t} is before the previous time${who} (time windows need each key's rows in time order)`);
        }
        keep ??= Array.from({ length: i }, (_, j) => j);
        continue;
      }
      this.lastTimes.set(k, t);
      keep?.push(i);
    }
    let b = batch;
    if (keep !== undefined) {
      const idx = keep;
      const pick = (a: Float64Array): Float64Array => Float64Array.from(idx, (i) => a[i] as number);
      b = {
        length: idx.length,
        values: pick(batch.values),
        timestamps: pick(ts),
        ...(batch.timeText !== undefined ? { timeText: idx.map((i) => batch.timeText?.[i] as string) } : {}),
        ...(keys !== undefined ? { keys: idx.map((i) => keys[i] as string) } : {}),
        end: batch.end,
        skipped: batch.skipped + (n - idx.length),
      };
    }
    const results = this.ops.map((op) => {
      const r = op.push(b.timestamps as Float64Array, b.values, b.keys);
      if (r.rows.length !== b.length) throw new Error(`time window returned ${r.rows.length} results for ${b.length} rows`);
      return r.values.slice();
    });
    return { batch: b, results };
  }
  state(): OpsState {
    return { entries: [{ key: null, states: this.ops.map((o) => o.snapshot()) }], lastTimes: [...this.lastTimes] };
  }
  dispose(): void {
    for (const o of this.ops) o.dispose();
  }
}

/** The parts of a command that change its output: resuming needs them unchanged. */
function meaning(cmd: RunCommand): unknown {
  const { file, inputFormat, outputFormat, value, time, key, ops, timeOps, window, minPeriods, closed, output, onError, delimiter } = cmd;
  return { v: 1, file, inputFormat, outputFormat, value, time, key, ops, timeOps, window, minPeriods, closed, output, onError, delimiter };
}

function describeErrno(err: NodeJS.ErrnoException): string {
  const messages: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'not a directory',
  };
  return (err.code !== undefined ? messages[err.code] : undefined) ?? err.message;
}

/** Test hook: SIGKILL this process at a checkpoint ("N:before" or "N:after" the N-th checkpoint is written). */
function crashPoint(): { at: number; phase: string } | undefined {
  const raw = process.env['STREAMKERNEL_TEST_CRASH'];
  const m = raw === undefined ? null : /^(\d+):(before|after)$/.exec(raw);
  return m === null ? undefined : { at: Number(m[1]), phase: m[2] as string };
}

/** Where results go: stdout, a file with checkpoints, or a temporary file renamed at the end. */
interface Sink {
  write(text: string): Promise<void>;
  commit(): Promise<number>;
  finish(): Promise<void>;
  /** After a failure: closes; `discard` removes the file (nothing of it is committed). */
  abandon(discard: boolean): Promise<void>;
}

function stdoutSink(out: Output): Sink {
  return {
    write: (text) => out.write(text),
    commit: async () => 0,
    finish: async () => undefined,
    abandon: async () => undefined,
  };
}

async function fileSink(file: string, resumeAt: number | undefined, viaTemp: boolean): Promise<Sink> {
  const target = viaTemp ? path.join(path.dirname(file), `.${path.basename(file)}.partial`) : file;
  let sink: FileSink;
  try {
    sink = await FileSink.open(target, resumeAt === undefined ? {} : { resumeAt });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== undefined) throw new RunFailure(`streamkernel run: cannot write ${JSON.stringify(file)}: ${describeErrno(e)}`, EXIT_FILE);
    throw new RunFailure(`streamkernel run: cannot resume: ${e.message}`, EXIT_FAILURE);
  }
  return {
    write: (text) => sink.write(text),
    commit: () => sink.commit(),
    finish: async () => {
      await sink.commit();
      await sink.close();
      if (viaTemp) await rename(target, file);
    },
    abandon: async (discard) => {
      await sink.close().catch(() => undefined);
      if (viaTemp || discard) await unlink(target).catch(() => undefined);
    },
  };
}

/** Runs the job; resolves with the exit code (messages on stderr). */
export async function runJob(cmd: RunCommand, io: RunIo): Promise<number> {
  try {
    return await runJobInner(cmd, io);
  } catch (err) {
    if (err instanceof RunFailure) {
      io.stderr.write(`${err.message}\n`);
      return err.code;
    }
    throw err;
  }
}

async function runJobInner(cmd: RunCommand, io: RunIo): Promise<number> {
  const where = 'streamkernel run';
  const fromFile = cmd.file !== undefined && cmd.file !== '-';
  const inputName = fromFile ? JSON.stringify(cmd.file) : 'stdin';

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

  let runner: Runner;
  try {
    runner = cmd.window.kind === 'time' ? await TimeRunner.create(cmd, cp?.ops) : await CountRunner.create(cmd, cp?.ops);
  } catch (err) {
    if (err instanceof SnapshotError || err instanceof CheckpointError) throw new RunFailure(`${where}: cannot resume from the checkpoint: ${err.message}; remove it to start over`, EXIT_FAILURE);
    if (err instanceof RangeError || err instanceof TypeError) throw new RunFailure(`${where}: ${err.message} (see 'streamkernel run --help')`, EXIT_USAGE);
    throw err;
  }

  const columns: ColumnOptions & { delimiter?: string } = {
    value: cmd.value,
    ...(cmd.time !== undefined ? { time: cmd.time } : {}),
    ...(cmd.key !== undefined ? { key: cmd.key } : {}),
    batchSize: cmd.batchSize,
    onError: cmd.onError,
    ...(runner.valueBuffer !== undefined ? { valueBuffer: runner.valueBuffer } : {}),
    ...(cmd.inputFormat === 'csv' ? { delimiter: cmd.delimiter } : {}),
  };
  let batches: AsyncIterable<ColumnBatch>;
  let total: number | undefined;
  if (fromFile) {
    const source = cmd.inputFormat === 'csv' ? csvFileSource(cmd.file as string, columns) : ndjsonFileSource(cmd.file as string, columns);
    total = source.size;
    batches = source.batches(cp?.offset);
  } else {
    batches = cmd.inputFormat === 'csv' ? csvSource(io.stdin, columns) : ndjsonSource(io.stdin, columns);
  }

  const formatter = new TextFormatter(cmd.outputFormat, {
    value: cmd.value,
    ...(cmd.time !== undefined ? { time: cmd.time } : {}),
    ...(cmd.key !== undefined ? { key: cmd.key } : {}),
    ops: runner.names,
  });
  const sink = cmd.output === undefined ? stdoutSink(io.out) : await fileSink(cmd.output, cp?.outputBytes, dir === undefined);
  const showProgress = cmd.progress === 'always' || (cmd.progress === 'auto' && io.stderrIsTTY);
  const progress = new Progress(io.stderr, showProgress, total, cp?.offset.bytes ?? 0);
  const crash = crashPoint();
  let checkpoints = 0;
  let rows = cp?.rows ?? 0;
  let skipped = cp?.skipped ?? 0;
  const startRows = rows + skipped;
  let sinceCheckpoint = 0;
  let bytes = cp?.offset.bytes ?? 0;
  let done = false;

  try {
    // The header goes out with the first batch, so an unknown column writes nothing.
    let headerDone = cp !== undefined;
    for await (const batch of batches) {
      if (!headerDone) {
        await sink.write(formatter.header());
        headerDone = true;
      }
      const result = await runner.process(batch);
      rows += result.batch.length;
      skipped += result.batch.skipped;
      bytes = batch.end.bytes;
      if (result.batch.length > 0) await sink.write(formatter.format(result));
      sinceCheckpoint += batch.length + batch.skipped;
      if (dir !== undefined && sinceCheckpoint >= cmd.checkpointEvery) {
        sinceCheckpoint = 0;
        checkpoints++;
        const outputBytes = await sink.commit();
        if (crash?.at === checkpoints && crash.phase === 'before') process.kill(process.pid, 'SIGKILL');
        await writeCheckpoint(dir, { fingerprint: fp, offset: batch.end, outputBytes, rows, skipped, ops: runner.state() });
        if (crash?.at === checkpoints && crash.phase === 'after') process.kill(process.pid, 'SIGKILL');
      }
      progress.update(rows + skipped - startRows, bytes);
    }
    if (!headerDone) await sink.write(formatter.header());
    await sink.finish();
    if (dir !== undefined) await removeCheckpoint(dir);
    done = true;
  } catch (err) {
    progress.clear();
    if (err instanceof MalformedRowError) throw new RunFailure(`${where}: ${inputName}: ${err.message}`, EXIT_MALFORMED);
    if (err instanceof OrderError) throw new RunFailure(`${where}: ${inputName}: ${err.message}`, EXIT_MALFORMED);
    if (err instanceof UnknownColumnError) throw new RunFailure(`${where}: ${inputName}: ${err.message}`, EXIT_USAGE);
    const e = err as NodeJS.ErrnoException;
    if (e.syscall === 'read' || e.syscall === 'open') throw new RunFailure(`${where}: cannot read ${inputName}: ${describeErrno(e)}`, EXIT_FILE);
    throw err;
  } finally {
    if (!done) await sink.abandon(cp === undefined && checkpoints === 0);
    runner.dispose();
  }

  progress.update(rows + skipped - startRows, bytes, true);
  progress.clear();
  if (cmd.progress === 'always' || (cmd.progress === 'auto' && (io.stderrIsTTY || skipped > 0))) {
    const seconds = progress.seconds;
    const parts = [`${group(rows)} rows`];
    if (skipped > 0) parts.push(`${group(skipped)} malformed row${skipped === 1 ? '' : 's'} skipped`);
    if (cp !== undefined) parts.push(`resumed at row ${group(cp.rows + cp.skipped)}`);
    const processed = rows + skipped - startRows;
    io.stderr.write(
      `${where}: ${parts.join(', ')}; ${runner.names.length} op${runner.names.length === 1 ? '' : 's'} in ${seconds.toFixed(2)} s (${rateText(processed / seconds)})${cmd.output !== undefined ? ` → ${cmd.output}` : ''}\n`,
    );
  }
  return EXIT_OK;
}
