import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc32, crc32Combine, jsCrc32, portableCrc32 } from '../src/crc32.js';

/** The textbook bit-at-a-time CRC-32: slow and obviously right. */
function bitwiseCrc32(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) {
    c ^= bytes[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('crc32', () => {
  it('gives the standard check value for "123456789"', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('equals a bitwise CRC-32 at every alignment and length (slicing-by-8 edges)', () => {
    let s = 7;
    const bytes = Uint8Array.from({ length: 4099 }, () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24);
    for (const view of [bytes, bytes.subarray(1), bytes.subarray(3)]) {
      for (let start = 0; start < 12; start++) {
        for (let end = start; end < 80; end++) expect(crc32(view, start, end), `[${start}, ${end})`).toBe(bitwiseCrc32(view, start, end));
      }
      expect(crc32(view)).toBe(bitwiseCrc32(view, 0, view.length));
    }
  });
});

describe('crc32 through WASM (inputs of 4 KiB and more)', () => {
  it('equals the JS slicing-by-8 on any bytes, offset and length, across 64 KiB chunks', () => {
    const crc32 = portableCrc32; // the WASM path: crc32 itself takes Node's zlib here (next test)
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200_000 }),
        fc.integer({ min: 0, max: 15 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (length, skew, seed) => {
          let s = seed | 1;
          const bytes = Uint8Array.from({ length: length + 32 }, () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24).subarray(skew % 8);
          const start = skew;
          const end = Math.min(bytes.length, start + length);
          expect(crc32(bytes, start, end)).toBe(jsCrc32(bytes, start, end));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('equals a bitwise CRC-32 on a 3-chunk input (the running CRC is carried across chunks)', () => {
    let s = 11;
    const bytes = Uint8Array.from({ length: 3 * 65536 + 123 }, () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24);
    expect(crc32(bytes)).toBe(bitwiseCrc32(bytes, 0, bytes.length));
    expect(crc32(bytes, 5, bytes.length - 7)).toBe(bitwiseCrc32(bytes, 5, bytes.length - 7));
    expect(portableCrc32(bytes)).toBe(bitwiseCrc32(bytes, 0, bytes.length));
    expect(portableCrc32(bytes, 5, bytes.length - 7)).toBe(bitwiseCrc32(bytes, 5, bytes.length - 7));
  });
});

describe('crc32 through Node\'s zlib (inputs of 4 KiB and more)', () => {
  it('equals the JS slicing-by-8 on any bytes, offset, length and previous CRC', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200_000 }), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (length, skew, seed, previous) => {
        let s = seed | 1;
        const bytes = Uint8Array.from({ length: length + 32 }, () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24).subarray(skew % 8);
        const end = Math.min(bytes.length, skew + length);
        expect(crc32(bytes, skew, end, previous)).toBe(jsCrc32(bytes, skew, end, previous));
        expect(portableCrc32(bytes, skew, end, previous)).toBe(jsCrc32(bytes, skew, end, previous));
      }),
      { numRuns: 60 },
    );
  });
});

describe('crc32 continued from a previous CRC', () => {
  it('gives the CRC of the whole when a buffer is checksummed in pieces, JS and WASM alike', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 70_000 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 2 ** 31 }), (pieces, seed) => {
        let s = seed | 1;
        const total = pieces.reduce((a, b) => a + b, 0);
        const bytes = Uint8Array.from({ length: total }, () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24);
        let crc = 0;
        let jsCrc = 0;
        let wasmCrc = 0;
        let at = 0;
        for (const n of pieces) {
          crc = crc32(bytes, at, at + n, crc);
          jsCrc = jsCrc32(bytes, at, at + n, jsCrc);
          wasmCrc = portableCrc32(bytes, at, at + n, wasmCrc);
          at += n;
        }
        expect(crc).toBe(jsCrc32(bytes));
        expect(jsCrc).toBe(jsCrc32(bytes));
        expect(wasmCrc).toBe(jsCrc32(bytes));
      }),
      { numRuns: 40 },
    );
  });

  it('property: crc32Combine(CRC of A, CRC of B, length of B) is the CRC of A followed by B, without reading either', () => {
    const bytes = (max: number) => fc.uint8Array({ maxLength: max });
    fc.assert(
      fc.property(fc.oneof(bytes(40), bytes(5000)), fc.oneof(bytes(40), bytes(9000)), (a, b) => {
        const ab = new Uint8Array(a.length + b.length);
        ab.set(a);
        ab.set(b, a.length);
        expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(bitwiseCrc32(ab, 0, ab.length));
      }),
      { numRuns: 200 },
    );
    // Lengths past 2^31 (the arithmetic must not wrap): moving a CRC past 2^32 + 1 bytes is moving it past 2^32, then past 1.
    const a = crc32(new TextEncoder().encode('key group'));
    expect(crc32Combine(crc32Combine(a, 0, 2 ** 32), 0, 1)).toBe(crc32Combine(a, 0, 2 ** 32 + 1));
    expect(crc32Combine(a, 0, 2 ** 32 + 1)).not.toBe(crc32Combine(a, 0, 1));
  });
});
