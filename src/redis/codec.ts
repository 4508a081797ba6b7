// What goes into Redis: rows in stream entries, and a partition's kernels in
// its checkpoint.
//
// Stream entries (input and output) hold a batch of rows as text, readable by
// any client in any language:
//   k  JSON array of the rows' keys (strings)
//   v  the rows' numbers joined by ',' (shortest round-trip decimal; NaN,
//      Infinity, -Infinity, -0 spelled so)
//   x  instead of v (job formats 2 and 3): the numbers as little-endian
//      IEEE-754 doubles, 8 bytes each, in row order (a binary column: no
//      text to format or parse)
//   kc instead of k (job format 3): the keys as a binary key column, no JSON
//      to parse per row (see encodeKeyColumn; little-endian):
//        offset size
//           0    1  version (1)
//           1    1  id width W: 1, 2 or 4 bytes
//           2    4  dictionary size D
//           6       D times: u32 byte length L, L bytes of UTF-8 key
//         then      one id per row, W bytes each: the row's key is dictionary[id]
// An output entry has the id of the input entry it answers, the same k, and
// the results in v (job format 1) or x (job format 2); an input entry that
// cannot be read gives an output entry with a field e (the reason) instead,
// so nothing is skipped silently. Workers read input in either form.
//
// Partition state (the `state` field of ckpt:{J:p}), little-endian:
//   offset size
//      0    4  magic "SKRP"
//      4    2  format version (1)
//      6    2  reserved (0)
//      8    4  number of keys K
//     12       K times: u32 key length L, L bytes of UTF-8 key,
//                       u32 snapshot length S, S bytes of kernel snapshot (see src/snapshot.ts)
//    end-4  4  CRC-32 of every byte before it
import { crc32 } from '../crc32.js';
import { SnapshotError } from '../errors.js';
import { restoreKernel } from '../kernel.js';
import type { Kernel, KernelSpec } from '../types.js';

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * One number as text: exact round trip, -0 kept.
 *
 * @example
 * ```ts
 * formatNumber(0.1); // '0.1'
 * formatNumber(-0);  // '-0'
 * ```
 */
