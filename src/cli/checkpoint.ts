// Checkpoints of `streamkernel run --checkpoint DIR`: how far the input was
// read, how much output is durable, and every kernel's state, in one file
// replaced atomically (temp file + fsync + rename + directory fsync) and
// guarded by a CRC-32.
//
// File layout: the line "streamkernel-checkpoint 2", a line with the CRC-32
// (8 hex digits) of the rest, then the JSON body.

import { createHash } from 'node:crypto';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../connectors/node.js';
import type { SourceOffset } from '../connectors/types.js';
import { crc32 } from '../crc32.js';

const MAGIC = 'streamkernel-checkpoint 2';
/** The first line of the checkpoints of earlier versions (their ops' state per runner), refused: see readCheckpoint. */
const OLD_MAGIC = 'streamkernel-checkpoint 1';
export const CHECKPOINT_FILE = 'checkpoint';

/**
 * The state of the ops, whatever the worker count (src/cli/ops.ts): one
 * scheduler checkpoint per op, so it resumes on any number of workers.
 */
export interface OpsState {
  /** Key names in the order of their numeric ids (0, 1, …); empty when unkeyed. */
  keys: string[];
  /** Per op, a scheduler checkpoint (its own checksummed format), covering every row pushed into the ops. */
  jobs: Uint8Array[];
  /** With --max-out-of-order: the rows held for reordering before the ops (src/time/reorder.ts). */
  reorder?: Uint8Array;
  /** Time windows: the greatest timestamp per key (for the order check). */
  lastTimes?: [string, number][];
  /** Rows read but not yet written (their results are not all known) and the counters. */
  held?: HeldRows;
  /** Window records: times are written as ms numbers or ISO 8601 dates (the input's first row decides). */
  timeFormat?: 'ms' | 'iso';
}

/** Rows read but not yet written (their results are not all known), in input order; JSON as is. */
export interface HeldRows {
  /** Rows pushed into the operators so far. */
  pushed: number;
  /** Rows left out for being too far out of order, and rows placed back in order. */
  late: number;
  reordered: number;
  /** Per held row: the time as read, the key (keyed runs), the value and each op's result (Float64 as base64), '1' where the results are known. */
  time: string[];
  keys?: string[];
  values: string;
  results: string[];
  known: string;
}

export interface Checkpoint {
  fingerprint: string;
  /** Where the input is read from on resume. */
  offset: SourceOffset;
  /** The output file's committed size: it is truncated to this on resume. */
  outputBytes: number;
  /** Rows written and rows skipped so far. */
  rows: number;
  skipped: number;
  ops: OpsState;
}

