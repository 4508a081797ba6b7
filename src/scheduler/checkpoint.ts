// The checkpoint format: one byte string holding a whole aligned checkpoint,
// little-endian, checksummed like kernel snapshots (src/snapshot.ts).
//
//   offset size
//      0    4  magic "SKCP"
//      4    2  format version (1; 2 when a delta holds key patches)
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
//              (version 2: bit 31 of the key group set = a key patch, see below)
//    end    4  CRC-32 of every byte before it
//
// Key groups without state are left out. An incremental checkpoint (a delta)
// holds only the key groups changed since checkpoint `base` (full or a delta
// itself); every other group is as in `base`. latestCheckpoint follows the
// chain back to a full checkpoint and refuses a delta whose chain is broken.
// A count-kernel delta holds *key patches*: of a changed group, only the keys
// whose state changed (the group format of KernelOperator.snapshotGroup:
// u32 count n, u32 state size S, n u32 keys, n × S state bytes). Applied to
// the group as of `base`, a patch replaces those keys' states and appends its
// new keys (after the others, in its order): the bytes snapshotGroup would
// have given, so a restore gives the same bytes as a full checkpoint.
// Checkpoints without patches are written as version 1, as before.
// decodeCheckpoint checks the length,
// magic, version, declared length and CRC before it parses anything, then the
// structure, then that the build and spec are this build's.
import { crc32, crc32Combine } from '../crc32.js';
import { COMPACT_RECORDS } from './state-codec.js';
import { bytesToHex, hexToBytes } from '../hex.js';
import { sameStateBuild } from '../builds.js';
import { buildHash } from '../engine.js';
import type { ModuleName } from '../spec.js';
import { moduleOf, operatorSpecFromNormalized, sameOperatorSpec, type NormalizedOperatorSpec as NormalizedSpec } from '../keyed/spec.js';
import { timeBuildHash } from '../time/snapshot.js';
import { CheckpointError } from './errors.js';
import type { SinkPosition } from './types.js';

const MAGIC = [0x53, 0x4b, 0x43, 0x50]; // "SKCP"
/** The checkpoint format version this build writes (with key patches; 1 without) and reads (1 and 2). */
export const CHECKPOINT_VERSION = 2;
/** Bit 31 of a group entry's key group: the entry is a key patch (version 2). */
const PATCH_BIT = 0x8000_0000;
const HEADER_BYTES = 52;

/** The build a checkpoint's state belongs to: the kernel's, or the time layer's logical state layout (see src/time/snapshot.ts). */
function stateBuild(module: ModuleName): string {
  return module === 'timeroll' ? timeBuildHash() : buildHash(module);
}
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
  /** In a delta, the groups of `groups` that are key patches of their state in `base` (see the format). */
  patches?: ReadonlySet<number>;
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
  const steps = encodeSteps(cp, Infinity);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/** Group bytes copied and checksummed between two pauses of {@link encodeCheckpointSliced}: a few tenths of a millisecond. */
const SLICE_BYTES = 256 * 1024;

/** Lets the event loop run (messages, I/O, timers) before the next slice: setImmediate where there is one (Node), else a 0 ms timer. */
const nextTurn = (): Promise<void> => new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

/**
 * The same bytes as {@link encodeCheckpoint}, copied and checksummed about
 * 256 KiB at a time with the event loop let run in between: the job's
 * coordinator encodes each checkpoint this way, so a large checkpoint (1.7 MB
 * for 1 000 keys of `mean` over 100, 2–3 ms of CPU) does not hold up the
 * results of the batches behind it for the whole encoding.
 *
 * @internal
 */
export async function encodeCheckpointSliced(cp: Checkpoint, pause: () => Promise<void> = nextTurn): Promise<Uint8Array> {
  const steps = encodeSteps(cp, SLICE_BYTES);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    await pause();
  }
}

/** Encodes `cp`, yielding after every `sliceBytes` (or more) of group bytes; returns the bytes. */
function* encodeSteps(cp: Checkpoint, sliceBytes: number): Generator<void, Uint8Array, void> {
  const { json, groups, patched } = prepare(cp);
  let total = HEADER_BYTES + json.length + TRAILER_BYTES;
  for (const [, bytes] of groups) total += 8 + bytes.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  writeHead(out, cp, json, groups.length, patched, total);
  let at = HEADER_BYTES + json.length;
  let crc = crc32(out, 0, at);
  let sliceStart = at;
  for (const [group, bytes] of groups) {
    view.setUint32(at, frameId(cp, group, patched), true);
    view.setUint32(at + 4, bytes.length, true);
    out.set(bytes, at + 8);
    // Each group checksummed right after its copy, while its bytes are in cache, rather than all of out at the end.
    crc = crc32(out, at, at + 8 + bytes.length, crc);
    at += 8 + bytes.length;
    if (at - sliceStart >= sliceBytes) {
      yield;
      sliceStart = at;
    }
  }
  view.setUint32(at, crc, true);
  return out;
}