export function formatNumber(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

/**
 * Parses one number written by {@link formatNumber} (or any decimal, and
 * `NaN`, `Infinity`, `+Infinity`, `-Infinity`); undefined if it is not one.
 *
 * @example
 * ```ts
 * parseNumber('-1.5e3'); // -1500
 * parseNumber('1,5');    // undefined
 * ```
 */
export function parseNumber(s: string): number | undefined {
  if (s === 'NaN') return NaN;
  if (s === 'Infinity' || s === '+Infinity') return Infinity;
  if (s === '-Infinity') return -Infinity;
  return NUMBER.test(s) ? Number(s) : undefined;
}

export function formatValues(values: ArrayLike<number>): string {
  let out = '';
  for (let i = 0; i < values.length; i++) out += (i === 0 ? '' : ',') + formatNumber(values[i]!);
  return out;
}

/**
 * The fields of an input entry for a batch of rows. Throws `RangeError` when
 * `keys` and `values` differ in length.
 *
 * @example
 * ```ts
 * encodeRows(['a', 'b'], [1.5, NaN]); // { k: '["a","b"]', v: '1.5,NaN' }
 * ```
 */
export function encodeRows(
  keys: readonly string[],
  values: ArrayLike<number>,
): {
  /** The rows' keys as a JSON array of strings. */
  k: string;
  /** The rows' values, each written by {@link formatNumber}, joined by `,`. */
  v: string;
} {
  if (keys.length !== values.length) throw new RangeError(`keys and values differ in length (${keys.length} and ${values.length})`);
  return { k: JSON.stringify(keys), v: formatValues(values) };
}

/**
 * A column of numbers as a binary field value (`x`): little-endian doubles,
 * 8 bytes each. The bytes are a copy on big-endian hosts only.
 *
 * @example
 * ```ts
 * encodeColumn(new Float64Array([1.5, NaN])).length; // 16
 * ```
 */
export function encodeColumn(values: Float64Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const out = Buffer.alloc(values.length * 8);
  for (let i = 0; i < values.length; i++) out.writeDoubleLE(values[i]!, i * 8);
  return out;
}

/**
 * Reads a binary column (`x` of an entry): little-endian doubles. Throws
 * `RangeError` when its length is not a multiple of 8.
 *
 * @example
 * ```ts
 * decodeColumn(encodeColumn(new Float64Array([1.5, -0]))); // Float64Array [1.5, -0]
 * ```
 */
export function decodeColumn(bytes: Uint8Array): Float64Array {
  if (bytes.length % 8 !== 0) throw new RangeError(`a column of doubles needs a multiple of 8 bytes, got ${bytes.length}`);
  const values = new Float64Array(bytes.length / 8);
  if (LITTLE_ENDIAN) new Uint8Array(values.buffer).set(bytes);
  else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat64(i * 8, true);
  }
  return values;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Version of the binary key column (`kc`) this build writes and reads. */
export const KEY_COLUMN_VERSION = 1;
const KEY_COLUMN_HEADER = 6;

/**
 * The rows' keys as a binary key column (`kc` of a format-3 entry): each
 * distinct key once, in order of first appearance, then one small id per
 * row. Throws `TypeError` for a key that is not a string.
 *
 * @example
 * ```ts
 * decodeKeyColumn(encodeKeyColumn(['a', 'b', 'a'])); // { dictionary: ['a', 'b'], ids: Uint32Array [0, 1, 0] }
 * ```
 */
export function encodeKeyColumn(keys: readonly string[]): Buffer {
  // The keys' UTF-8 goes straight into the column (no Buffer per distinct key: with a producer's small entries, nearly one per row).
  const index = new Map<string, number>();
  const dictionary: string[] = [];
  const lengths: number[] = [];
  const ids = new Uint32Array(keys.length);
  let size = KEY_COLUMN_HEADER;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    let id = index.get(key);
    if (id === undefined) {
      if (typeof key !== 'string') throw new TypeError(`key ${i} must be a string, got ${typeof key}`);
      index.set(key, (id = dictionary.length));
      const length = Buffer.byteLength(key, 'utf8');
      dictionary.push(key);
      lengths.push(length);
      size += 4 + length;
    }
    ids[i] = id;
  }
  const width = dictionary.length <= 0x100 ? 1 : dictionary.length <= 0x10000 ? 2 : 4;
  const out = Buffer.allocUnsafe(size + width * keys.length);
  out[0] = KEY_COLUMN_VERSION;
  out[1] = width;
  out.writeUInt32LE(dictionary.length, 2);
  let at = KEY_COLUMN_HEADER;
  for (let k = 0; k < dictionary.length; k++) {
    const length = lengths[k]!;
    out.writeUInt32LE(length, at);
    out.write(dictionary[k]!, at + 4, length, 'utf8');
    at += 4 + length;
  }
  if (width === 1) for (let i = 0; i < ids.length; i++) out[at + i] = ids[i]!;
  else if (width === 2) for (let i = 0; i < ids.length; i++) out.writeUInt16LE(ids[i]!, at + 2 * i);
  else for (let i = 0; i < ids.length; i++) out.writeUInt32LE(ids[i]!, at + 4 * i);
  return out;
}

/** A key column read: the distinct keys, and per row the index of its key among them. */
export interface KeyColumn {
  /** Each distinct key (a dictionary may repeat a key: harmless). */
  dictionary: string[];
  /** Per row: its key is `dictionary[ids[i]]`. */
  ids: Uint32Array;
}

/**
 * Reads a binary key column (`kc` of an entry). Throws `RangeError` saying
 * what is wrong: another version, truncated, bad UTF-8, an id outside the
 * dictionary.
 *
 * @example
 * ```ts
 * const { dictionary, ids } = decodeKeyColumn(fields.kc);
 * const keyOfRow = (i: number) => dictionary[ids[i]];
 * ```
 */
export function decodeKeyColumn(bytes: Uint8Array): KeyColumn {
  const column = readKeyColumn(bytes);
  if (typeof column === 'string') throw new RangeError(column);
  return column;
}

