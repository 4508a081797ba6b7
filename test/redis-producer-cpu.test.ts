// The producer's per-row work made cheaper without changing a byte (issue 20):
// its key → partition memo (src/redis/partition-cache.ts) routes exactly as
// partitionOf, whatever the keys, their repetition and the memo's size
// (cleared when full); its key column is the bytes it was.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { decodeKeyColumn, encodeKeyColumn } from '../src/redis/codec.js';
import { partitionOf } from '../src/redis/keys.js';
import { PartitionCache } from '../src/redis/partition-cache.js';

describe('the producer\'s partition memo', () => {
  test('any keys (repeated, non-ASCII), any partition count, any memo size: the partition of each key is partitionOf\'s', () => {
    // A small alphabet: keys that repeat, share prefixes and differ late (k1, k10, k11 …).
    const key = fc.oneof(fc.constantFrom('AAPL', 'MSFT', 'k1', '', 'é', '😀x'), fc.string({ unit: fc.constantFrom('k', '1', '0', 'é', '😀'), maxLength: 5 }), fc.string({ unit: 'grapheme', maxLength: 12 }));
    fc.assert(
      fc.property(fc.array(key, { maxLength: 200 }), fc.integer({ min: 1, max: 256 }), fc.integer({ min: 1, max: 8 }), (keys, partitions, maxKeys) => {
        const cache = new PartitionCache(partitions, maxKeys);
        for (const k of keys) expect(cache.of(k)).toBe(partitionOf(k, partitions));
      }),
      { numRuns: 300 },
    );
  });

  test('Python\'s zlib.crc32(b\'AAPL\') % 64, asked twice (the second answer from the memo)', () => {
    const cache = new PartitionCache(64);
    expect([cache.of('AAPL'), cache.of('AAPL')]).toEqual([28, 28]);
  });
});

/** encodeKeyColumn as it was (a Buffer per distinct key, then copied): the reference the faster one must match byte for byte. */
function encodeKeyColumnReference(keys: readonly string[]): Buffer {
  const index = new Map<string, number>();
  const dictionary: Buffer[] = [];
  const ids = new Uint32Array(keys.length);
  let size = 6;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    let id = index.get(key);
    if (id === undefined) {
      index.set(key, (id = dictionary.length));
      const utf8 = Buffer.from(key, 'utf8');
      dictionary.push(utf8);
      size += 4 + utf8.length;
    }
    ids[i] = id;
  }
  const width = dictionary.length <= 0x100 ? 1 : dictionary.length <= 0x10000 ? 2 : 4;
  const out = Buffer.allocUnsafe(size + width * keys.length);
  out[0] = 1;
  out[1] = width;
  out.writeUInt32LE(dictionary.length, 2);
  let at = 6;
  for (const utf8 of dictionary) {
    out.writeUInt32LE(utf8.length, at);
    utf8.copy(out, at + 4);
    at += 4 + utf8.length;
  }
  for (let i = 0; i < ids.length; i++, at += width) out.writeUIntLE(ids[i]!, at, width);
  return out;
}

describe('the producer\'s key column', () => {
  test('any keys (lone surrogates, astral, empty, repeated): encodeKeyColumn writes the bytes it wrote before, and reads back', () => {
    const key = fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: 'grapheme', maxLength: 6 }), fc.constantFrom('\ud800', 'a\udfffb', '😀', ''));
    fc.assert(
      fc.property(fc.array(key, { maxLength: 300 }), (keys) => {
        const column = encodeKeyColumn(keys);
        expect(column.equals(encodeKeyColumnReference(keys))).toBe(true);
        const { dictionary, ids } = decodeKeyColumn(new Uint8Array(column));
        expect(Array.from(ids, (id) => dictionary[id])).toEqual(keys.map((k) => Buffer.from(k, 'utf8').toString('utf8')));
      }),
      { numRuns: 300 },
    );
  });

  test('ids 1, 2 and 4 bytes wide (256 and 65 536 distinct keys are the limits): the bytes it wrote before', () => {
    for (const distinct of [1, 256, 257, 65_536, 65_537]) {
      const keys = Array.from({ length: distinct + 3 }, (_, i) => `k${i % distinct}é`);
      expect(encodeKeyColumn(keys).equals(encodeKeyColumnReference(keys))).toBe(true);
    }
  });
});
