// The checkpoint format: one byte string holding a whole aligned checkpoint,
// little-endian, checksummed like kernel snapshots (src/snapshot.ts).
//
//   offset size
//      0    4  magic "SKCP"
//      4    2  format version (1)
//      6    2  flags: bit 0 = keyed, bit 1 = incremental (a delta)
//      8    8  total length of the checkpoint in bytes (u64)
//     16    8  checkpoint id (u64)
//     24    8  source offset: rows the checkpoint covers (u64)
//     32    4  key groups
//     36    8  build hash of the operator's kernel module
//     44    4  J: length of the JSON part
//     48    4  C: number of key-group entries
//     52    J  JSON {"spec": normalized operator spec, "sink": sink position, "base"?: id}
//           …  C × (u32 key group, u32 length L, L bytes of group state), groups ascending
//    end    4  CRC-32 of every byte before it
//
// Key groups without state are left out. An incremental checkpoint (a delta)
// holds only the key groups changed since checkpoint `base` (full or a delta
// itself); every other group is as in `base`. latestCheckpoint follows the
// chain back to a full checkpoint and refuses a delta whose chain is broken.
// decodeCheckpoint checks the length,
// magic, version, declared length and CRC before it parses anything, then the
// structure, then that the build and spec are this build's.
import { crc32 } from '../crc32.js';
import { bytesToHex, hexToBytes } from '../hex.js';
import { sameStateBuild } from '../builds.js';
import { buildHash } from '../engine.js';
import { moduleOf, operatorSpecFromNormalized, sameOperatorSpec, type NormalizedOperatorSpec as NormalizedSpec } from '../keyed/spec.js';
import { CheckpointError } from './errors.js';
import type { SinkPosition } from './types.js';

const MAGIC = [0x53, 0x4b, 0x43, 0x50]; // "SKCP"
/** The checkpoint format version this build writes and reads. */
export const CHECKPOINT_VERSION = 1;
const HEADER_BYTES = 52;
const TRAILER_BYTES = 4;

/** One aligned checkpoint: everything a job needs to resume. */
export interface Checkpoint {
  /** Increasing id, from 1. */
  id: number;
  /** Rows of the stream the checkpoint covers: the source resumes at this offset. */
  offset: number;
  /** The job's key groups. */
  keyGroups: number;
  /** Whether the job is keyed. */
  keyed: boolean;
  /** The kernel spec every key runs. */
  spec: NormalizedSpec;
  /** What the sink's preCommit returned. */
  sinkPosition: SinkPosition;
  /** State per key group (groups without state are absent; in a delta, groups unchanged since `base`). */
  groups: Map<number, Uint8Array>;
  /** An incremental checkpoint: the id of the checkpoint it changes (absent: a full checkpoint). */
  base?: number;
  /** Set by {@link latestCheckpoint}: checkpoints in the chain it was restored from (1: a full checkpoint). */
  chainLength?: number;
}

/**
 * Serializes a checkpoint in the format {@link decodeCheckpoint} reads
 * (version {@link CHECKPOINT_VERSION}, CRC-32 at the end).
 *
 * @example
 * ```ts
 * const copy = decodeCheckpoint(encodeCheckpoint(checkpoint)); // same contents
 * ```
 */
export function encodeCheckpoint(cp: Checkpoint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify({ spec: cp.spec, sink: cp.sinkPosition, ...(cp.base !== undefined ? { base: cp.base } : {}) }));
  const groups = [...cp.groups.entries()].sort((a, b) => a[0] - b[0]);
  let total = HEADER_BYTES + json.length + TRAILER_BYTES;
  for (const [, bytes] of groups) total += 8 + bytes.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint16(4, CHECKPOINT_VERSION, true);
  view.setUint16(6, (cp.keyed ? 1 : 0) | (cp.base !== undefined ? 2 : 0), true);
  view.setBigUint64(8, BigInt(total), true);
  view.setBigUint64(16, BigInt(cp.id), true);
  view.setBigUint64(24, BigInt(cp.offset), true);
  view.setUint32(32, cp.keyGroups, true);
  out.set(hexToBytes(buildHash(moduleOf(cp.spec))), 36);
  view.setUint32(44, json.length, true);
  view.setUint32(48, groups.length, true);
  out.set(json, HEADER_BYTES);
  let at = HEADER_BYTES + json.length;
  let crc = crc32(out, 0, at);
  for (const [group, bytes] of groups) {
    view.setUint32(at, group, true);
    view.setUint32(at + 4, bytes.length, true);
    out.set(bytes, at + 8);
    // Each group checksummed right after its copy, while its bytes are in cache, rather than all of out at the end.
    crc = crc32(out, at, at + 8 + bytes.length, crc);
    at += 8 + bytes.length;
  }
  view.setUint32(at, crc, true);
  return out;
}

function bad(message: string): CheckpointError {
  return new CheckpointError('BAD_FORMAT', `checkpoint is malformed: ${message}`);
}