/**
 * Keys the caller already holds, found from their UTF-8: `knownKey` gives the
 * key whose UTF-8 is `bytes[start, end)` (exactly what decoding those bytes
 * gives), else undefined; lets a reader skip decoding the keys it has seen
 * (a worker's partition, whose entries repeat the same few keys). An object
 * with a method, not a function: every partition's is one class's method, so
 * the call site in readKeyColumn keeps one target (a closure per partition
 * deoptimized it, "wrong call target", at the second partition's entry).
 */
export interface KnownKey {
  knownKey(bytes: Uint8Array, start: number, end: number): string | undefined;
}

/** A key column, or why it cannot be read; `known` keys are taken as they are, the others decoded (and checked as UTF-8). */
function readKeyColumn(bytes: Uint8Array, known?: KnownKey): KeyColumn | string {
  if (bytes.length < KEY_COLUMN_HEADER) return `field kc holds ${bytes.length} bytes, less than its ${KEY_COLUMN_HEADER}-byte header`;
  if (bytes[0] !== KEY_COLUMN_VERSION) return `field kc is of version ${bytes[0]!}; this build reads version ${KEY_COLUMN_VERSION}`;
  const width = bytes[1]!;
  if (width !== 1 && width !== 2 && width !== 4) return `field kc has an id width of ${width} bytes; it must be 1, 2 or 4`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = view.getUint32(2, true);
  // Each key takes at least 4 bytes: a larger count is a lie, refused before allocating for it.
  if (size > (bytes.length - KEY_COLUMN_HEADER) / 4) return `field kc declares ${size} keys in ${bytes.length} bytes`;
  const dictionary = new Array<string>(size);
  let at = KEY_COLUMN_HEADER;
  for (let d = 0; d < size; d++) {
    const length = at + 4 <= bytes.length ? view.getUint32(at, true) : -1;
    if (length < 0 || at + 4 + length > bytes.length) return `field kc is truncated in key ${d} of its dictionary`;
    // A known key's bytes are its UTF-8: no decode (one per distinct key per entry was most of a worker's decoding, issue 14).
    const key = known?.knownKey(bytes, at + 4, at + 4 + length);
    if (key !== undefined) dictionary[d] = key;
    else {
      try {
        dictionary[d] = decoder.decode(bytes.subarray(at + 4, at + 4 + length));
      } catch {
        return `field kc: key ${d} of its dictionary is not UTF-8`;
      }
    }
    at += 4 + length;
  }
  if ((bytes.length - at) % width !== 0) return `field kc: ${bytes.length - at} bytes of ids is not a multiple of the id width ${width}`;
  const ids = new Uint32Array((bytes.length - at) / width);
  // One-byte ids (up to 256 keys, the common case) widen in one native copy; the per-row branch on the width cost a worker 4.7 % of its time.
  if (width === 1) ids.set(bytes.subarray(at));
  else if (width === 2) for (let i = 0; i < ids.length; i++, at += 2) ids[i] = bytes[at]! | (bytes[at + 1]! << 8);
  else for (let i = 0; i < ids.length; i++, at += 4) ids[i] = view.getUint32(at, true);
  for (let i = 0; i < ids.length; i++) if (ids[i]! >= size) return `field kc: row ${i} has key id ${ids[i]!}, outside its dictionary of ${size} keys`;
  return { dictionary, ids };
}

/** A batch read from an entry, or why it cannot be read. */
export type DecodedRows =
  | {
      /** The rows' keys, one per row. */
      keys: string[];
      /** The rows' values, `values[i]` for `keys[i]`. */
      values: Float64Array;
    }
  | {
      /** Why the entry cannot be read. */
      error: string;
    };

/**
 * Reads an input entry's fields (keys as `k` JSON or `kc` key column,
 * values as `v` text or `x` doubles). Never throws: a bad entry (or one with
 * no rows) gives `{ error }`.
 *
 * @example
 * ```ts
 * decodeRows({ k: '["a","b"]', v: '1.5,NaN' }); // { keys: ['a', 'b'], values: Float64Array [1.5, NaN] }
 * decodeRows({ k: '["a"]', v: '1,2' });         // { error: 'field k holds 1 keys but field v 2 values' }
 * ```
 */
export function decodeRows(fields: Record<string, unknown>): DecodedRows {
  const batch = decodeEntry(fields);
  if ('error' in batch) return batch;
  const { dictionary, ids } = batch.keys;
  return { keys: ids === undefined ? dictionary : Array.from(ids, (id) => dictionary[id]!), values: batch.values };
}

