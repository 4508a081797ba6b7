// Checkpoints of `streamkernel run --checkpoint DIR`: how far the input was
// read, how much output is durable, and every kernel's state, in one file
// replaced atomically (temp file + fsync + rename + directory fsync) and
// guarded by a CRC-32.
//
// File layout: the line "streamkernel-checkpoint 1", a line with the CRC-32
// (8 hex digits) of the rest, then the JSON body.

import { createHash } from 'node:crypto';
import { readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../connectors/node.js';
import type { SourceOffset } from '../connectors/types.js';
import { crc32 } from '../crc32.js';

const MAGIC = 'streamkernel-checkpoint 1';
export const CHECKPOINT_FILE = 'checkpoint';

/** The state of the ops, per key; snapshots as base64. */
export interface OpsState {
  entries: { key: string | null; states: Uint8Array[] }[];
  /** The time runner's greatest timestamp per key (for its order check). */
  lastTimes?: [string, number][];
  /** The time runner's rows waiting for their results (--max-out-of-order) and its counters. */
  held?: HeldRows;
  /** --workers > 1 (entries is empty): the scheduler's state. */
  parallel?: ParallelState;
}

/** The state of `run --workers N`: one scheduler checkpoint per op, and the key names behind its numeric keys. */
export interface ParallelState {
  /** Key names in the order of their numeric ids (0, 1, …); empty when unkeyed. */
  keys: string[];
  /** Per op, a scheduler checkpoint (its own checksummed format), covering every row written. */
  jobs: Uint8Array[];
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
  const body = JSON.stringify({
    ...cp,
    ops: {
      entries: cp.ops.entries.map((e) => ({ key: e.key, states: e.states.map(toBase64) })),
      ...(cp.ops.lastTimes !== undefined ? { lastTimes: cp.ops.lastTimes } : {}),
      ...(cp.ops.held !== undefined ? { held: cp.ops.held } : {}),
      ...(cp.ops.parallel !== undefined ? { parallel: { keys: cp.ops.parallel.keys, jobs: cp.ops.parallel.jobs.map(toBase64) } } : {}),
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
  if (second === -1 || bytes.subarray(0, first).toString('utf8') !== MAGIC) {
    throw new CheckpointError(`${checkpointPath(dir)} is not a streamkernel checkpoint`);
  }
  const crc = bytes.subarray(first + 1, second).toString('utf8');
  const body = bytes.subarray(second + 1);
  if (crc32(body).toString(16).padStart(8, '0') !== crc) throw new CheckpointError(`${checkpointPath(dir)} is corrupt (checksum mismatch)`);
  try {
    const raw = JSON.parse(body.toString('utf8')) as Omit<Checkpoint, 'ops'> & {
      ops: { entries: { key: string | null; states: string[] }[]; lastTimes?: [string, number][]; held?: HeldRows; parallel?: { keys: string[]; jobs: string[] } };
    };
    const fromBase64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));
    return {
      ...raw,
      ops: {
        entries: raw.ops.entries.map((e) => ({ key: e.key, states: e.states.map(fromBase64) })),
        ...(raw.ops.lastTimes !== undefined ? { lastTimes: raw.ops.lastTimes } : {}),
        ...(raw.ops.held !== undefined ? { held: raw.ops.held } : {}),
        ...(raw.ops.parallel !== undefined ? { parallel: { keys: raw.ops.parallel.keys, jobs: raw.ops.parallel.jobs.map(fromBase64) } } : {}),
      },
    };
  } catch (err) {
    throw new CheckpointError(`${checkpointPath(dir)} is corrupt: ${(err as Error).message}`);
  }
}

/** Removes the checkpoint once the run is complete. */
export async function removeCheckpoint(dir: string): Promise<void> {
  await unlink(checkpointPath(dir)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}