/**
 * Checks a checkpoint's bytes and returns its contents; throws
 * {@link CheckpointError} saying what is wrong. The group states are views
 * into `bytes`; the worker that restores a group validates its kernel states.
 *
 * @example
 * ```ts
 * const store = fileCheckpointStore('./ckpt');
 * const [newest] = await store.list();
 * if (newest !== undefined) console.log(decodeCheckpoint(await store.read(newest)).offset);
 * ```
 */
export function decodeCheckpoint(raw: unknown): Checkpoint {
  if (!(raw instanceof Uint8Array)) {
    throw new TypeError(`checkpoint must be a Uint8Array, got ${raw === null ? 'null' : typeof raw}`);
  }
  // A plain view: a subclass's slice() may not copy (Node's Buffer gives a view), and the job copies
  // group states with slice() to transfer each one's own buffer to a worker.
  const bytes = Object.getPrototypeOf(raw) === Uint8Array.prototype ? raw : new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  const minimum = HEADER_BYTES + TRAILER_BYTES;
  if (bytes.length < minimum) {
    throw new CheckpointError('BAD_LENGTH', `checkpoint truncated: expected at least ${minimum} bytes, got ${bytes.length}`);
  }
  if (MAGIC.some((b, i) => bytes[i] !== b)) throw new CheckpointError('BAD_MAGIC', 'not a streamkernel checkpoint: bad magic number');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version !== CHECKPOINT_VERSION) {
    throw new CheckpointError('UNSUPPORTED_VERSION', `unsupported checkpoint format version ${version}; this build reads version ${CHECKPOINT_VERSION}`);
  }
  const total = view.getBigUint64(8, true);
  if (total !== BigInt(bytes.length)) {
    const word = total > BigInt(bytes.length) ? 'truncated' : 'has trailing bytes';
    throw new CheckpointError('BAD_LENGTH', `checkpoint ${word}: expected ${total} bytes, got ${bytes.length}`);
  }
  const end = bytes.length - TRAILER_BYTES;
  const stored = view.getUint32(end, true);
  const actual = crc32(bytes, 0, end);
  if (stored !== actual) {
    throw new CheckpointError('CHECKSUM_MISMATCH', `checksum mismatch: checkpoint is corrupt (stored CRC-32 ${stored.toString(16)}, computed ${actual.toString(16)})`);
  }
  const flags = view.getUint16(6, true);
  if (flags > 3) throw bad(`unknown flags ${flags}`);
  const id = Number(view.getBigUint64(16, true));
  const offset = Number(view.getBigUint64(24, true));
  if (!Number.isSafeInteger(id) || id < 1) throw bad(`id ${id} out of range`);
  if (!Number.isSafeInteger(offset)) throw bad(`source offset ${offset} out of range`);
  const keyGroups = view.getUint32(32, true);
  if (keyGroups < 1 || keyGroups > 32_768) throw bad(`key groups ${keyGroups} out of range`);
  const hash = bytesToHex(bytes.subarray(36, 44));
  const jsonLength = view.getUint32(44, true);
  const count = view.getUint32(48, true);
  if (HEADER_BYTES + jsonLength > end) throw bad(`JSON part of ${jsonLength} bytes runs past the end`);
  let parsed: { spec?: unknown; sink?: unknown; base?: unknown };
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(HEADER_BYTES, HEADER_BYTES + jsonLength))) as typeof parsed;
  } catch (error) {
    throw bad(`JSON part does not parse (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || !('spec' in parsed) || !('sink' in parsed)) throw bad('JSON part lacks spec or sink');
  const delta = (flags & 2) !== 0;
  if (delta !== ('base' in parsed)) throw bad(delta ? 'an incremental checkpoint without its base' : 'a base in a full checkpoint');
  if (delta && !(Number.isSafeInteger(parsed.base) && (parsed.base as number) >= 1 && (parsed.base as number) < id)) throw bad(`base ${JSON.stringify(parsed.base)} is not an earlier checkpoint id`);
  let spec: NormalizedSpec;
  try {
    // The spec as written: normalized (an ewm's alpha derived from its com), read back exactly.
    spec = operatorSpecFromNormalized(parsed.spec);
  } catch (error) {
    throw bad(`spec is invalid (${(error as Error).message})`);
  }
  const module = moduleOf(spec);
  if (!sameStateBuild(module, hash, buildHash(module))) {
    throw new CheckpointError('OTHER_BUILD', `checkpoint from another build of kernel '${module}' (build ${hash}; this is build ${buildHash(module)})`);
  }
  const groups = new Map<number, Uint8Array>();
  let at = HEADER_BYTES + jsonLength;
  let previous = -1;
  for (let i = 0; i < count; i++) {
    if (at + 8 > end) throw bad(`key-group entry ${i} runs past the end`);
    const group = view.getUint32(at, true);
    const length = view.getUint32(at + 4, true);
    if (group >= keyGroups || group <= previous) throw bad(`key group ${group} out of order or out of range`);
    if (at + 8 + length > end) throw bad(`key group ${group}'s ${length} bytes run past the end`);
    groups.set(group, bytes.subarray(at + 8, at + 8 + length));
    previous = group;
    at += 8 + length;
  }
  if (at !== end) throw bad(`${end - at} bytes after the last key group`);
  return { id, offset, keyGroups, keyed: (flags & 1) === 1, spec, sinkPosition: parsed.sink as SinkPosition, groups, ...(delta ? { base: parsed.base as number } : {}) };
}