/** A checkpoint that cannot be used: corrupt, or for another command. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** Identifies a run: the command's meaning plus the input file's identity (size, mtime). */
export async function fingerprint(meaning: unknown, inputFile: string, outputFile: string): Promise<string> {
  const s = await stat(inputFile);
  const text = JSON.stringify({ meaning, input: path.resolve(inputFile), size: s.size, mtimeMs: s.mtimeMs, output: path.resolve(outputFile) });
  return createHash('sha256').update(text).digest('hex');
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function checkpointPath(dir: string): string {
  return path.join(dir, CHECKPOINT_FILE);
}

/** Writes the checkpoint atomically and durably. */
export async function writeCheckpoint(dir: string, cp: Checkpoint): Promise<void> {
  const { keys, jobs, reorder, lastTimes, held, timeFormat } = cp.ops;
  const body = JSON.stringify({
    ...cp,
    ops: {
      keys,
      jobs: jobs.map(toBase64),
      ...(reorder !== undefined ? { reorder: toBase64(reorder) } : {}),
      ...(lastTimes !== undefined ? { lastTimes } : {}),
      ...(held !== undefined ? { held } : {}),
      ...(timeFormat !== undefined ? { timeFormat } : {}),
    },
  });
  const bodyBytes = Buffer.from(body, 'utf8');
  const crc = crc32(bodyBytes).toString(16).padStart(8, '0');
  await writeFileAtomic(checkpointPath(dir), Buffer.concat([Buffer.from(`${MAGIC}\n${crc}\n`, 'utf8'), bodyBytes]));
}

/** The checkpoint in `dir`, or undefined when there is none. Throws CheckpointError when it is corrupt. */
export async function readCheckpoint(dir: string): Promise<Checkpoint | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(checkpointPath(dir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const first = bytes.indexOf(0x0a);
  const second = first === -1 ? -1 : bytes.indexOf(0x0a, first + 1);
  const magic = bytes.subarray(0, first === -1 ? 0 : first).toString('utf8');
  if (magic === OLD_MAGIC) {
    throw new CheckpointError(`cannot resume from the checkpoint ${checkpointPath(dir)}: it is of an earlier version of streamkernel (${OLD_MAGIC}), whose state this version does not read`);
  }
  if (second === -1 || magic !== MAGIC) {
    throw new CheckpointError(`${checkpointPath(dir)} is not a streamkernel checkpoint`);
  }
  const crc = bytes.subarray(first + 1, second).toString('utf8');
  const body = bytes.subarray(second + 1);
  if (crc32(body).toString(16).padStart(8, '0') !== crc) throw new CheckpointError(`${checkpointPath(dir)} is corrupt (checksum mismatch)`);
  try {
    const raw = JSON.parse(body.toString('utf8')) as Omit<Checkpoint, 'ops'> & {
      ops: { keys: string[]; jobs: string[]; reorder?: string; lastTimes?: [string, number][]; held?: HeldRows; timeFormat?: 'ms' | 'iso' };
    };
    const fromBase64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));
    const { keys, jobs, reorder, lastTimes, held, timeFormat } = raw.ops;
    if (!Array.isArray(jobs) || !jobs.every((j) => typeof j === 'string')) throw new Error('its ops.jobs is not a list of base64 texts');
    return {
      ...raw,
      ops: {
        keys,
        jobs: jobs.map(fromBase64),
        ...(typeof reorder === 'string' ? { reorder: fromBase64(reorder) } : {}),
        ...(lastTimes !== undefined ? { lastTimes } : {}),
        ...(held !== undefined ? { held } : {}),
        ...(timeFormat !== undefined ? { timeFormat } : {}),
      },
    };
  } catch (err) {
    throw new CheckpointError(`${checkpointPath(dir)} is corrupt: ${(err as Error).message}`);
  }
}

/** What the command expects a checkpoint's ops to hold. */
export interface CheckpointShape {
  keyed: boolean;
  /** Ops of the command: one state each. */
  ops: number;
}

