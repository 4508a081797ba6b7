// The file checkpoint store (streamkernel/scheduler/node, re-exported by
// node.ts): checkpoints as files in a directory, with the key-group states a
// checkpoint shares with an earlier one written once.
//
// A checkpoint's file holds either its bytes (the SKCP format of
// checkpoint.ts: every checkpoint that shares nothing, and every file a
// previous build wrote) or a *manifest* that assembles them, little-endian:
//
//   offset size
//      0    4  magic "SKCM"
//      4    2  manifest version (1)
//      6    2  0
//      8    8  length of the checkpoint it assembles (u64)
//     16    4  N: segments
//     20  24N  N × (u64 id of the checkpoint whose file holds the bytes, u64 offset in that file, u64 length)
//   20+24N  4  CRC-32 of every byte before it
//      …       the bytes of the segments this file holds itself (their id is this checkpoint's)
//
// The job hands a checkpoint over as parts (saveParts) and never changes a
// part afterwards, so a part this store has written (a key group's state of
// 8 KiB or more) is known by identity: when a later checkpoint hands the
// same part again (a composed full checkpoint's unchanged groups), its
// manifest names where the bytes already are instead of writing them again.
// The assembled bytes carry the checkpoint's own CRC-32, which
// decodeCheckpoint checks, so a corrupt shared file refuses every checkpoint
// that reads it; a missing one is refused by name (BROKEN_CHAIN). The bytes
// read() returns are known too, run by run: a job restored from them hands
// their unchanged key groups back as views of them, so the first full
// checkpoint after a restart shares them with the files they were read from.
//
// Writes are asynchronous (libuv's thread pool): the job's
// coordinator goes on dispatching rows and writing results while a
// checkpoint's bytes go to disk, and the save resolves only once the file
// (fdatasync) and its name (fsync of the directory) are durable. Saves run
// one after another.
//
// Garbage collection, after every save: the newest `keep` checkpoints are
// kept; an older one whose file a kept manifest still reads is renamed
// `shared-<id>.skcp` (no longer a checkpoint: list() leaves it out), every
// other file is deleted, shared ones included once no kept manifest reads
// them. Compaction: a checkpoint that would read less than half of an older
// file writes those parts again itself, so a file stays only while it is
// mostly alive.
import { closeSync, existsSync, fdatasync, fstatSync, fsync, mkdirSync, open, openSync, readdirSync, readSync, writev } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { crc32 } from '../crc32.js';
import { CheckpointError } from './errors.js';
import { checkKeep } from './stores.js';
import type { CheckpointStore } from './types.js';

const NAME = /^checkpoint-(\d{12})\.skcp$/;
const SHARED_NAME = /^shared-(\d{12})\.skcp$/;
const MANIFEST_MAGIC = [0x53, 0x4b, 0x43, 0x4d]; // "SKCM"
const MANIFEST_VERSION = 1;
const SEGMENT_BYTES = 24;
/**
 * Parts shared by reference from this size on: below it, a 24-byte segment and a read call cost more than writing the bytes again.
 * 8 KiB: a key group of one compact median key of window 1 000 (12 KB, state-codec.ts) is shared too.
 */
const SHARE_MIN_BYTES = 8 * 1024;

function fileName(id: number): string {
  return `checkpoint-${String(id).padStart(12, '0')}.skcp`;
}

function sharedName(id: number): string {
  return `shared-${String(id).padStart(12, '0')}.skcp`;
}

/**
 * Writes the parts one after another, a few hundred per system call (writev),
 * short writes continued. Asynchronous (libuv's thread pool): the job goes on
 * dispatching rows and writing results while the bytes go to disk.
 */
async function writeParts(fd: number, parts: readonly Uint8Array[]): Promise<void> {
  const BATCH = 512; // under every platform's IOV_MAX (1024 on Linux)
  for (let first = 0; first < parts.length; first += BATCH) {
    let batch = parts.slice(first, first + BATCH).filter((part) => part.length > 0);
    while (batch.length > 0) {
      let { bytesWritten: written } = await writevAsync(fd, batch);
      // A short write: drop the parts written, and the written start of the next one.
      let i = 0;
      while (i < batch.length && written >= batch[i]!.length) written -= batch[i++]!.length;
      batch = batch.slice(i);
      if (written > 0) batch[0] = batch[0]!.subarray(written);
    }
  }
}