/** A checkpoint that could not be used, and why. */
export interface RefusedCheckpoint {
  /** The checkpoint's id in the store. */
  id: number;
  /** Why it was refused: a {@link CheckpointError}, or the store's error when it could not be read. */
  error: Error;
}

/**
 * The newest checkpoint in a store that decodes, falling back past refused
 * ones (listed in `refused`, newest first). `checkpoint` is undefined when
 * the store holds none that is valid.
 *
 * @example
 * ```ts
 * const { checkpoint, refused } = await latestCheckpoint(fileCheckpointStore('./ckpt'));
 * if (checkpoint !== undefined) console.log(`resumes at row ${checkpoint.offset}; ${refused.length} refused`);
 * ```
 */
export async function latestCheckpoint(store: { list(): Promise<number[]>; read(id: number): Promise<Uint8Array> }): Promise<{
  /** The newest checkpoint that decodes, or undefined when there is none. */
  checkpoint: Checkpoint | undefined;
  /** The checkpoints passed over because they were refused, newest first, each with its error. */
  refused: RefusedCheckpoint[];
}> {
  const refused: RefusedCheckpoint[] = [];
  const ids = await store.list();
  for (const id of ids) {
    try {
      const cp = decodeCheckpoint(await store.read(id));
      if (cp.id !== id) throw new CheckpointError('BAD_FORMAT', `checkpoint is malformed: stored as id ${id} but holds id ${cp.id}`);
      return { checkpoint: await materialize(cp, ids, store), refused };
    } catch (error) {
      // A refused checkpoint, or one that cannot be read at all: fall back to the previous one.
      refused.push({ id, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }
  return { checkpoint: undefined, refused };
}

/**
 * A delta with its chain applied: the full checkpoint's groups, then each
 * delta's in order. Throws CheckpointError (BROKEN_CHAIN) naming the link that
 * is missing, unreadable or of another job.
 */
async function materialize(cp: Checkpoint, ids: readonly number[], store: { read(id: number): Promise<Uint8Array> }): Promise<Checkpoint> {
  const chain: Checkpoint[] = [cp];
  for (let link = cp; link.base !== undefined; ) {
    const base: number = link.base;
    const broken = (why: string): never => {
      throw new CheckpointError('BROKEN_CHAIN', `incremental checkpoint ${cp.id} needs checkpoint ${base}, which ${why}`);
    };
    if (!ids.includes(base)) broken('the store no longer holds (keep at least checkpoints.fullEvery checkpoints)');
    let next: Checkpoint;
    try {
      next = decodeCheckpoint(await store.read(base));
    } catch (error) {
      return broken(`is refused: ${(error as Error).message}`);
    }
    if (next.id !== base || next.keyGroups !== cp.keyGroups || next.keyed !== cp.keyed || !sameOperatorSpec(next.spec, cp.spec) || next.offset > link.offset) {
      broken('is of another job or later');
    }
    chain.push(next);
    link = next;
  }
  if (chain.length === 1) return { ...cp, chainLength: 1 };
  const groups = new Map<number, Uint8Array>();
  for (let i = chain.length - 1; i >= 0; i--) for (const [g, bytes] of chain[i]!.groups) groups.set(g, bytes);
  const { base: _base, ...full } = cp;
  return { ...full, groups, chainLength: chain.length };
}

/** Checks that a checkpoint was taken by a job of this shape. */
export function checkCompatible(cp: Checkpoint, job: { spec: NormalizedSpec; keyGroups: number; keyed: boolean }): void {
  if (cp.keyGroups !== job.keyGroups) {
    throw new CheckpointError('INCOMPATIBLE', `checkpoint ${cp.id} has ${cp.keyGroups} key groups, the job ${job.keyGroups}`);
  }
  if (cp.keyed !== job.keyed) {
    throw new CheckpointError('INCOMPATIBLE', `checkpoint ${cp.id} is ${cp.keyed ? 'keyed' : 'unkeyed'}, the job ${job.keyed ? 'keyed' : 'unkeyed'}`);
  }
  if (!sameOperatorSpec(cp.spec, job.spec)) {
    throw new CheckpointError('INCOMPATIBLE', `checkpoint ${cp.id} is of ${JSON.stringify(cp.spec)}, the job of ${JSON.stringify(job.spec)}`);
  }
}