/** A checkpoint's JSON, its groups in order, and whether it holds key patches (version 2). */
function prepare(cp: Checkpoint): { json: Uint8Array; groups: [number, Uint8Array][]; patched: boolean } {
  const json = new TextEncoder().encode(JSON.stringify({ spec: cp.spec, sink: cp.sinkPosition, ...(cp.base !== undefined ? { base: cp.base } : {}) }));
  const groups = [...cp.groups.entries()].sort((a, b) => a[0] - b[0]);
  const patched = cp.base !== undefined && cp.patches !== undefined && cp.patches.size > 0;
  return { json, groups, patched };
}

/** The fixed header and the JSON, at the start of `out`. */
function writeHead(out: Uint8Array, cp: Checkpoint, json: Uint8Array, groupCount: number, patched: boolean, total: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set(MAGIC, 0);
  view.setUint16(4, patched ? CHECKPOINT_VERSION : 1, true);
  view.setUint16(6, (cp.keyed ? 1 : 0) | (cp.base !== undefined ? 2 : 0), true);
  view.setBigUint64(8, BigInt(total), true);
  view.setBigUint64(16, BigInt(cp.id), true);
  view.setBigUint64(24, BigInt(cp.offset), true);
  view.setUint32(32, cp.keyGroups, true);
  out.set(hexToBytes(stateBuild(moduleOf(cp.spec))), 36);
  view.setUint32(44, json.length, true);
  view.setUint32(48, groupCount, true);
  out.set(json, HEADER_BYTES);
}

/** A group's id as written before its bytes: bit 31 set for a key patch. */
function frameId(cp: Checkpoint, group: number, patched: boolean): number {
  return patched && cp.patches!.has(group) ? (group | PATCH_BIT) >>> 0 : group;
}

/**
 * Each key group's CRC-32, by its bytes: the job never changes a group's
 * bytes once it has them, so a full checkpoint's unchanged groups are not
 * read again.
 */
const groupCrcs = new WeakMap<Uint8Array, number>();

function groupCrc(bytes: Uint8Array): number {
  let crc = groupCrcs.get(bytes);
  if (crc === undefined) groupCrcs.set(bytes, (crc = crc32(bytes)));
  return crc;
}

/** The CRC-32 of a group's bytes where it is known already (from an encode or a decode), else undefined: for tests. @internal */
export function knownGroupCrc(bytes: Uint8Array): number | undefined {
  return groupCrcs.get(bytes);
}

/**
 * The CRC-32 of `bytes[0, end)`, computed group by group where the entries
 * can be walked, each group's CRC kept by its offset (decodeCheckpoint
 * records them, so the first full checkpoint a job composes after a restore
 * does not read its unchanged groups again); else in one pass. The same
 * value either way ({@link crc32Combine}).
 */
function checksum(bytes: Uint8Array, view: DataView, end: number): { crc: number; byOffset?: Map<number, number> } {
  const whole = (): { crc: number } => ({ crc: crc32(bytes, 0, end) });
  let at = HEADER_BYTES + view.getUint32(44, true);
  const count = view.getUint32(48, true);
  if (at > end) return whole();
  const byOffset = new Map<number, number>();
  let crc = crc32(bytes, 0, at);
  for (let i = 0; i < count; i++) {
    if (at + 8 > end) return whole();
    const length = view.getUint32(at + 4, true);
    if (at + 8 + length > end) return whole();
    const group = crc32(bytes, at + 8, at + 8 + length);
    crc = crc32Combine(crc32(bytes, at, at + 8, crc), group, length);
    byOffset.set(at + 8, group);
    at += 8 + length;
  }
  return at === end ? { crc, byOffset } : whole();
}

/**
 * The bytes of {@link encodeCheckpoint} as parts to be written one after
 * another: the group states themselves are parts (not copied), and the
 * checksum is combined from each group's (computed once per group,
 * {@link crc32Combine}). For stores with `saveParts`: a full checkpoint of
 * hundreds of MiB is then neither copied into one buffer nor checksummed
 * again when most of its groups did not change.
 *
 * @internal
 */
