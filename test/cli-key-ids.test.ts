// The CLI's key numbering (src/cli/ops.ts KeyIds): a fresh run passes the
// reader's key ids on as they are (they number keys as KeyIds does), every
// other run maps them; either way each row's key keeps its name and ids go
// to keys in order of first appearance in the rows received (a checkpoint's
// key list). And end to end: any --batch-size with --workers 1, 2 or 3 gives
// the same bytes, keyed or not, with quoted cells and NaN/inf values.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyIds, sameIds } from '../src/cli/ops.js';
import { runCli } from './cli-harness.js';

/** A reader's numbering: ids in order of first appearance among the rows it stores (BatchBuilder.keyId). */
function sourceOf(rows: readonly string[][]): { batches: Uint32Array[]; names: string[] } {
  const names: string[] = [];
  const idOf = new Map<string, number>();
  const batches = rows.map((batch) =>
    Uint32Array.from(batch, (k) => {
      let id = idOf.get(k);
      if (id === undefined) {
        id = names.length;
        idOf.set(k, id);
        names.push(k);
      }
      return id;
    }),
  );
  return { batches, names };
}

const keyName = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g');
const batchesOf = fc.array(fc.array(keyName, { maxLength: 12 }), { maxLength: 8 });

describe('KeyIds', () => {
  it('any batches, restored list and rows dropped before the ops: each row keeps its name, ids in order of first appearance of the rows received', () => {
    fc.assert(
      fc.property(batchesOf, fc.array(keyName, { maxLength: 3 }), fc.array(fc.boolean(), { maxLength: 40 }), (rows, restoredKeys, drops) => {
        const restored = [...new Set(restoredKeys)];
        const { batches, names } = sourceOf(rows);
        const keys = new KeyIds(restored);
        const expected: string[] = [...restored];
        let d = 0;
        for (const ids of batches) {
          // Rows dropped between the reader and the ops (late rows of time windows): the reader numbered their keys.
          const kept = Uint32Array.from([...ids].filter(() => drops[d++ % Math.max(drops.length, 1)] !== true));
          const out = keys.of({ ids: kept, names }, kept.length);
          for (let i = 0; i < kept.length; i++) {
            const name = names[kept[i]!]!;
            if (!expected.includes(name)) expected.push(name);
            expect(keys.name(out[i]!)).toBe(name);
            expect(out[i]).toBe(expected.indexOf(name));
          }
        }
        expect(keys.names()).toEqual(expected);
      }),
    );
  });

  it("a fresh run's ids are passed on as the reader made them (no copy), names listed as they come", () => {
    const { batches, names } = sourceOf([['x', 'y', 'x'], ['z', 'y', 'w']]);
    const keys = new KeyIds([]);
    for (const ids of batches) expect(keys.of({ ids, names }, ids.length)).toBe(ids);
    expect(keys.names()).toEqual(['x', 'y', 'z', 'w']);
  });

  it('keys given as strings after ids: the ids seen so far keep their numbers', () => {
    const { batches, names } = sourceOf([['x', 'y']]);
    const keys = new KeyIds([]);
    keys.of({ ids: batches[0]!, names }, 2);
    expect([...keys.of(['y', 'v', 'x'], 3)]).toEqual([1, 2, 0]);
    expect([...keys.of({ ids: Uint32Array.of(1, 0), names }, 2)]).toEqual([1, 0]);
  });

  it('sameIds: the count of ids seen when new ids come in order, else -1', () => {
    expect(sameIds(Uint32Array.of(0, 1, 0, 2), 4, 0)).toBe(3);
    expect(sameIds(Uint32Array.of(2, 0, 3), 3, 2)).toBe(4);
    expect(sameIds(Uint32Array.of(0, 2, 1), 3, 0)).toBe(-1);
    expect(sameIds(Uint32Array.of(0, 2), 1, 0)).toBe(1);
  });
});

describe('streamkernel run: any --batch-size and --workers 1, 2 or 3 give the same bytes', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'streamkernel-key-ids-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cell = fc.oneof(fc.integer({ min: -50, max: 50 }).map(String), fc.constantFrom('NaN', 'inf', '-Infinity', '', '2.50', '"7"', '1e3'));
  const key = fc.constantFrom('k1', 'k2', '"k,3"', '"k ""4"""', 'k5', 'k6', 'k7');
  const csvOf = (rows: [string, string][]): string => `k,v\n${rows.map(([k, v]) => `${k},${v}`).join('\n')}\n`;

  it('keyed and unkeyed, quoted cells, NaN and inf values', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(key, cell), { minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 120 }), fc.boolean(), async (rows, batchSize, keyed) => {
        const input = path.join(dir, `in-${n++}.csv`);
        writeFileSync(input, csvOf(rows));
        const args = ['run', input, '--value', 'v', ...(keyed ? ['--key', 'k'] : []), '--op', 'mean', '--op', 'median', '--window', '5', '--batch-size', String(batchSize)];
        const outs = [];
        for (const workers of ['1', '2', '3']) outs.push(await runCli([...args, '--workers', workers], { cwd: dir }));
        expect(outs[0]!.code, outs[0]!.stderr).toBe(0);
        expect(outs[1]).toEqual(outs[0]);
        expect(outs[2]).toEqual(outs[0]);
      }),
      { numRuns: 6 },
    );
  }, 120_000);
});