// By file descriptor, without fs/promises' FileHandle: only the calls that wait on the disk go to the thread pool
// (opening and closing are not worth a round trip; each one costs CPU on a loaded machine).
const openAsync = promisify(open);
const writevAsync = promisify(writev);
const fdatasyncAsync = promisify(fdatasync);
const fsyncAsync = promisify(fsync);

/** Makes a rename or a new name in `dir` durable (fsync of the directory). */
async function syncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A file's bytes in a buffer of their own (readFileSync may hand out a view of a shared pool), not zero-filled first. */
function readWhole(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafeSlow(fstatSync(fd).size);
    const out = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    for (let at = 0; at < out.length; ) {
      const n = readSync(fd, out, at, out.length - at, at);
      if (n === 0) return out.subarray(0, at); // shrunk meanwhile: refused by its checks
      at += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Where a part's bytes are: in the file of checkpoint `id` (as written the `gen`-th time), from `offset`. */
interface Place {
  id: number;
  gen: number;
  offset: number;
}

/** One run of a checkpoint's bytes: `length` bytes at `offset` in the file of checkpoint `id`. */
interface Segment {
  id: number;
  offset: number;
  length: number;
}

/** Bytes `at`… (in its ArrayBuffer) of a buffer read() returned, as they are in a file: a Place of `length` bytes. */
interface Run extends Place {
  at: number;
  length: number;
}

function isManifest(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && MANIFEST_MAGIC.every((b, i) => bytes[i] === b);
}

/** The manifest's header and segment table, checksummed. */
function encodeManifest(total: number, segments: readonly Segment[]): Uint8Array {
  const end = 20 + SEGMENT_BYTES * segments.length;
  const out = new Uint8Array(end + 4);
  const view = new DataView(out.buffer);
  out.set(MANIFEST_MAGIC, 0);
  view.setUint16(4, MANIFEST_VERSION, true);
  view.setBigUint64(8, BigInt(total), true);
  view.setUint32(16, segments.length, true);
  segments.forEach((s, i) => {
    view.setBigUint64(20 + SEGMENT_BYTES * i, BigInt(s.id), true);
    view.setBigUint64(28 + SEGMENT_BYTES * i, BigInt(s.offset), true);
    view.setBigUint64(36 + SEGMENT_BYTES * i, BigInt(s.length), true);
  });
  view.setUint32(end, crc32(out, 0, end), true);
  return out;
}

/** A manifest's length and segments, checked; throws CheckpointError naming checkpoint `id`. */
function decodeManifest(id: number, bytes: Uint8Array): { total: number; segments: Segment[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) throw new CheckpointError('BAD_LENGTH', `checkpoint ${id}'s manifest truncated: expected at least 24 bytes, got ${bytes.length}`);
  const version = view.getUint16(4, true);
  if (version !== MANIFEST_VERSION) {
    throw new CheckpointError('UNSUPPORTED_VERSION', `checkpoint ${id}: unsupported checkpoint manifest version ${version}; this build reads version ${MANIFEST_VERSION}`);
  }
  const n = view.getUint32(16, true);
  const end = 20 + SEGMENT_BYTES * n;
  if (end + 4 > bytes.length) throw new CheckpointError('BAD_LENGTH', `checkpoint ${id}'s manifest truncated: expected at least ${end + 4} bytes, got ${bytes.length}`);
  const stored = view.getUint32(end, true);
  const actual = crc32(bytes, 0, end);
  if (stored !== actual) {
    throw new CheckpointError('CHECKSUM_MISMATCH', `checksum mismatch: checkpoint ${id}'s manifest is corrupt (stored CRC-32 ${stored.toString(16)}, computed ${actual.toString(16)})`);
  }
  const total = Number(view.getBigUint64(8, true));
  const segments: Segment[] = [];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const at = 20 + SEGMENT_BYTES * i;
    const segment = { id: Number(view.getBigUint64(at, true)), offset: Number(view.getBigUint64(at + 8, true)), length: Number(view.getBigUint64(at + 16, true)) };
    segments.push(segment);
    sum += segment.length;
  }
  if (sum !== total) throw new CheckpointError('BAD_FORMAT', `checkpoint is malformed: checkpoint ${id}'s manifest has segments of ${sum} bytes for a checkpoint of ${total}`);
  return { total, segments };
}

/**
 * Checkpoints as files in a directory. Each is written to a temporary file,
 * fdatasynced, renamed into place (atomic) and the directory fsynced; only
 * the newest `keep` are kept. The bytes carry a CRC-32, and the job falls back
 * to the previous checkpoint when the newest is refused. The writes are
 * asynchronous: a save resolves once the checkpoint is durable, and the
 * job's rows go on meanwhile.
 *
 * A checkpoint handed over as parts (`saveParts`, as the job does) writes
 * only the key-group states this store has not written yet; for the others
 * its file is a manifest naming where they already are (a composed full
 * checkpoint then writes only the groups changed since the previous one); so
 * are the key groups of a checkpoint this store read (the first full
 * checkpoint a job takes after a restart). A file that a kept checkpoint still reads outlives its own checkpoint as
 * `shared-<id>.skcp`, and is deleted once none does. A manifest whose shared
 * file is missing is refused (`BROKEN_CHAIN`), one whose shared bytes are
 * corrupt fails the checkpoint's checksum (`CHECKSUM_MISMATCH`).
 *
 * @param dir - the directory (created if missing).
 * @param options.keep - checkpoints kept. @default 3
 * @example
 * ```ts
 * const store = fileCheckpointStore('./checkpoints', { keep: 5 });
 * ```
 */
export function fileCheckpointStore(
  dir: string,
  options: { keep?: number } = {},
): CheckpointStore & {
  /** The file that holds (or would hold) checkpoint `id`: `<dir>/checkpoint-<id, 12 digits>.skcp`. */
  path(id: number): string;
} {
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`dir must be a non-empty string, got ${typeof dir === 'string' ? "''" : typeof dir}`);
  const keep = checkKeep(options.keep ?? 3);
  let counter = 0;
  /** Where this store wrote each part it may share (by identity: the job never changes a part). */
  const places = new WeakMap<Uint8Array, Place>();
  /**
   * Where the bytes of each buffer read() returned are on disk, run by run: a
   * job restored from them hands their key groups back as views of that
   * buffer, so the first full checkpoint after a restart shares them too.
   */
  const readRuns = new WeakMap<ArrayBufferLike, Run[]>();
  /** Files this store wrote or read and that still exist: their write count (a Place of another is stale) and size. */
  const files = new Map<number, { gen: number; size: number }>();
  let gens = 0;
  /** Saves one after another: each plans from the files the previous one left. */
  let saving: Promise<void> = Promise.resolve();
  /** The checkpoints each manifest written or read by this store reads from (its own id left out). */
  const reads = new Map<number, Set<number>>();

  const ids = (pattern: RegExp): number[] => {
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .map((name) => pattern.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => b - a);
  };
  const list = (): number[] => ids(NAME);

  /** The file of checkpoint `id`'s bytes: its own, or the shared one it became; undefined when neither exists. */
  const fileOf = (id: number): string | undefined => [join(dir, fileName(id)), join(dir, sharedName(id))].find((path) => existsSync(path));

  /** A file read now, known from here on (its write count, or a new one if this store did not write it). */
  const known = (id: number, size: number): number => {
    const file = files.get(id);
    if (file !== undefined && file.size === size) return file.gen;
    const gen = ++gens;
    files.set(id, { gen, size });
    return gen;
  };

  /** Where a part is on disk: written by this store, or a view of bytes it read (whole within one run). */
  const placeOf = (part: Uint8Array): Place | undefined => {
    const place = places.get(part);
    if (place !== undefined) return place;
    const at = part.byteOffset;
    const run = readRuns.get(part.buffer)?.find((r) => r.at <= at && at + part.length <= r.at + r.length);
    return run === undefined ? undefined : { id: run.id, gen: run.gen, offset: run.offset + (at - run.at) };
  };

  /** Where each part goes: a segment of an earlier file (shared), or of this one (written now). */
  const plan = (id: number, parts: readonly Uint8Array[]): { segments: Segment[]; own: Uint8Array[] } => {
    const found = parts.map((part) => {
      const place = part.length >= SHARE_MIN_BYTES ? placeOf(part) : undefined;
      return place !== undefined && place.id !== id && files.get(place.id)?.gen === place.gen ? place : undefined;
    });
    // Compaction: a file this checkpoint would read less than half of is not read; its parts are written again.
    const used = new Map<number, number>();
    found.forEach((place, i) => place !== undefined && used.set(place.id, (used.get(place.id) ?? 0) + parts[i]!.length));
    const sparse = new Set([...used].filter(([file, bytes]) => 2 * bytes < files.get(file)!.size).map(([file]) => file));
    const segments: Segment[] = [];
    const own: Uint8Array[] = [];
    parts.forEach((part, i) => {
      if (part.length === 0) return;
      const place = found[i];
      const last = segments[segments.length - 1];
      if (place !== undefined && !sparse.has(place.id)) {
        segments.push({ id: place.id, offset: place.offset, length: part.length });
      } else if (last !== undefined && last.id === id) {
        last.length += part.length;
        own.push(part);
      } else {
        segments.push({ id, offset: 0, length: part.length }); // offset set when the header's size is known
        own.push(part);
      }
    });
    return { segments, own };
  };

  /**
   * Writes checkpoint `id`'s file: its bytes, or a manifest and the bytes it
   * holds itself, to a temporary file, fdatasync, renamed into place; the
   * directory is fsynced once the new name is there. Returns the file's size.
   */
  const write = async (id: number, parts: readonly Uint8Array[]): Promise<number> => {
    const { segments, own } = plan(id, parts);
    const shares = segments.some((s) => s.id !== id);
    let head: Uint8Array | undefined;
    if (shares) {
      const total = parts.reduce((n, part) => n + part.length, 0);
      let at = 20 + SEGMENT_BYTES * segments.length + 4;
      for (const s of segments) if (s.id === id) (s.offset = at), (at += s.length);
      head = encodeManifest(total, segments);
      reads.set(id, new Set(segments.filter((s) => s.id !== id).map((s) => s.id)));
    } else {
      reads.set(id, new Set());
    }
    const body = shares ? own : parts;
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `.${fileName(id)}.${process.pid}.${counter++}.tmp`);
    const fd = await openAsync(tmp, 'w');
    try {
      try {
        await writeParts(fd, head === undefined ? body : [head, ...body]);
        // The data and the size it needs to be read back; the name is made durable by syncDir.
        await fdatasyncAsync(fd);
      } finally {
        closeSync(fd);
      }
      await rename(tmp, join(dir, fileName(id)));
    } catch (error) {
      await unlink(tmp).catch(() => undefined); // the previous checkpoints stay as they were
      throw error;
    }
    await syncDir(dir);
    const gen = ++gens;
    let at = head?.length ?? 0;
    for (const part of body) {
      if (part.length >= SHARE_MIN_BYTES) places.set(part, { id, gen, offset: at });
      at += part.length;
    }
    files.set(id, { gen, size: at });
    return at;
  };

  /** The checkpoints whose files checkpoint `id`'s manifest reads (none for a whole checkpoint, or an unreadable one: it is refused anyway). */
  const readsOf = (id: number): Set<number> => {
    let found = reads.get(id);
    if (found !== undefined) return found;
    found = new Set();
    try {
      const fd = openSync(join(dir, fileName(id)), 'r');
      try {
        const head = new Uint8Array(20);
        if (readSync(fd, head, 0, 20, 0) === 20 && isManifest(head)) {
          const n = new DataView(head.buffer).getUint32(16, true);
          const table = new Uint8Array(20 + SEGMENT_BYTES * n + 4);
          readSync(fd, table, 0, table.length, 0);
          for (const s of decodeManifest(id, table).segments) if (s.id !== id) found.add(s.id);
        }
      } finally {
        closeSync(fd);
      }
    } catch {
      // unreadable or corrupt: refused when read, so it keeps nothing alive
    }
    reads.set(id, found);
    return found;
  };

  const remove = async (id: number, name: string): Promise<void> => {
    files.delete(id);
    reads.delete(id);
    await unlink(join(dir, name)).catch(() => undefined); // removed meanwhile
  };

  /** Checkpoint `id`'s file, past `keep` but read by a kept manifest: no longer a checkpoint, kept for its bytes. */
  const keepShared = async (id: number): Promise<void> => {
    // Removed meanwhile: the manifests that read it are refused by name (BROKEN_CHAIN).
    await rename(join(dir, fileName(id)), join(dir, sharedName(id))).catch(() => undefined);
  };

  /** Drops checkpoints past `keep`: a file a kept manifest reads becomes shared, every other file goes. */
  const collect = async (): Promise<void> => {
    const all = list();
    const needed = new Set<number>();
    for (const id of all.slice(0, keep)) for (const file of readsOf(id)) needed.add(file);
    // Off the event loop too: unlinking a file of megabytes takes the file system's time.
    for (const old of all.slice(keep)) await (needed.has(old) ? keepShared(old) : remove(old, fileName(old)));
    for (const old of ids(SHARED_NAME)) if (!needed.has(old)) await remove(old, sharedName(old));
  };

  /** Resolves once checkpoint `id` is durable (file and name fsynced); older files are collected after. */
  const saveParts = (id: number, parts: readonly Uint8Array[]): Promise<void> => {
    const saved = saving.then(async () => {
      await write(id, parts);
      await collect();
    });
    saving = saved.catch(() => undefined); // a failed save leaves the previous checkpoints as they were
    return saved;
  };

  /** Checkpoint `id`'s bytes from its manifest: its own segments and those of the files it shares; `runs` gets where each came from. */
  const assemble = (id: number, own: Uint8Array, runs: Run[]): Uint8Array => {
    const { total, segments } = decodeManifest(id, own);
    reads.set(id, new Set(segments.filter((s) => s.id !== id).map((s) => s.id)));
    const out = new Uint8Array(total);
    const fds = new Map<number, number>();
    try {
      let at = 0;
      for (const s of segments) {
        if (s.id === id) {
          if (s.offset + s.length > own.length) throw new CheckpointError('BAD_LENGTH', `checkpoint ${id}'s file truncated: expected at least ${s.offset + s.length} bytes, got ${own.length}`);
          out.set(own.subarray(s.offset, s.offset + s.length), at);
          runs.push({ at, id, gen: known(id, own.length), offset: s.offset, length: s.length });
        } else {
          const size = readShared(id, s, out, at, fds);
          runs.push({ at, id: s.id, gen: known(s.id, size), offset: s.offset, length: s.length });
        }
        at += s.length;
      }
    } finally {
      for (const fd of fds.values()) closeSync(fd);
    }
    return out;
  };

  /** Reads a shared segment of checkpoint `id` into `out` at `at`; refuses a missing or short file by name. Returns the file's size. */
  const readShared = (id: number, s: Segment, out: Uint8Array, at: number, fds: Map<number, number>): number => {
    let fd = fds.get(s.id);
    if (fd === undefined) {
      const path = fileOf(s.id);
      if (path === undefined) throw new CheckpointError('BROKEN_CHAIN', `checkpoint ${id} shares ${s.length} bytes of checkpoint ${s.id}'s file, which is missing`);
      fd = openSync(path, 'r');
      fds.set(s.id, fd);
    }
    const size = fstatSync(fd).size;
    if (s.offset + s.length > size) {
      throw new CheckpointError('BROKEN_CHAIN', `checkpoint ${id} shares bytes ${s.offset}…${s.offset + s.length} of checkpoint ${s.id}'s file, which holds ${size} bytes`);
    }
    for (let done = 0; done < s.length; ) {
      const n = readSync(fd, out, at + done, s.length - done, s.offset + done);
      if (n === 0) throw new CheckpointError('BROKEN_CHAIN', `checkpoint ${id} shares bytes ${s.offset}…${s.offset + s.length} of checkpoint ${s.id}'s file, which ends at ${s.offset + done}`);
      done += n;
    }
    return size;
  };

  return {
    path: (id) => join(dir, fileName(id)),
    save: (id, bytes) => saveParts(id, [bytes]),
    saveParts,
    async list() {
      return list();
    },
    async read(id) {
      await saving; // a save in flight may be renaming the file read, or collecting it
      const bytes = readWhole(join(dir, fileName(id)));
      const runs: Run[] = [];
      const out = isManifest(bytes) ? assemble(id, bytes, runs) : bytes;
      if (out === bytes) runs.push({ at: bytes.byteOffset, id, gen: known(id, bytes.length), offset: 0, length: bytes.length });
      readRuns.set(out.buffer, runs);
      return out;
    },
  };
}

