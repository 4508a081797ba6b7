// What goes into Redis: rows in stream entries, and a partition's kernels in
// its checkpoint.
//
// Stream entries (input and output) hold a batch of rows as text, readable by
// any client in any language:
//   k  JSON array of the rows' keys (strings)
//   v  the rows' numbers joined by ',' (shortest round-trip decimal; NaN,
//      Infinity, -Infinity, -0 spelled so)
//   x  instead of v (job format 2): the numbers as little-endian IEEE-754
//      doubles, 8 bytes each, in row order (a binary column: no text to
//      format or parse)
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
 * Reads an input entry's fields. Never throws: a bad entry (or one with no
 * rows) gives `{ error }`.
 *
 * @example
 * ```ts
 * decodeRows({ k: '["a","b"]', v: '1.5,NaN' }); // { keys: ['a', 'b'], values: Float64Array [1.5, NaN] }
 * decodeRows({ k: '["a"]', v: '1,2' });         // { error: 'field k holds 1 keys but field v 2 values' }
 * ```
 */
export function decodeRows(fields: Record<string, unknown>): DecodedRows {
  const k = textOf(fields['k']);
  const v = textOf(fields['v']);
  const x = fields['x'];
  const binary = x instanceof Uint8Array;
  if (k === undefined || (v === undefined && !binary)) return { error: 'entry lacks the fields k and v (or x)' };
  let keys: unknown;
  try {
    keys = JSON.parse(k);
  } catch {
    return { error: 'field k is not JSON' };
  }
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'string')) return { error: 'field k is not a JSON array of strings' };
  const values = binary ? (x.length % 8 === 0 ? decodeColumn(x) : undefined) : parseValues(v!);
  if (values === undefined) return { error: `field x holds ${x instanceof Uint8Array ? x.length : 0} bytes, not a multiple of 8` };
  if (typeof values === 'string') return { error: values };
  if (values.length !== keys.length) return { error: `field k holds ${keys.length} keys but field ${binary ? 'x' : 'v'} ${values.length} values` };
  if (keys.length === 0) return { error: 'entry holds no rows' };
  return { keys: keys as string[], values };
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
