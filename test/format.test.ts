// TextFormatter's CSV output (issue 13): numbers are written in bytes without
// String() where that gives the same text, so every number must come out
// exactly as String(x) does.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WindowFormatter } from '../src/cli/windows.js';
import { AsciiText, csvField, TextFormatter } from '../src/connectors/format.js';
import type { ColumnBatch } from '../src/connectors/types.js';

const end = { bytes: 0, rows: 0, lines: 0 };

function csvOf(values: readonly number[], keys?: readonly string[]): string {
  const f = new TextFormatter('csv', { value: 'v', ...(keys ? { key: 'k' } : {}), ops: ['twice'] });
  const batch: ColumnBatch = { length: values.length, values: Float64Array.from(values), ...(keys ? { keys } : {}), end, skipped: 0 };
  return f.format({ batch, results: [batch.values.map((x) => x * 2)] });
}

const expected = (values: readonly number[], keys?: readonly string[]): string =>
  values.map((v, i) => `${keys ? `${keys[i]},` : ''}${String(v)},${String(v * 2)}\n`).join('');

/** Numbers of every kind: short decimals (the bytes path), any double, and the edges. */
const numbers = fc.oneof(
  fc.tuple(fc.integer({ min: -2e9, max: 2e9 }), fc.integer({ min: 0, max: 8 })).map(([m, k]) => m / 10 ** k),
  fc.tuple(fc.double({ min: -1e16, max: 1e16, noNaN: true }), fc.integer({ min: 0, max: 7 })).map(([x, k]) => Number(x.toFixed(k))),
  fc.double(),
  fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 1e-6, 1e-7, 0.000001, 123456789012345, 999999999999999.9, 1e15, 1e21, 5e-324, Number.MAX_VALUE, 2147483647, 2147483648, -2147483647, -2147483648, -2147483649, 999999999.999999),
);

