// Snapshot framing of the time-window operators, with the kernel core's
// conventions (src/snapshot.ts): magic, format version, module id, build
// hash, parameters, state, CRC-32 of everything before it; every check is
// made before anything is restored, and refusals are SnapshotErrors.
//
//   offset size
//      0    4  magic "SKSN"
//      4    2  format version (1)
//      6    1  module id: 6 (the time-window layer, registered in src/snapshot.ts)
//      7    1  operator kind: 1 duration rolling, 2 event-time windows, 3 count windows
//      8    8  build hash: of the logical state's layout (TIME_STATE_BUILD below)
//     16    4  parameter length P
//     20    P  the normalized spec as JSON (non-finite numbers as strings)
//   20+P    4  state length N
//   24+P    N  state (little-endian, operator-specific, see each operator)
//   24+P+N  4  CRC-32 of bytes [0, 24+P+N)
import { crc32 } from '../crc32.js';
import { bytesToHex, hexToBytes } from '../hex.js';
import { SnapshotError } from '../errors.js';

const MAGIC = [0x53, 0x4b, 0x53, 0x4e];
export const TIME_SNAPSHOT_VERSION = 1;
export const TIME_MODULE_ID = 6;
export const KIND_ROLLING = 1;
export const KIND_WINDOWS = 2;
export const KIND_COUNT = 3;
const KIND_NAMES: Record<number, string> = { 1: 'duration rolling', 2: 'event-time windows', 3: 'count windows' };

/**
 * The build field of the time layer's snapshots. Their state is logical
 * (rows, counters, boundaries; the kernel rebuilds its derived aggregates
 * from them bit for bit), so the field names that logical layout and the
 * arithmetic over it, not the bytes of timeroll.wasm: it is the hash of the
 * build that defined them, kept while a change of the kernel's memory layout
 * leaves them as they are (the fixtures in test/ fail when they are not).
 * Change it when the state or the results of restored state change.
 */
const TIME_STATE_BUILD = 'fbd31507e215ac82';

/** See TIME_STATE_BUILD; checkpoints of time kinds carry it too. */
export function timeBuildHash(): string {
  return TIME_STATE_BUILD;
}

/** Growable little-endian byte writer. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(x: number): void {
    this.room(1);
    this.view.setUint8(this.length, x);
    this.length += 1;
  }
  u32(x: number): void {
    this.room(4);
    this.view.setUint32(this.length, x, true);
    this.length += 4;
  }
  f64(x: number): void {
    this.room(8);
    this.view.setFloat64(this.length, x, true);
    this.length += 8;
  }
  f64s(xs: Float64Array): void {
    this.room(xs.length * 8);
    for (let i = 0; i < xs.length; i++) this.view.setFloat64(this.length + 8 * i, xs[i]!, true);
    this.length += xs.length * 8;
  }
  str(s: string): void {
    const bytes = new TextEncoder().encode(s);
    this.u32(bytes.length);
    this.room(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Bounds-checked reader: any read past the end, or a failed check, is a BAD_STATE SnapshotError. */
export class ByteReader {
  private readonly view: DataView;
  private pos = 0;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(n: number): void {
    if (this.pos + n > this.bytes.length) throw new SnapshotError('BAD_STATE', `snapshot state ends early at byte ${this.pos} (needed ${n} more)`);
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }
  u32(): number {
    this.need(4);
    const x = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return x;
  }
  f64(): number {
    this.need(8);
    const x = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return x;
  }
  /** A count of items of `itemBytes` bytes each that must still fit in the state. */
  count(itemBytes: number, what: string): number {
    const n = this.u32();
    if (n * itemBytes > this.bytes.length - this.pos) throw new SnapshotError('BAD_STATE', `snapshot state: ${what} count ${n} exceeds the remaining bytes`);
    return n;
  }
  f64s(n: number): Float64Array {
    this.need(n * 8);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.view.getFloat64(this.pos + 8 * i, true);
    this.pos += n * 8;
    return out;
  }
  str(): string {
    const n = this.count(1, 'string');
    let s: string;
    try {
      s = new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(this.pos, this.pos + n));
    } catch {
      throw new SnapshotError('BAD_STATE', `snapshot state: a key name is not valid UTF-8 (at byte ${this.pos})`);
    }
    this.pos += n;
    return s;
  }
  end(): void {
    if (this.pos !== this.bytes.length) throw new SnapshotError('BAD_STATE', `snapshot state has ${this.bytes.length - this.pos} trailing bytes`);
  }
}