export function encodeCheckpointParts(cp: Checkpoint): Uint8Array[] {
  const { json, groups, patched } = prepare(cp);
  let total = HEADER_BYTES + json.length + TRAILER_BYTES;
  for (const [, bytes] of groups) total += 8 + bytes.length;
  const head = new Uint8Array(HEADER_BYTES + json.length);
  writeHead(head, cp, json, groups.length, patched, total);
  const frames = new Uint8Array(8 * groups.length);
  const view = new DataView(frames.buffer);
  const parts: Uint8Array[] = [head];
  let crc = crc32(head);
  groups.forEach(([group, bytes], i) => {
    view.setUint32(8 * i, frameId(cp, group, patched), true);
    view.setUint32(8 * i + 4, bytes.length, true);
    crc = crc32Combine(crc32(frames, 8 * i, 8 * i + 8, crc), groupCrc(bytes), bytes.length);
    parts.push(frames.subarray(8 * i, 8 * i + 8), bytes);
  });
  const trailer = new Uint8Array(TRAILER_BYTES);
  new DataView(trailer.buffer).setUint32(0, crc, true);
  parts.push(trailer);
  return parts;
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
  if (version !== 1 && version !== CHECKPOINT_VERSION) {
    throw new CheckpointError('UNSUPPORTED_VERSION', `unsupported checkpoint format version ${version}; this build reads versions 1 and ${CHECKPOINT_VERSION}`);
  }
  const total = view.getBigUint64(8, true);
  if (total !== BigInt(bytes.length)) {
    const word = total > BigInt(bytes.length) ? 'truncated' : 'has trailing bytes';
    throw new CheckpointError('BAD_LENGTH', `checkpoint ${word}: expected ${total} bytes, got ${bytes.length}`);
  }
  const end = bytes.length - TRAILER_BYTES;
  const stored = view.getUint32(end, true);
  const { crc: actual, byOffset } = checksum(bytes, view, end);
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
  if (!sameStateBuild(module, hash, stateBuild(module))) {
    throw new CheckpointError('OTHER_BUILD', `checkpoint from another build of kernel '${module}' (build ${hash}; this is build ${stateBuild(module)})`);
  }
  const groups = new Map<number, Uint8Array>();
  const patches = new Set<number>();
  let at = HEADER_BYTES + jsonLength;
  let previous = -1;
  for (let i = 0; i < count; i++) {
    if (at + 8 > end) throw bad(`key-group entry ${i} runs past the end`);
    const entry = view.getUint32(at, true);
    const length = view.getUint32(at + 4, true);
    const patch = version >= 2 && (entry & PATCH_BIT) !== 0;
    const group = patch ? entry & ~PATCH_BIT : entry;
    if (group >= keyGroups || group <= previous) throw bad(`key group ${group} out of order or out of range`);
    if (patch && !delta) throw bad(`a key patch of key group ${group} in a full checkpoint`);
    if (at + 8 + length > end) throw bad(`key group ${group}'s ${length} bytes run past the end`);
    const state = bytes.subarray(at + 8, at + 8 + length);
    const crc = byOffset?.get(at + 8);
    if (crc !== undefined) groupCrcs.set(state, crc);
    groups.set(group, state);
    if (patch) patches.add(group);
    previous = group;
    at += 8 + length;
  }
  if (at !== end) throw bad(`${end - at} bytes after the last key group`);
  return {
    id,
    offset,
    keyGroups,
    keyed: (flags & 1) === 1,
    spec,
    sinkPosition: parsed.sink as SinkPosition,
    groups,
    ...(delta ? { base: parsed.base as number } : {}),
    ...(patches.size > 0 ? { patches } : {}),
  };
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
  // The full checkpoint's groups, then the deltas oldest first.
  const groups = applyDeltas(chain[chain.length - 1]!.groups, chain.slice(0, -1).reverse());
  const { base: _base, patches: _patches, ...full } = cp;
  return { ...full, groups, chainLength: chain.length };
}

/** The groups of `base` (a full checkpoint's, or those a chain gave so far) with a checkpoint's groups and key patches applied; `base` is left as it was. */
export function applyDelta(base: ReadonlyMap<number, Uint8Array>, cp: Pick<Checkpoint, 'id' | 'groups' | 'patches'>): Map<number, Uint8Array> {
  return applyDeltas(base, [cp]);
}

/**
 * The groups of `base` with checkpoints' groups and key patches applied in
 * order: the same bytes as {@link applyDelta} once per checkpoint, but each
 * changed group is copied once, with every patch since its last whole state
 * applied in the one copy (a chain of deltas that patch the same groups
 * copied them once per delta).
 */