describe('TextFormatter CSV numbers', () => {
  it('property: every number is written exactly as String(x) writes it', () => {
    fc.assert(
      fc.property(fc.array(numbers, { minLength: 1, maxLength: 50 }), (values) => {
        expect(csvOf(values)).toBe(expected(values));
      }),
      { numRuns: 3000 },
    );
  });

  it('writes non-ASCII and quoted keys as the string path does', () => {
    const keys = ['a', 'é', 'x,y', '日本', 'q"q'];
    const values = [1.5, 2, -0, NaN, 0.1];
    const quoted = keys.map((k) => (/[",]/.test(k) ? `"${k.replaceAll('"', '""')}"` : k));
    expect(csvOf(values, keys)).toBe(expected(values, quoted));
    expect(csvOf(values.slice(0, 1), ['a'])).toBe('a,1.5,3\n');
  });

  it('writes batches longer than one WASM call (8192 rows), keyed, as String(x)', () => {
    const values = Array.from({ length: 20_000 }, (_, i) => (i % 7 === 0 ? NaN : Math.sin(i) * 10 ** ((i % 40) - 20)));
    const keys = values.map((_, i) => `k${i % 13}`);
    expect(csvOf(values, keys)).toBe(expected(values, keys));
  });
});

/** NDJSON's number: NaN null, infinities as strings, else String(x). */
const json = (x: number): string => (Number.isNaN(x) ? 'null' : x === Infinity ? '"Infinity"' : x === -Infinity ? '"-Infinity"' : String(x));

describe('TextFormatter NDJSON numbers', () => {
  it('property: every number is written as String(x), NaN as null, infinities as strings; time and key members as before', () => {
    fc.assert(
      fc.property(fc.array(numbers, { minLength: 1, maxLength: 50 }), fc.boolean(), (values, withKey) => {
        const f = new TextFormatter('ndjson', { value: 'v', time: 't', ...(withKey ? { key: 'k' } : {}), ops: ['twice'] });
        const keys = values.map((_, i) => (i % 3 === 0 ? 'é"' : `k${i}`));
        const timeText = values.map((_, i) => (i % 2 === 0 ? String(i) : `2024-01-01T00:00:0${i % 10}Z`));
        const batch: ColumnBatch = { length: values.length, values: Float64Array.from(values), timeText, ...(withKey ? { keys } : {}), end, skipped: 0 };
        const lines = values.map((v, i) => {
          const t = i % 2 === 0 ? timeText[i] : JSON.stringify(timeText[i]);
          return `{"t":${t},${withKey ? `"k":${JSON.stringify(keys[i])},` : ''}"v":${json(v)},"twice":${json(v * 2)}}\n`;
        });
        expect(f.format({ batch, results: [batch.values.map((x) => x * 2)] })).toBe(lines.join(''));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('WindowFormatter numbers', () => {
  it('property: window records write every op value as String(x) (CSV) or as JSON (NDJSON)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(numbers, numbers, fc.boolean()), { minLength: 1, maxLength: 30 }), fc.boolean(), (rows, ascii) => {
        const records = rows.map(([a, b, update], i) => ({ key: ascii ? `s${i % 4}` : 'é', start: String(i * 60_000), end: String((i + 1) * 60_000), update, values: [a, b] }));
        const csv = new WindowFormatter('csv', 'sensor', true, ['mean', 'max']).format(records);
        expect(csv).toBe(records.map((r) => `${r.key},${r.start},${r.end},${r.update},${String(r.values[0])},${String(r.values[1])}\n`).join(''));
        const ndjson = new WindowFormatter('ndjson', undefined, false, ['mean', 'max']).format(records);
        expect(ndjson).toBe(records.map((r) => `{"window_start":${r.start},"window_end":${r.end},"mean":${json(r.values[0]!)},"max":${json(r.values[1]!)}}\n`).join(''));
      }),
      { numRuns: 500 },
    );
  });
});

describe('WindowFormatter.formatBytes', () => {
  it('property: formatBytes of the ops\' windows is the UTF-8 of format of the same rows: CSV and NDJSON, keyed or not, update flags, keys to quote and non-ASCII, any numbers', () => {
    const keyNames = ['a', 'k,1', 'q"t', 'é', '', 'line\nbreak', 'sensor-7'];
    const dec = new TextDecoder();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(keyNames.length - 1), fc.integer({ min: -5, max: 5 }), fc.boolean(), numbers, numbers), { minLength: 1, maxLength: 40 }),
        fc.constantFrom('csv' as const, 'ndjson' as const),
        fc.boolean(),
        fc.boolean(),
        (wins, kind, keyed, withUpdate) => {
          const opWindows = [0, 1].map((j) => wins.map(([key, start, update, a, b]) => ({ key, start: start * 60_000, end: (start + 1) * 60_000, update, count: 1, value: j === 0 ? a : b })));
          const time = (ms: number): string => String(ms);
          const rows = wins.map(([key, start, update, a, b]) => ({ key: keyed ? keyNames[key]! : '', start: time(start * 60_000), end: time((start + 1) * 60_000), update, values: [a, b] }));
          const f = new WindowFormatter(kind, keyed ? 'sensor' : undefined, withUpdate, ['mean', 'max']);
          const bytes = f.formatBytes(opWindows, (id) => keyNames[id]!, (id) => `${csvField(keyNames[id]!)},`, time);
          expect(dec.decode(bytes)).toBe(new WindowFormatter(kind, keyed ? 'sensor' : undefined, withUpdate, ['mean', 'max']).format(rows));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('AsciiText.cell (CSV cells of times and keys written as bytes)', () => {
  // Quotes, commas, line ends, non-ASCII, ISO-date and number characters, empty cells.
  const text = fc.array(fc.constantFrom('"', ',', '\r', '\n', 'é', '\u2028', 'a', 'K', '1', '-', '0', 'T', ':', '.', 'Z', ' '), { maxLength: 12 }).map((cs) => cs.join(''));

  it('property: cell(s) writes exactly csvField(s), and refuses (false) exactly when that is not ASCII', () => {
    const decode = (out: AsciiText): string => String.fromCharCode(...out.view());
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 6 }), (cells) => {
        const fast = new AsciiText();
        const slow = new AsciiText();
        for (const c of cells) {
          const ok = fast.cell(c);
          expect(ok).toBe(slow.text(csvField(c)));
          if (!ok) return;
          expect(decode(fast)).toBe(decode(slow));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('property: CSV lines with times and keys of any text are those of the string path', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(text, text, numbers), { minLength: 1, maxLength: 20 }), (rows) => {
        const f = new TextFormatter('csv', { value: 'v', time: 't', key: 'k', ops: ['twice'] });
        const values = Float64Array.from(rows, (r) => r[2]);
        const batch: ColumnBatch = { length: rows.length, values, timeText: rows.map((r) => r[0]), keys: rows.map((r) => r[1]), end, skipped: 0 };
        const want = rows.map(([t, k, v]) => `${csvField(t)},${csvField(k)},${String(v)},${String(v * 2)}\n`).join('');
        expect(f.format({ batch, results: [values.map((x) => x * 2)] })).toBe(want);
      }),
      { numRuns: 500 },
    );
  });
});

describe('TextFormatter with key ids (ColumnOptions.keyIds)', () => {
  it('regression: a batch carrying its keys as ids (keyIds + keyNames) was written with empty key cells', () => {
    // Two sources numbering their keys differently through one formatter: each batch's ids name its own source's keys.
    const first = { keyNames: ['a', 'b,c', 'é'], keyIds: Uint32Array.of(0, 1, 2, 1, 0) };
    const second = { keyNames: ['x', 'a'], keyIds: Uint32Array.of(1, 0, 1) };
    for (const format of ['csv', 'ndjson'] as const) {
      const f = new TextFormatter(format, { value: 'v', key: 'k', ops: ['twice'] });
      for (const { keyNames, keyIds } of [first, second]) {
        const values = Float64Array.from(keyIds, (id, i) => id + i / 4);
        const batch: ColumnBatch = { length: values.length, values, keyIds, keyNames, end, skipped: 0 };
        const keys = Array.from(keyIds, (id) => keyNames[id] as string);
        const withText = new TextFormatter(format, { value: 'v', key: 'k', ops: ['twice'] });
        const want = withText.format({ batch: { length: values.length, values, keys, end, skipped: 0 }, results: [values.map((x) => x * 2)] });
        expect(want.startsWith(format === 'csv' ? `${csvField(keys[0] as string)},` : `{"k":${JSON.stringify(keys[0])},`)).toBe(true);
        expect(f.format({ batch, results: [values.map((x) => x * 2)] })).toBe(want);
      }
    }
  });
});

describe('TextFormatter.formatBytes (what run writes)', () => {
  it('property: formatBytes is the UTF-8 of format for any batch: CSV and NDJSON, any numbers, keys as text or ids (non-ASCII, quoted), times as text or ms, batches over one block of rows', () => {
    const key = fc.constantFrom('a', 'k1', '', 'é', '日本', 'b,c', 'q"q', '😀');
    const opts = fc.record({ format: fc.constantFrom('csv' as const, 'ndjson' as const), keyed: fc.boolean(), ids: fc.boolean(), timed: fc.boolean(), timeText: fc.boolean() });
    const enc = new TextEncoder();
    fc.assert(
      fc.property(opts, fc.array(fc.tuple(numbers, numbers, key, fc.integer({ min: 0, max: 1e13 })), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 9000 }), ({ format, keyed, ids, timed, timeText }, rows, repeat) => {
        // Repeated past 8 192 rows now and then, so the bytes span several formatRows blocks.
        const all = repeat > 8000 ? Array.from({ length: repeat }, (_, i) => rows[i % rows.length]!) : rows;
        const values = Float64Array.from(all, (r) => r[0]);
        const names = [...new Set(all.map((r) => r[2]))];
        const batch: ColumnBatch = {
          length: all.length,
          values,
          ...(keyed && ids ? { keyIds: Uint32Array.from(all, (r) => names.indexOf(r[2])), keyNames: names } : keyed ? { keys: all.map((r) => r[2]) } : {}),
          ...(timed ? (timeText ? { timeText: all.map((r) => String(r[3])) } : { timestamps: Float64Array.from(all, (r) => r[3]) }) : {}),
          end,
          skipped: 0,
        };
        const columns = { value: 'v', ...(keyed ? { key: 'k' } : {}), ...(timed ? { time: 't' } : {}), ops: ['a', 'b'] };
        const result = { batch, results: [Float64Array.from(all, (r) => r[1]), values.map((x) => x / 3)] };
        const want = enc.encode(new TextFormatter(format, columns).format(result));
        expect(Buffer.from(new TextFormatter(format, columns).formatBytes(result)).equals(Buffer.from(want))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('TextFormatter key cells by id in one loop per block (RowCells.block)', () => {
  it('property: CSV lines of key ids and no time (run --key k) are the key text, value and results as String(x), for any keys (quoted, non-ASCII, ids past 65 536), across batches and sources through one formatter', () => {
    // Names of two sources: the second's list is past MEMO_KEYS long, so some ids are written per row, not from the byte table.
    const few = ['k0', 'a,b', 'q"q', 'é', '', 'k5', 'k6'];
    const many = Array.from({ length: 70_000 }, (_, i) => (i % 9 === 0 ? `x${i}` : i % 9 === 1 ? `日${i}` : `n${i}`));
    const id = (names: readonly string[]) => fc.oneof(fc.integer({ min: 0, max: Math.min(names.length, 12) - 1 }), fc.integer({ min: 0, max: names.length - 1 }));
    const batchOf = (names: readonly string[]) => fc.array(fc.tuple(id(names), numbers), { minLength: 1, maxLength: 30 }).map((rows) => ({ names, rows }));
    fc.assert(
      fc.property(fc.array(fc.oneof(batchOf(few), batchOf(many)), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 9000 }), (batches, repeat) => {
        const f = new TextFormatter('csv', { value: 'v', key: 'k', ops: ['twice'] });
        for (const [b, { names, rows: some }] of batches.entries()) {
          // The first batch now and then spans several formatRows blocks (8 192 rows).
          const rows = b === 0 && repeat > 8000 ? Array.from({ length: repeat }, (_, i) => some[i % some.length]!) : some;
          const values = Float64Array.from(rows, (r) => r[1]);
          const keyIds = Uint32Array.from(rows, (r) => r[0]);
          const batch: ColumnBatch = { length: rows.length, values, keyIds, keyNames: names, end, skipped: 0 };
          const results = [values.map((x) => x * 2)];
          const want = rows.map(([k, v], i) => `${csvField(names[k] as string)},${String(v)},${String(results[0]![i])}\n`).join('');
          expect(f.format({ batch, results })).toBe(want);
          expect(Buffer.from(f.formatBytes({ batch, results })).toString('utf8')).toBe(want);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('TextFormatter ISO time cells written with the numbers (isoTimes)', () => {
  /** Years 0000 to 9999, in ms. */
  const FIRST_MS = -62_167_219_200_000;
  const LAST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
  /** Times in runs: a start anywhere, then steps that stay in a second, cross seconds and days, or go back. */
  const times = fc
    .tuple(fc.integer({ min: FIRST_MS, max: LAST_MS }), fc.array(fc.oneof(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -2000, max: 2000 }), fc.integer({ min: -2 * 86_400_000, max: 2 * 86_400_000 })), { minLength: 0, maxLength: 40 }))
    .map(([start, steps]) => {
      const out = [start];
      for (const d of steps) out.push(Math.min(LAST_MS, Math.max(FIRST_MS, out[out.length - 1]! + d)));
      return out;
    });

  it('property: CSV lines of canonical ISO times (isoTimes, no time text), keyed by id or not, are each time\'s toISOString, its key cell and the numbers as String(x), for any times of years 0000–9999, keys (quoted, non-ASCII) and batches over one block of rows', () => {
    const key = fc.constantFrom('a', 'sensor-1', '', 'é', 'b,c', 'q"q');
    fc.assert(
      fc.property(times, fc.array(key, { minLength: 1, maxLength: 5 }), fc.boolean(), fc.integer({ min: 1, max: 9000 }), (ts, keyPool, keyed, repeat) => {
        // Repeated past 8 192 rows now and then, so the lines span several formatRows blocks.
        const n = repeat > 8000 ? repeat : ts.length;
        const stamps = Float64Array.from({ length: n }, (_, i) => ts[i % ts.length]!);
        const keys = Array.from({ length: n }, (_, i) => keyPool[(i * 7) % keyPool.length]!);
        const names = [...new Set(keys)];
        const values = Float64Array.from({ length: n }, (_, i) => (i % 5 === 0 ? NaN : i / 7 - 3));
        const batch: ColumnBatch = {
          length: n,
          values,
          timestamps: stamps,
          isoTimes: true,
          ...(keyed ? { keyIds: Uint32Array.from(keys, (k) => names.indexOf(k)), keyNames: names } : {}),
          end,
          skipped: 0,
        };
        const f = new TextFormatter('csv', { value: 'v', time: 't', ...(keyed ? { key: 'k' } : {}), ops: ['half'] });
        const result = { batch, results: [values.map((x) => x / 2)] };
        const want = Array.from(stamps, (ms, i) => `${new Date(ms).toISOString()},${keyed ? `${csvField(keys[i]!)},` : ''}${String(values[i])},${String(values[i]! / 2)}\n`).join('');
        expect(f.format(result)).toBe(want);
        expect(Buffer.from(f.formatBytes(result)).toString('utf8')).toBe(want);
      }),
      { numRuns: 300 },
    );
  });
});

describe('TextFormatter.recycle (issue 19: the output buffer reused across batches)', () => {
  const formatter = (): TextFormatter => new TextFormatter('csv', { value: 'v', key: 'k', ops: ['twice'] });
  const batchOf = (values: readonly number[]): { batch: ColumnBatch; results: Float64Array[] } => {
    const batch: ColumnBatch = { length: values.length, values: Float64Array.from(values), keys: values.map((_, i) => `k${i % 3}`), end, skipped: 0 };
    return { batch, results: [batch.values.map((x) => x * 2)] };
  };
  const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

  it('property: any batch sizes, any bytes given back or kept: every batch is written as a fresh formatter writes it, and kept bytes never change', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.array(numbers, { minLength: 1, maxLength: 300 }), fc.boolean()), { minLength: 1, maxLength: 8 }),
        (batches) => {
          const f = formatter();
          const kept: [Uint8Array, string][] = [];
          for (const [values, giveBack] of batches) {
            const bytes = f.formatBytes(batchOf(values));
            const want = text(formatter().formatBytes(batchOf(values)));
            expect(text(bytes)).toBe(want);
            if (giveBack) f.recycle(bytes);
            else kept.push([bytes, want]);
          }
          for (const [bytes, want] of kept) expect(text(bytes)).toBe(want);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writes the next batch over bytes given back (no new memory when they have room), and ignores arrays it did not make', () => {
    const f = formatter();
    const first = f.formatBytes(batchOf([1.5, 2.25, 3, 4, 5, 6, 7, 8]));
    f.recycle(first);
    const second = f.formatBytes(batchOf([9, 10]));
    expect(second.buffer).toBe(first.buffer);
    expect(text(second)).toBe('k0,9,18\nk1,10,20\n');
    const foreign = new Uint8Array(64);
    f.recycle(foreign);
    f.recycle(second);
    f.recycle(second); // twice: given back once
    const third = f.formatBytes(batchOf([1]));
    const fourth = f.formatBytes(batchOf([2]));
    expect(third.buffer).toBe(first.buffer);
    expect(fourth.buffer).not.toBe(foreign.buffer);
    expect(fourth.buffer).not.toBe(first.buffer);
  });
});