/** An entry's rows as read: the keys as a dictionary and ids (no ids: one dictionary entry per row). */
export type EntryRows = { keys: { dictionary: string[]; ids: Uint32Array | undefined }; values: Float64Array } | { error: string };

/** Reads an entry's fields without expanding a key column into one string per row (the worker's path; `known`: see KnownKey). */
export function decodeEntry(fields: Record<string, unknown>, known?: KnownKey): EntryRows {
  const v = textOf(fields['v']);
  const x = fields['x'];
  const binary = x instanceof Uint8Array;
  const kc = fields['kc'];
  if ((fields['k'] === undefined && kc === undefined) || (v === undefined && !binary)) return { error: 'entry lacks the fields k (or kc) and v (or x)' };
  if (fields['k'] !== undefined && kc !== undefined) return { error: 'entry has both k and kc' };
  const keys = kc !== undefined ? (kc instanceof Uint8Array ? readKeyColumn(kc, known) : 'field kc is not binary') : jsonKeys(textOf(fields['k']));
  if (typeof keys === 'string') return { error: keys };
  const values = binary ? (x.length % 8 === 0 ? decodeColumn(x) : undefined) : parseValues(v!);
  if (values === undefined) return { error: `field x holds ${x instanceof Uint8Array ? x.length : 0} bytes, not a multiple of 8` };
  if (typeof values === 'string') return { error: values };
  const rows = keys.ids?.length ?? keys.dictionary.length;
  if (values.length !== rows) return { error: `field ${kc !== undefined ? 'kc' : 'k'} holds ${rows} keys but field ${binary ? 'x' : 'v'} ${values.length} values` };
  if (rows === 0) return { error: 'entry holds no rows' };
  return { keys, values };
}

/** The keys of a JSON `k` field (one per row), or why they cannot be read. */
function jsonKeys(k: string | undefined): { dictionary: string[]; ids: undefined } | string {
  let keys: unknown;
  try {
    keys = JSON.parse(k ?? '');
  } catch {
    return 'field k is not JSON';
  }
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'string')) return 'field k is not a JSON array of strings';
  return { dictionary: keys as string[], ids: undefined };
}

/** A field read as text (entries read as Buffers give Buffers). */
function textOf(field: unknown): string | undefined {
  if (typeof field === 'string') return field;
  return field instanceof Uint8Array ? Buffer.from(field.buffer, field.byteOffset, field.byteLength).toString('utf8') : undefined;
}

/** The numbers of a `v` field, or why it cannot be read. */
function parseValues(v: string): Float64Array | string {
  const parts = v.length === 0 ? [] : v.split(',');
  const values = new Float64Array(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const x = parseNumber(parts[i]!);
    if (x === undefined) return `value ${i} of field v is not a number: ${JSON.stringify(parts[i]!.slice(0, 40))}`;
    values[i] = x;
  }
  return values;
}

/**
 * Reads an output entry's results (`v`), for consumers. Throws `RangeError`
 * for a value that is not a number.
 *
 * @example
 * ```ts
 * decodeValues('NaN,1.5,-0'); // Float64Array [NaN, 1.5, -0]
 * ```
 */
export function decodeValues(v: string): Float64Array {
  const values = parseValues(v);
  if (typeof values === 'string') throw new RangeError(values);
  return values;
}

const MAGIC = [0x53, 0x4b, 0x52, 0x50]; // "SKRP"
export const PARTITION_STATE_VERSION = 1;
const HEADER = 12;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Serializes a partition's key → kernel snapshot map (the `state` field of
 * its checkpoint), with a CRC-32.
 *
 * @example
 * ```ts
 * const state = encodePartitionState(new Map([['AAPL', kernel.snapshot()]]));
 * ```
 */