/** The files a checkpoint refers to. */
export interface CheckpointFiles {
  input: string;
  /** The input is CSV: its header line comes before any row. */
  csv: boolean;
  output: string;
  /** The output's header, written before the first checkpoint. */
  header: string;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((k) => typeof k === 'string');

/**
 * Checks every field behind the CRC that the run relies on (the CRC only
 * proves the file is as written): counts are counts, keys are keys, the ops'
 * state fits the command. Throws CheckpointError naming the field.
 */
export function checkCheckpoint(dir: string, cp: Checkpoint, shape: CheckpointShape): void {
  const bad = (field: string, why: string): never => {
    throw new CheckpointError(`${checkpointPath(dir)} is corrupt: its ${field} ${why}`);
  };
  const count = (field: string, v: unknown): void => {
    if (!isCount(v)) bad(field, `is ${JSON.stringify(v)}, not a count`);
  };
  const offset = cp.offset as Partial<SourceOffset> | null;
  if (typeof offset !== 'object' || offset === null) bad('offset', 'is missing');
  for (const f of ['bytes', 'rows', 'lines'] as const) count(`offset.${f}`, offset?.[f]);
  count('outputBytes', cp.outputBytes);
  count('rows', cp.rows);
  count('skipped', cp.skipped);

  const { keys, jobs, held, lastTimes, timeFormat } = cp.ops;
  if (timeFormat !== undefined && timeFormat !== 'ms' && timeFormat !== 'iso') bad('ops.timeFormat', `is ${JSON.stringify(timeFormat)}, not "ms" or "iso"`);
  if (!isStrings(keys) || new Set(keys).size !== keys.length) bad('ops.keys', 'is not a list of distinct keys');
  if (!shape.keyed && keys.length !== 0) bad('ops.keys', 'holds keys, but the command has no --key');
  if (jobs.length !== shape.ops) bad('ops.jobs', `holds ${jobs.length} states, the command has ${shape.ops} ops`);
  if (lastTimes !== undefined && !(Array.isArray(lastTimes) && lastTimes.every((t) => Array.isArray(t) && typeof t[0] === 'string' && typeof t[1] === 'number'))) {
    bad('ops.lastTimes', 'is not a list of [key, time] pairs');
  }
  if (held !== undefined) {
    for (const f of ['pushed', 'late', 'reordered'] as const) count(`ops.held.${f}`, held[f]);
    if (!isStrings(held.time)) bad('ops.held.time', 'is not a list of times');
    if (held.keys !== undefined && !isStrings(held.keys)) bad('ops.held.keys', 'is not a list of keys');
    if (typeof held.values !== 'string' || !isStrings(held.results)) bad('ops.held.values', 'is not base64 text');
    if (typeof held.known !== 'string' || !/^[01]*$/.test(held.known)) bad('ops.held.known', 'is not a string of 0 and 1');
  }
}

/** The byte of `file` at `at`, or undefined past its end. */
async function byteAt(file: string, at: number): Promise<number | undefined> {
  const h = await open(file, 'r');
  try {
    const b = Buffer.alloc(1);
    const { bytesRead } = await h.read(b, 0, 1, at);
    return bytesRead === 1 ? b[0] : undefined;
  } finally {
    await h.close();
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

/**
 * Checks the checkpoint's offsets against the files they point into: the
 * input offset and the output's committed size must lie within the files, on
 * a row boundary (just after a line end, or at the end of the input). Throws
 * CheckpointError naming the field, before anything is truncated or read.
 */
export async function checkCheckpointFiles(dir: string, cp: Checkpoint, files: CheckpointFiles): Promise<void> {
  const bad = (field: string, value: number, why: string): never => {
    throw new CheckpointError(`${checkpointPath(dir)} does not match the files: its ${field} ${value} ${why}`);
  };
  const NL = 0x0a;
  const at = cp.offset.bytes;
  const inputSize = await sizeOf(files.input);
  const input = JSON.stringify(files.input);
  if (at > inputSize) bad('offset.bytes', at, `is past the end of the input ${input} (${inputSize} bytes)`);
  if (files.csv && at === 0) bad('offset.bytes', at, `is before the header line of the input ${input}`);
  if (at > 0 && at < inputSize && (await byteAt(files.input, at - 1)) !== NL) bad('offset.bytes', at, `is not at the start of a row of the input ${input}`);

  const committed = cp.outputBytes;
  const outputSize = await sizeOf(files.output);
  const output = JSON.stringify(files.output);
  const headerBytes = Buffer.byteLength(files.header);
  if (committed > outputSize) bad('outputBytes', committed, `is past the end of the output ${output} (${outputSize} bytes)`);
  if (committed < headerBytes) bad('outputBytes', committed, `is inside the header line of the output ${output}`);
  if (committed > 0 && (await byteAt(files.output, committed - 1)) !== NL) bad('outputBytes', committed, `is not at the end of a row of the output ${output}`);
}

/** Removes the checkpoint once the run is complete. */
export async function removeCheckpoint(dir: string): Promise<void> {
  await unlink(checkpointPath(dir)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}