export function applyDeltas(base: ReadonlyMap<number, Uint8Array>, deltas: readonly Pick<Checkpoint, 'id' | 'groups' | 'patches'>[]): Map<number, Uint8Array> {
  const groups = new Map(base);
  // Per changed group: its latest whole state, then the patches after it, in order.
  const changed = new Map<number, { whole: Uint8Array | undefined; patches: KeyPatch[] }>();
  for (const cp of deltas) {
    for (const [g, bytes] of cp.groups) {
      const entry = changed.get(g);
      if (cp.patches?.has(g) !== true) changed.set(g, { whole: bytes, patches: [] });
      else if (entry === undefined) changed.set(g, { whole: base.get(g), patches: [{ bytes, id: cp.id }] });
      else entry.patches.push({ bytes, id: cp.id });
    }
  }
  for (const [g, { whole, patches }] of changed) groups.set(g, patches.length === 0 ? whole! : applyKeyPatches(whole, patches, g));
  return groups;
}

/** A key patch of a group, and the checkpoint it is from (for errors). */
interface KeyPatch {
  bytes: Uint8Array;
  id: number;
}

/** A group's keys, state size and each key's state (its bytes: raw, or a compact record), checked (KernelOperator.snapshotGroup's format). */
function readGroup(bytes: Uint8Array, what: string, fail: (why: string) => never): { keys: Uint32Array; size: number; records: boolean; states: Uint8Array[] } {
  if (bytes.length < 8) fail(`${what} of ${bytes.length} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  const field = view.getUint32(4, true);
  const records = (field & COMPACT_RECORDS) !== 0;
  const size = records ? field & ~COMPACT_RECORDS : field;
  if (!records && bytes.length !== 8 + n * (4 + size)) fail(`${what}: expected ${8 + n * (4 + size)} bytes for ${n} keys, got ${bytes.length}`);
  if (records && bytes.length < 8 + n * 8) fail(`${what}: expected at least ${8 + n * 8} bytes for ${n} keys, got ${bytes.length}`);
  const keys = new Uint32Array(n);
  for (let i = 0; i < n; i++) keys[i] = view.getUint32(8 + 4 * i, true);
  const states: Uint8Array[] = [];
  let at = 8 + 4 * n;
  for (let i = 0; i < n; i++) {
    if (!records) {
      states.push(bytes.subarray(at, at + size));
      at += size;
      continue;
    }
    const length = at + 4 <= bytes.length ? view.getUint32(at, true) : -1;
    if (length < 0 || at + 4 + length > bytes.length) fail(`${what}: key ${keys[i]}'s record is past the end (${bytes.length} bytes)`);
    states.push(bytes.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  if (at !== bytes.length) fail(`${what}: expected ${at} bytes for ${n} keys, got ${bytes.length}`);
  return { keys, size, records, states };
}

/**
 * A count-kernel group's state with key patches applied in order (see the
 * format): each key's state from the last patch that holds it, new keys
 * after the group's own in the order they first appear. One copy of the group.
 * With fixed-size states throughout, the group keeps that format; when any
 * part has variable-length key records, so does the result (a raw state
 * becomes a record of the state size).
 */
function applyKeyPatches(base: Uint8Array | undefined, patches: readonly KeyPatch[], group: number): Uint8Array {
  const failIn = (id: number) => (why: string): never => {
    throw new CheckpointError('BAD_STATE', `checkpoint ${id}: key patch of key group ${group} is invalid: ${why}`);
  };
  // A group new since the base: its first patch holds every key.
  const start = base ?? patches[0]!.bytes;
  const rest = base === undefined ? patches.slice(1) : patches;
  if (rest.length === 0) return start;
  const b = readGroup(start, 'the state it patches', failIn(rest[0]!.id));
  const size = b.size;
  let records = b.records;
  // Each key's latest state, in the group's order (new keys after, as they first appear).
  const latest = new Map<number, Uint8Array>();
  b.keys.forEach((k, i) => latest.set(k, b.states[i]!));
  for (const { bytes, id } of rest) {
    const fail = failIn(id);
    const p = readGroup(bytes, 'the patch', fail);
    if (p.size !== size) fail(`states of ${p.size} bytes, the group's of ${size}`);
    records ||= p.records;
    const seen = new Set<number>();
    p.keys.forEach((k, i) => {
      if (seen.has(k)) fail(`key ${k} appears twice`);
      seen.add(k);
      latest.set(k, p.states[i]!);
    });
  }
  const n = latest.size;
  let total = 8 + 4 * n;
  for (const state of latest.values()) total += (records ? 4 : 0) + state.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, n, true);
  view.setUint32(4, records ? (size | COMPACT_RECORDS) >>> 0 : size, true);
  let i = 0;
  let at = 8 + 4 * n;
  for (const [k, state] of latest) {
    view.setUint32(8 + 4 * i++, k, true);
    if (records) view.setUint32(at, state.length, true), (at += 4);
    out.set(state, at);
    at += state.length;
  }
  return out;
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
