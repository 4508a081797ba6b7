// CRC-32 (IEEE 802.3, as in zlib and PNG). Inputs of 4 KiB or more go
// through Node's zlib.crc32 where there is one (Node 20.16+/22.3+, reached
// through process.getBuiltinModule, so nothing here imports a Node module):
// about 2x the WASM speed on a checkpoint's megabytes. Elsewhere (browsers,
// older Node) they go through a WASM slicing-by-16
// (assembly/kernels/crc32.ts, under 1 KB so even a browser's main thread
// compiles it synchronously), about 1.7x the JS speed, copy into WASM memory
// included; small ones, and any input where the compile is refused, through
// the JS slicing-by-8 below. All give the same values. It detects every
// single-byte change and every burst of up to 32 bits, which is what a
// snapshot or checkpoint checksum is for; it is not a defence against a
// forger (restore validates the state itself for that). Reads words
// little-endian, as every platform that runs WebAssembly is.
import { instantiateSync } from './engine.js';

/** The slicing-by-8 tables, made on the first JS CRC (a run with no checkpoint never makes them). */
let tables: Uint32Array | undefined;

function makeTables(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let s = 1; s < 8; s++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[s * 256 + n] = c >>> 0;
    }
  }
  return t;
}

/**
 * CRC-32 of `bytes[start, end)`; given `previous`, the CRC of some bytes
 * before, the CRC of those bytes followed by these (as zlib's
 * `crc32(previous, buf)`), so a large buffer can be checksummed a piece at a
 * time while each piece is still in cache.
 */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length, previous = 0): number {
  const native = end - start >= WASM_MIN_BYTES ? nativeCrc() : undefined;
  return native !== undefined ? native(bytes.subarray(start, end), previous) >>> 0 : portableCrc32(bytes, start, end, previous);
}

/** {@link crc32} without Node's zlib: through WASM from 4 KiB, else JS (what browsers run; @internal, for tests). */
export function portableCrc32(bytes: Uint8Array, start = 0, end = bytes.length, previous = 0): number {
  const wasm = end - start >= WASM_MIN_BYTES ? wasmCrc() : undefined;
  return wasm !== undefined ? wasmCrc32(wasm, bytes, start, end, previous) : jsCrc32(bytes, start, end, previous);
}

/** Below this, the JS loop beats the call and copy overhead (of zlib.crc32's too). */
const WASM_MIN_BYTES = 4096;

type NativeCrc = (data: Uint8Array, value: number) => number;
let native: NativeCrc | null | undefined;

/** Node's zlib.crc32 (zlib's crc32(value, data)), or undefined where there is none. */
function nativeCrc(): NativeCrc | undefined {
  if (native === undefined) {
    native = null;
    try {
      const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
      const zlib = typeof get === 'function' ? (get('node:zlib') as { crc32?: unknown } | undefined) : undefined;
      if (typeof zlib?.crc32 === 'function') native = zlib.crc32 as NativeCrc;
    } catch {
      // no such module here: the portable CRC it is
    }
  }
  return native ?? undefined;
}

interface Crc32Exports {
  memory: WebAssembly.Memory;
  inputPtr(): number;
  chunkBytes(): number;
  update(crc: number, length: number): number;
}

let shared: { exports: Crc32Exports; input: Uint8Array } | null | undefined;

/** The WASM CRC-32, or undefined where it cannot be compiled synchronously. One instance per thread. */
function wasmCrc(): { exports: Crc32Exports; input: Uint8Array } | undefined {
  if (shared === undefined) {
    shared = null;
    const exports = instantiateSync<Crc32Exports>('crc32'); // undefined where it cannot be compiled: the JS loop it is
    // The memory never grows (update() works in a fixed buffer), so this view stays valid.
    if (exports !== undefined) shared = { exports, input: new Uint8Array(exports.memory.buffer, exports.inputPtr(), exports.chunkBytes()) };
  }
  return shared ?? undefined;
}

/** The bytes copied into WASM memory a chunk at a time (cache-sized), the running CRC carried across chunks. */
function wasmCrc32(wasm: { exports: Crc32Exports; input: Uint8Array }, bytes: Uint8Array, start: number, end: number, previous: number): number {
  const { exports, input } = wasm;
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = start; i < end; i += input.length) {
    const n = Math.min(input.length, end - i);
    input.set(bytes.subarray(i, i + n));
    c = exports.update(c, n);
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** CRC-32 of `bytes[start, end)` in JS (the fallback, and the path for small inputs). */
export function jsCrc32(bytes: Uint8Array, start = 0, end = bytes.length, previous = 0): number {
  const t = (tables ??= makeTables());
  let c = (previous ^ 0xffffffff) >>> 0;
  let i = start;
  for (; i < end && ((bytes.byteOffset + i) & 3) !== 0; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  const aligned = ((bytes.byteOffset + i) & 3) === 0;
  const words = aligned ? new Uint32Array(bytes.buffer, bytes.byteOffset + i, ((end - i) >>> 3) << 1) : new Uint32Array(0);
  for (let w = 0; w < words.length; w += 2) {
    const a = (c ^ words[w]!) >>> 0;
    const b = words[w + 1]!;
    c =
      t[1792 + (a & 0xff)]! ^ t[1536 + ((a >>> 8) & 0xff)]! ^ t[1280 + ((a >>> 16) & 0xff)]! ^ t[1024 + (a >>> 24)]! ^
      t[768 + (b & 0xff)]! ^ t[512 + ((b >>> 8) & 0xff)]! ^ t[256 + ((b >>> 16) & 0xff)]! ^ t[b >>> 24]!;
  }
  i += words.length * 4;
  for (; i < end; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * x^(2^k) modulo the CRC polynomial for k = 0..31, bit-reflected (0x80000000
 * is x^0): each entry the square of the one before, made on the first
 * combine (31 products; nothing at import). Past k = 31 the entries repeat
 * with period 32: x^(2^32) ≡ x modulo this polynomial (crc32.test.ts checks
 * lengths past 2^32 against the bitwise CRC).
 */
let x2n: Uint32Array | undefined;

function makeX2n(): Uint32Array {
  const t = new Uint32Array(32);
  t[0] = 0x40000000; // x^1
  for (let k = 1; k < 32; k++) t[k] = multModP(t[k - 1]!, t[k - 1]!);
  return t;
}

/** a(x)·b(x) modulo the CRC polynomial, bit-reflected (zlib's multmodp). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ 0xedb88320 : b >>> 1;
  }
  return p >>> 0;
}

/** x^(8·bytes) modulo the CRC polynomial: appending `bytes` zero bytes (zlib's x2nmodp(bytes, 3)); O(log bytes) products. */
function zeroBytesOperator(bytes: number): number {
  const t = (x2n ??= makeX2n());
  let p = 0x80000000;
  for (let n = bytes, k = 3; n > 0; n = Math.floor(n / 2), k++) if (n % 2 === 1) p = multModP(t[k & 31]!, p);
  return p;
}

/**
 * The CRC-32 of A followed by B from `crcA`, `crcB` and B's length, without
 * reading either (zlib's `crc32_combine`): a checkpoint made of key groups
 * already checksummed is checksummed without a pass over their bytes.
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA >>> 0; // B is empty: its CRC is 0
  return (multModP(zeroBytesOperator(lengthB), crcA >>> 0) ^ crcB) >>> 0;
}