/** Throws a BAD_STATE SnapshotError unless `ok`. */
export function expectState(ok: boolean, what: string): void {
  if (!ok) throw new SnapshotError('BAD_STATE', `snapshot state is inconsistent: ${what}`);
}

function specToJson(spec: object): string {
  return JSON.stringify(spec, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

function specFromJson(text: string): Record<string, unknown> {
  const parsed = JSON.parse(text, (_k, v: unknown) => (v === 'Infinity' ? Infinity : v)) as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
  return parsed as Record<string, unknown>;
}

/** Frames an operator's spec and state. */
export function encodeTimeSnapshot(kind: number, spec: object, state: Uint8Array): Uint8Array {
  const params = new TextEncoder().encode(specToJson(spec));
  const total = 24 + params.length + state.length + 4;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint16(4, TIME_SNAPSHOT_VERSION, true);
  view.setUint8(6, TIME_MODULE_ID);
  view.setUint8(7, kind);
  bytes.set(hexToBytes(timeBuildHash()), 8);
  view.setUint32(16, params.length, true);
  bytes.set(params, 20);
  view.setUint32(20 + params.length, state.length, true);
  bytes.set(state, 24 + params.length);
  view.setUint32(total - 4, crc32(bytes, 0, total - 4), true);
  return bytes;
}

/** Checks the framing of a time-operator snapshot of `kind`; returns its raw spec and state. */
export function decodeTimeSnapshot(bytes: unknown, kind: number): { spec: Record<string, unknown>; state: Uint8Array } {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`snapshot must be a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  if (bytes.length < 28) throw new SnapshotError('BAD_LENGTH', `snapshot truncated: expected at least 28 bytes, got ${bytes.length}`);
  if (MAGIC.some((b, i) => bytes[i] !== b)) throw new SnapshotError('BAD_MAGIC', 'not a streamkernel snapshot: bad magic number');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version !== TIME_SNAPSHOT_VERSION) {
    throw new SnapshotError('UNSUPPORTED_VERSION', `unsupported snapshot format version ${version}; this build reads version ${TIME_SNAPSHOT_VERSION}`);
  }
  const paramLength = view.getUint32(16, true);
  if (24 + paramLength + 4 > bytes.length) {
    throw new SnapshotError('BAD_LENGTH', `snapshot truncated: parameters of ${paramLength} bytes do not fit in ${bytes.length} bytes`);
  }
  const stateLength = view.getUint32(20 + paramLength, true);
  const expected = 24 + paramLength + stateLength + 4;
  if (bytes.length !== expected) {
    throw new SnapshotError('BAD_LENGTH', `snapshot ${bytes.length < expected ? 'truncated' : 'has trailing bytes'}: expected ${expected} bytes, got ${bytes.length}`);
  }
  const stored = view.getUint32(expected - 4, true);
  const actual = crc32(bytes, 0, expected - 4);
  if (stored !== actual) {
    throw new SnapshotError('CHECKSUM_MISMATCH', `checksum mismatch: snapshot is corrupt (stored CRC-32 ${stored.toString(16)}, computed ${actual.toString(16)})`);
  }
  if (view.getUint8(6) !== TIME_MODULE_ID) {
    throw new SnapshotError('OP_MISMATCH', `snapshot is of kernel module id ${view.getUint8(6)}, not of a time-window operator (id ${TIME_MODULE_ID})`);
  }
  const hash = bytesToHex(bytes.subarray(8, 16));
  if (hash !== timeBuildHash()) {
    throw new SnapshotError('OTHER_BUILD', `snapshot from another build of the time-window layer (build ${hash}; this is build ${timeBuildHash()})`);
  }
  const gotKind = view.getUint8(7);
  if (gotKind !== kind) {
    throw new SnapshotError('OP_MISMATCH', `snapshot is of ${KIND_NAMES[gotKind] ?? `unknown operator kind ${gotKind}`}, expected ${KIND_NAMES[kind]}`);
  }
  let spec: Record<string, unknown>;
  try {
    spec = specFromJson(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(20, 20 + paramLength)));
  } catch (error) {
    throw new SnapshotError('BAD_PARAMETERS', `snapshot parameters are not a valid spec: ${(error as Error).message}`);
  }
  return { spec, state: bytes.subarray(24 + paramLength, 24 + paramLength + stateLength) };
}
