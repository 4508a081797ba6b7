// The snapshot format: a fixed little-endian header, the kernel's state
// region byte for byte, and a CRC-32 of everything before it.
//
//   offset size
//      0    4  magic "SKSN"
//      4    2  format version (1)
//      6    1  module id (the family id of assembly/kernels/*)
//      7    1  op code within the module
//      8    8  build hash: first 8 bytes of the SHA-256 of the module's WASM
//     16    4  window (rows; 0 for ewm)
//     20    4  minPeriods
//     24    8  p0 (f64: ddof, q or alpha)
//     32    8  p1 (f64: adjust for ewm, else 0)
//     40    4  state length N
//     44    N  state region
//   44+N    4  CRC-32 of bytes [0, 44+N)
//
// decodeSnapshot checks every length, the checksum, the build and the
// parameters before a single byte reaches WASM memory.
import { sameStateBuild } from './builds.js';
import { crc32 } from './crc32.js';
import { hexToBytes, bytesToHex } from './hex.js';
import { SnapshotError } from './errors.js';
import type { KernelPlan, ModuleName } from './spec.js';

const MAGIC = [0x53, 0x4b, 0x53, 0x4e]; // "SKSN"
export const SNAPSHOT_VERSION = 1;
const HEADER_BYTES = 44;
const TRAILER_BYTES = 4;

const MODULE_IDS: Record<ModuleName, number> = { sum: 1, minmax: 2, var: 3, median: 4, ewm: 5, timeroll: 6 };
const MODULE_BY_ID = new Map(Object.entries(MODULE_IDS).map(([name, id]) => [id, name as ModuleName]));

/** The bytes of a build hash, parsed once per hash: a worker writes thousands of key-group records per commit (3 % of its CPU at 10 000 keys). */
const hashBytesCache = new Map<string, Uint8Array>();
function hashBytes(hex: string): Uint8Array {
  let bytes = hashBytesCache.get(hex);
  if (bytes === undefined) hashBytesCache.set(hex, (bytes = hexToBytes(hex)));
  return bytes;
}

/** Serializes a kernel's plan and state region. */
export function encodeSnapshot(plan: KernelPlan, buildHash: string, state: Uint8Array): Uint8Array {
  return encodeSnapshotWith(plan, buildHash, state.length, (region) => region.set(state));
}

/**
 * Serializes a kernel's plan and a state region of `length` bytes that
 * `fill` writes in place, into the snapshot itself: a state assembled from
 * parts is not built and then copied once more.
 */
export function encodeSnapshotWith(plan: KernelPlan, buildHash: string, length: number, fill: (state: Uint8Array) => void): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES + length + TRAILER_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint16(4, SNAPSHOT_VERSION, true);
  view.setUint8(6, MODULE_IDS[plan.module]);
  view.setUint8(7, plan.code);
  bytes.set(hashBytes(buildHash), 8);
  view.setUint32(16, plan.window, true);
  view.setUint32(20, plan.minPeriods, true);
  view.setFloat64(24, plan.p0, true);
  view.setFloat64(32, plan.p1, true);
  view.setUint32(40, length, true);
  fill(bytes.subarray(HEADER_BYTES, HEADER_BYTES + length));
  view.setUint32(HEADER_BYTES + length, crc32(bytes, 0, HEADER_BYTES + length), true);
  return bytes;
}

/** A snapshot that passed every check of its framing. */
export interface DecodedSnapshot {
  plan: KernelPlan;
  /** The state region bytes (a view into the snapshot). */
  state: Uint8Array;
}

/**
 * Checks a snapshot's framing (length, magic, version, checksum, build) and
 * returns its plan and state. Throws {@link SnapshotError}.
 */
export function decodeSnapshot(bytes: unknown, buildHashOf: (module: ModuleName) => string): DecodedSnapshot {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`snapshot must be a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  }
  const minimum = HEADER_BYTES + TRAILER_BYTES;
  if (bytes.length < minimum) {
    throw new SnapshotError('BAD_LENGTH', `snapshot truncated: expected at least ${minimum} bytes, got ${bytes.length}`);
  }
  if (MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new SnapshotError('BAD_MAGIC', 'not a streamkernel snapshot: bad magic number');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version !== SNAPSHOT_VERSION) {
    throw new SnapshotError('UNSUPPORTED_VERSION', `unsupported snapshot format version ${version}; this build reads version ${SNAPSHOT_VERSION}`);
  }
  const stateLength = view.getUint32(40, true);
  const expected = HEADER_BYTES + stateLength + TRAILER_BYTES;
  if (bytes.length !== expected) {
    throw new SnapshotError('BAD_LENGTH', `snapshot ${bytes.length < expected ? 'truncated' : 'has trailing bytes'}: expected ${expected} bytes, got ${bytes.length}`);
  }
  const stored = view.getUint32(HEADER_BYTES + stateLength, true);
  const actual = crc32(bytes, 0, HEADER_BYTES + stateLength);
  if (stored !== actual) {
    throw new SnapshotError('CHECKSUM_MISMATCH', `checksum mismatch: snapshot is corrupt (stored CRC-32 ${stored.toString(16)}, computed ${actual.toString(16)})`);
  }
  const module = MODULE_BY_ID.get(view.getUint8(6));
  if (module === undefined) {
    throw new SnapshotError('BAD_PARAMETERS', `snapshot names an unknown kernel module (id ${view.getUint8(6)})`);
  }
  const hash = bytesToHex(bytes.subarray(8, 16));
  if (!sameStateBuild(module, hash, buildHashOf(module))) {
    throw new SnapshotError('OTHER_BUILD', `snapshot from another build of kernel '${module}' (build ${hash}; this is build ${buildHashOf(module)})`);
  }
  const plan: KernelPlan = {
    module,
    code: view.getUint8(7),
    window: view.getUint32(16, true),
    minPeriods: view.getUint32(20, true),
    p0: view.getFloat64(24, true),
    p1: view.getFloat64(32, true),
  };
  return { plan, state: bytes.subarray(HEADER_BYTES, HEADER_BYTES + stateLength) };
}