export function encodePartitionState(snapshots: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const keyBytes: Uint8Array[] = [];
  let size = HEADER + 4;
  for (const [key, snap] of snapshots) {
    const kb = encoder.encode(key);
    keyBytes.push(kb);
    size += 8 + kb.length + snap.length;
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint16(4, PARTITION_STATE_VERSION, true);
  view.setUint32(8, snapshots.size, true);
  let at = HEADER;
  let i = 0;
  for (const snap of snapshots.values()) {
    const kb = keyBytes[i++]!;
    view.setUint32(at, kb.length, true);
    bytes.set(kb, at + 4);
    at += 4 + kb.length;
    view.setUint32(at, snap.length, true);
    bytes.set(snap, at + 4);
    at += 4 + snap.length;
  }
  view.setUint32(at, crc32(bytes, 0, at), true);
  return bytes;
}

/**
 * Checks a partition state's framing and returns its key → snapshot map
 * (views into `bytes`). Throws {@link index.SnapshotError | SnapshotError}.
 *
 * @example
 * ```ts
 * const snapshots = decodePartitionState(state); // Map { 'AAPL' => Uint8Array [...] }
 * ```
 */
export function decodePartitionState(bytes: Uint8Array): Map<string, Uint8Array> {
  if (bytes.length < HEADER + 4) throw new SnapshotError('BAD_LENGTH', `partition state truncated: expected at least ${HEADER + 4} bytes, got ${bytes.length}`);
  if (MAGIC.some((b, i) => bytes[i] !== b)) throw new SnapshotError('BAD_MAGIC', 'not a streamkernel partition state: bad magic number');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version !== PARTITION_STATE_VERSION) {
    throw new SnapshotError('UNSUPPORTED_VERSION', `unsupported partition state version ${version}; this build reads version ${PARTITION_STATE_VERSION}`);
  }
  const end = bytes.length - 4;
  const stored = view.getUint32(end, true);
  const actual = crc32(bytes, 0, end);
  if (stored !== actual) {
    throw new SnapshotError('CHECKSUM_MISMATCH', `checksum mismatch: partition state is corrupt (stored CRC-32 ${stored.toString(16)}, computed ${actual.toString(16)})`);
  }
  const count = view.getUint32(8, true);
  const map = new Map<string, Uint8Array>();
  let at = HEADER;
  const take = (what: string): Uint8Array => {
    if (at + 4 > end) throw new SnapshotError('BAD_LENGTH', `partition state truncated in ${what}`);
    const n = view.getUint32(at, true);
    if (at + 4 + n > end) throw new SnapshotError('BAD_LENGTH', `partition state truncated in ${what}: ${n} bytes declared, ${end - at - 4} left`);
    const out = bytes.subarray(at + 4, at + 4 + n);
    at += 4 + n;
    return out;
  };
  for (let i = 0; i < count; i++) {
    let key: string;
    try {
      key = decoder.decode(take(`key ${i}`));
    } catch (err) {
      if (err instanceof SnapshotError) throw err;
      throw new SnapshotError('BAD_STATE', `partition state key ${i} is not UTF-8`);
    }
    if (map.has(key)) throw new SnapshotError('BAD_STATE', `partition state holds key ${JSON.stringify(key)} twice`);
    map.set(key, take(`the snapshot of key ${JSON.stringify(key)}`));
  }
  if (at !== end) throw new SnapshotError('BAD_LENGTH', `partition state has ${end - at} trailing bytes`);
  return map;
}

/**
 * Restores every kernel of a partition state, each checked against `spec`.
 * Throws {@link index.SnapshotError | SnapshotError} naming the key; nothing is kept then.
 *
 * @example
 * ```ts
 * const kernels = await restorePartition(state, { op: 'mean', window: 20 });
 * kernels.get('AAPL')?.push(new Float64Array([190.2]));
 * ```
 */
export async function restorePartition(bytes: Uint8Array, spec: KernelSpec): Promise<Map<string, Kernel>> {
  const snapshots = decodePartitionState(bytes);
  const kernels = new Map<string, Kernel>();
  try {
    for (const [key, snap] of snapshots) {
      try {
        kernels.set(key, await restoreKernel(snap, spec));
      } catch (err) {
        if (err instanceof SnapshotError) throw new SnapshotError(err.code, `key ${JSON.stringify(key.slice(0, 80))}: ${err.message}`);
        throw err;
      }
    }
  } catch (err) {
    for (const k of kernels.values()) k.dispose();
    throw err;
  }
  return kernels;
}
