// The CSV reader's byte scanner (the numeric fast path, issue 13) against
// csv-parse (the general path): the same batches, rows, line numbers, byte
// offsets and errors on any input, however it is cut into chunks.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byteChunks, isoDateBytes, parseIsoDate } from '../src/connectors/columns.js';
import { simpleNumber } from '../src/connectors/csv-scan.js';
import { wasmRowsRead } from '../src/connectors/csv-scan-wasm.js';
import { csvBatches, type CsvOptions } from '../src/connectors/csv.js';
import { MalformedRowError, type ColumnBatch } from '../src/connectors/index.js';
import { parseNumberText } from '../src/number-text.js';
import { splitAt } from './chunks.js';

const enc = new TextEncoder();


interface Read {
  batches: { values: number[]; ts?: number[]; timeText?: readonly string[]; timeIsDate?: boolean; keys?: readonly string[]; end: ColumnBatch['end']; skipped: number }[];
  error: [number, string] | string | undefined;
}

async function read(input: Uint8Array, cuts: readonly number[], options: CsvOptions, scan: boolean): Promise<Read> {
  const out: Read = { batches: [], error: undefined };
  try {
    for await (const b of csvBatches(() => byteChunks(splitAt(input, cuts)), false, options, scan)) {
      out.batches.push({
        values: [...b.values],
        ...(b.timestamps ? { ts: [...b.timestamps] } : {}),
        ...(b.timeText ? { timeText: [...b.timeText] } : {}),
        ...(b.timeIsDate !== undefined ? { timeIsDate: b.timeIsDate } : {}),
        ...(b.keys ? { keys: [...b.keys] } : {}),
        end: b.end,
        skipped: b.skipped,
      });
    }
  } catch (e) {
    out.error = e instanceof MalformedRowError ? [e.line, e.reason] : String(e);
  }
  return out;
}

/** read() with keyIds: each batch's keys given back as names, after checking the ids count keys in order of first appearance. */
async function readIds(input: Uint8Array, cuts: readonly number[], options: CsvOptions, scan: boolean): Promise<Read> {
  const out: Read = { batches: [], error: undefined };
  let known = 0;
  try {
    for await (const b of csvBatches(() => byteChunks(splitAt(input, cuts)), false, options, scan)) {
      expect(b.keys).toBeUndefined();
      const ids = b.keyIds as Uint32Array;
      const names = b.keyNames as readonly string[];
      expect(ids.length).toBe(b.length);
      for (const id of ids) {
        expect(id).toBeLessThanOrEqual(known);
        if (id === known) known++;
      }
      expect(new Set(names).size).toBe(names.length);
      out.batches.push({
        values: [...b.values],
        ...(b.timestamps ? { ts: [...b.timestamps] } : {}),
        ...(b.timeText ? { timeText: [...b.timeText] } : {}),
        ...(b.timeIsDate !== undefined ? { timeIsDate: b.timeIsDate } : {}),
        keys: Array.from(ids, (id) => names[id] as string),
        end: b.end,
        skipped: b.skipped,
      });
    }
  } catch (e) {
    out.error = e instanceof MalformedRowError ? [e.line, e.reason] : String(e);
  }
  return out;
}

// Cells and separators that meet every branch of the scanner and of csv-parse.
const PIECES = ['1', '2.5', '-3', '-0', '007', '0.1234567890123456', '1e3', '.5', ' 4', 'inf', 'NaN', '', 'x', 'a', 'é', '\xff', '"', '"q"', ',', ',', ',', '\n', '\n', '\r\n', '\r', '2024-01-01', '2024-01-01T00:00:00Z', '2024-02-29 23:59:59.999', '2023-02-29T00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01T24:00:01', '2024-01-01T10:00:00,5Z'];

function encode(parts: readonly string[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) for (const b of p === '\xff' ? [0xff] : enc.encode(p)) out.push(b);
  return Uint8Array.from(out);
}

describe('CSV byte scanner', () => {
  it('property: the scanner and csv-parse give the same batches, rows, offsets and errors on any input, cut anywhere', async () => {
    const header = fc.constantFrom('t,k,v\n', 'v,k,t\r\n', 'k,v\n', 'v\n', '\ufefft,v,k\n');
    const body = fc.array(fc.constantFrom(...PIECES), { maxLength: 60 });
    const options = fc.record({
      time: fc.boolean(),
      key: fc.boolean(),
      onError: fc.constantFrom('fail' as const, 'skip' as const),
      batchSize: fc.integer({ min: 1, max: 4 }),
    });
    await fc.assert(
      fc.asyncProperty(header, body, options, fc.array(fc.nat(), { maxLength: 8 }), async (head, parts, o, rawCuts) => {
        const input = encode([head, ...parts]);
        const names = head.replace('\ufeff', '').trim().split(',');
        const opts: CsvOptions = {
          value: 'v',
          ...(o.time && names.includes('t') ? { time: 't' } : {}),
          ...(o.key && names.includes('k') ? { key: 'k' } : {}),
          onError: o.onError,
          batchSize: o.batchSize,
        };
        const cuts = rawCuts.map((c) => 1 + (c % Math.max(1, input.length - 1)));
        const general = await read(input, [], opts, false);
        expect(await read(input, cuts, opts, true)).toEqual(general);
        expect(await read(input, cuts, opts, false)).toEqual(general);
        expect(await read(input, [], opts, true)).toEqual(general);
      }),
      { numRuns: 1500 },
    );
  });

  it('property: timeText false (window records) gives the same batches, rows, offsets, errors and timeIsDate, only no time text, on both paths', async () => {
    const body = fc.array(fc.constantFrom(...PIECES), { maxLength: 60 });
    await fc.assert(
      fc.asyncProperty(body, fc.integer({ min: 1, max: 4 }), fc.constantFrom('fail' as const, 'skip' as const), fc.array(fc.nat(), { maxLength: 8 }), async (parts, batchSize, onError, rawCuts) => {
        const input = encode(['t,k,v\n', ...parts]);
        const opts: CsvOptions = { value: 'v', time: 't', key: 'k', onError, batchSize };
        const cuts = rawCuts.map((c) => 1 + (c % Math.max(1, input.length - 1)));
        const withText = await read(input, [], opts, false);
        const want = { ...withText, batches: withText.batches.map(({ timeText: _text, ...b }) => b) };
        expect(await read(input, cuts, { ...opts, timeText: false }, true)).toEqual(want);
        expect(await read(input, cuts, { ...opts, timeText: false }, false)).toEqual(want);
      }),
      { numRuns: 500 },
    );
  });

  it('property: keyIds (window records) gives the same batches with each key as keyNames[keyIds[i]], numbered in order of first appearance, on both paths', async () => {
    // Whole rows of cells (so that keys, a non-UTF-8 one too, mostly sit in good rows) among PIECES: tiny and negative
    // zeros, exponents, a long key, a quoted key holding a delimiter.
    const cell = fc.constantFrom('1', '-0', '1e-320', '2E+2', '7.25', '', 'a', 'b', 'é', '\xff', 'K'.repeat(300), '"k,1"');
    const row = fc.tuple(cell, cell, cell, fc.constantFrom('\n', '\r\n')).map(([x, y, z, end]) => [x, ',', y, ',', z, end]);
    const body = fc.array(fc.oneof({ arbitrary: row, weight: 4 }, { arbitrary: fc.constantFrom(...PIECES).map((p) => [p]), weight: 1 }), { maxLength: 30 }).map((rows) => rows.flat());
    const header = fc.constantFrom('t,k,v\n', '\ufeffk,v,t\r\n');
    await fc.assert(
      fc.asyncProperty(header, body, fc.integer({ min: 1, max: 4 }), fc.constantFrom('fail' as const, 'skip' as const), fc.array(fc.nat(), { maxLength: 8 }), async (head, parts, batchSize, onError, rawCuts) => {
        const input = encode([head, ...parts]);
        const opts: CsvOptions = { value: 'v', time: 't', key: 'k', onError, batchSize };
        const cuts = rawCuts.map((c) => 1 + (c % Math.max(1, input.length - 1)));
        const want = await read(input, [], opts, false);
        for (const scan of [true, false]) {
          const got = await readIds(input, cuts, { ...opts, keyIds: true }, scan);
          expect(got).toEqual(want);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('property: keys of every kind (quoted, escaped quotes, empty, non-ASCII, not UTF-8) with CRLF, a BOM and any delimiter read as csv-parse reads them, with and without keyIds, cut anywhere (inside a key, inside a UTF-8 character, one byte at a time)', async () => {
    // Rows mostly of the form the fused row reader takes (numbers, ISO dates, plain keys), with each kind of key
    // and cell it must leave to the general loop; delimiters a number holds (., -, a digit) turn the fused reader off.
    const key = fc.constantFrom('a', 'k1', '', 'é', '日本', '😀', 'x😀y', '\xff', '"q"', '"a""b"', '""', '"k;1"', '"k,1"', 'K'.repeat(70), ' k', 'k ');
    const value = fc.constantFrom('1', '-2.5', '0.125', '007', '1e3', '', 'NaN', '1234567890123456', 'x');
    const time = fc.constantFrom('1', '2', '10.5', '-3', '2024-01-01T00:00:00Z', '2024-01-01 00:00:01.250', 'x', '');
    const end = fc.constantFrom('\n', '\n', '\r\n', '\r');
    const row = fc.tuple(time, key, value, end, fc.constantFrom(0, 0, 0, 1, -1));
    const delimiter = fc.constantFrom(',', ';', '\t', ' ', '.', '-', '5', '|');
    await fc.assert(
      fc.asyncProperty(delimiter, fc.boolean(), fc.array(row, { maxLength: 25 }), fc.integer({ min: 1, max: 5 }), fc.constantFrom('fail' as const, 'skip' as const), fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), async (d, bom, rows, batchSize, onError, rawCuts, byByte) => {
        // A key in quotes holding the delimiter is one cell; a row with a cell too many or too few is refused alike.
        const cells = (r: [string, string, string, string, number]): string => {
          const [t, k, v, e, extra] = r;
          const all = [t, k.replaceAll(',', d).replaceAll(';', d), v];
          return (extra < 0 ? all.slice(0, 2) : extra > 0 ? [...all, '9'] : all).join(d) + e;
        };
        const input = encode([`${bom ? '\ufeff' : ''}t${d}k${d}v\n`, ...rows.map(cells)]);
        const opts: CsvOptions = { value: 'v', time: 't', key: 'k', onError, batchSize, delimiter: d };
        const cuts = byByte ? Array.from({ length: input.length }, (_, i) => i) : rawCuts.map((c) => 1 + (c % Math.max(1, input.length - 1)));
        const want = await read(input, [], opts, false);
        expect(await read(input, cuts, opts, true)).toEqual(want);
        expect(await readIds(input, cuts, { ...opts, keyIds: true }, true)).toEqual(want);
        const noText = { ...want, batches: want.batches.map(({ timeText: _text, ...b }) => b) };
        expect(await readIds(input, cuts, { ...opts, keyIds: true, timeText: false }, true)).toEqual(noText);
      }),
      { numRuns: 700 },
    );
  });

  it('regression: a replay with timeText false still knows the first row had a date (timeIsDate) and refuses a number after it', async () => {
    const input = encode(['t,k,v\n', '2024-01-01T00:00:00Z,a,1\n', '2024-01-01T00:00:01Z,b,2\n', '5,a,3\n']);
    const first = await read(input, [], { value: 'v', time: 't', key: 'k', batchSize: 1, timeText: false }, true);
    const from = first.batches[0]!.end;
    for (const scan of [false, true]) {
      const got = await read(input, [], { value: 'v', time: 't', key: 'k', batchSize: 1, timeText: false, from }, scan);
      expect(got.batches.map((b) => [b.timeIsDate, b.timeText])).toEqual([[true, undefined]]);
      expect(got.error).toEqual([4, 'time "5" is a number, but the first row\'s time is a date (a time column holds numbers or dates, not both)']);
    }
  });

  it('regression: a malformed row followed in the same chunk by broken quoting fails at its own line, not at the quoting', async () => {
    const input = encode(['t,k,v\n', '1,a\n', '2,"b"x,3\n']);
    for (const scan of [false, true]) {
      for (const cuts of [[], [10]]) {
        const got = await read(input, cuts, { value: 'v', key: 'k' }, scan);
        expect(got.error, `scan ${scan}, cuts ${cuts.join()}`).toEqual([2, 'expected 3 fields, got 2: "1,a"']);
      }
    }
  });

  it('property: a replay from every batch end gives the same rows on both paths', async () => {
    const input = encode(['t,k,v\n', '1,a,1\n2,b,2.5\r\n3,a,x\n4,é,\r5,a,-0\n6,b,"7"\n7,a,8\n8,\xff,9\n9,b,10']);
    for (const onError of ['skip', 'fail'] as const) {
      const whole = await read(input, [], { value: 'v', key: 'k', time: 't', onError, batchSize: 1 }, false);
      for (const { end } of whole.batches) {
        const opts: CsvOptions = { value: 'v', key: 'k', time: 't', onError, batchSize: 2, from: end };
        expect(await read(input, [3, 17, 30], opts, true)).toEqual(await read(input, [], opts, false));
      }
    }
  });

  it('property: ISO dates read from bytes (the fast shapes) are exactly what parseIsoDate gives for their text, or left to it', () => {
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    // mostly valid, with every kind of mistake now and then
    const often = <T,>(good: T, ...bad: T[]) => fc.oneof({ arbitrary: fc.constant(good), weight: 8 }, { arbitrary: fc.constantFrom(...bad), weight: 1 });
    const date = fc.tuple(fc.constantFrom('2024', '2023', '1900', '2000', '0000', '0099', '9999', '1970', '20x4'), two(13), two(32));
    const time = fc.tuple(often('T', ' ', 't', '_'), two(25), often(':', '.'), two(60), often(':', ''), two(60));
    const tail = fc.constantFrom('', 'Z', '.000', '.999Z', ',123', '.5Z', '.12', '.1234Z', 'z', '+01:00', ' ', 'Z ');
    let fast = 0;
    fc.assert(
      fc.property(date, time, tail, ([y, mo, d], [sep, h, c1, mi, c2, s], rest) => {
        const text = `${y}-${mo}-${d}${sep}${h}${c1}${mi}${c2}${s}${rest}`;
        const bytes = enc.encode(`,${text},`);
        const t = isoDateBytes(bytes, 1, bytes.length - 1);
        if (t !== undefined) fast++;
        // never another answer than the text path; the common shapes always answered
        if (t !== undefined || /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(Z|[.,]\d{3}Z?)?$/.test(text)) expect(t, text).toBe(parseIsoDate(text));
      }),
      { numRuns: 20_000 },
    );
    expect(fast).toBeGreaterThan(1000);
  });

  it('property: rows read in WASM (csvscan: usual rows of known keys) are the rows csv-parse gives: ISO dates of the fast shapes, valid or not, numbers of up to 17 digits, with and without keyIds and time text, cut anywhere', async () => {
    const two = (min: number, max: number) => fc.integer({ min, max }).map((n) => String(n).padStart(2, '0'));
    // Mostly good (so that runs of rows reach WASM), with every kind of mistake now and then.
    const often = <T,>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 15 }, { arbitrary: bad, weight: 1 });
    const date = fc
      .tuple(
        often(fc.constantFrom('2024', '2023', '1900', '2000', '0000', '0004', '0099', '9999', '1970'), fc.constant('20x4')),
        often(two(1, 12), two(0, 13)),
        often(two(1, 28), two(0, 32)),
        often(fc.constantFrom('T', ' '), fc.constant('t')),
        often(two(0, 23), two(24, 25)),
        often(fc.constant(':'), fc.constant('.')),
        often(two(0, 59), two(0, 60)),
        often(fc.constant(':'), fc.constant('')),
        often(two(0, 59), two(0, 60)),
        often(fc.constantFrom('', 'Z', '.000', '.999Z', ',123'), fc.constantFrom('.5Z', '.12', '.1234Z', 'z')),
      )
      .map(([y, mo, d, sep, h, c1, mi, c2, s, rest]) => `${y}-${mo}-${d}${sep}${h}${c1}${mi}${c2}${s}${rest}`);
    const anyNumber = fc.oneof(fc.stringMatching(/^-?[0-9]{0,17}(\.[0-9]{0,17})?$/), fc.constantFrom('', 'NaN', '1e3', ' 4', '-0'));
    // A quote hands the rest of the input to csv-parse: now and then.
    const key = fc.oneof({ arbitrary: fc.constantFrom('a', 'b', 'sensor-1', 'é', '', 'x y'), weight: 60 }, { arbitrary: fc.constant('k"q'), weight: 1 });
    const number = fc.oneof({ arbitrary: fc.stringMatching(/^-?[0-9]{1,9}(\.[0-9]{0,5})?$/), weight: 15 }, { arbitrary: anyNumber, weight: 1 });
    // A run's times are dates or numbers (the first row decides), the other kind now and then.
    const dateTimes = fc.oneof({ arbitrary: date, weight: 20 }, { arbitrary: number, weight: 1 });
    const numberTimes = fc.oneof({ arbitrary: number, weight: 20 }, { arbitrary: date, weight: 1 });
    const row = (time: fc.Arbitrary<string>) => fc.tuple(time, key, number, fc.oneof({ arbitrary: fc.constant('\n'), weight: 20 }, { arbitrary: fc.constantFrom('\r\n', ',extra\n', '\r'), weight: 1 }));
    const options = fc.record({ keyIds: fc.boolean(), timeText: fc.boolean(), onError: fc.constantFrom('fail' as const, 'skip' as const), batchSize: fc.integer({ min: 1, max: 7 }) });
    const before = wasmRowsRead();
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.array(row(dateTimes), { minLength: 1, maxLength: 40 }), fc.array(row(numberTimes), { minLength: 1, maxLength: 40 })), options, fc.array(fc.nat(), { maxLength: 6 }), async (rows, o, rawCuts) => {
        const input = encode(['t,k,v\n', ...rows.map(([t, k, v, end]) => `${t},${k},${v}${end}`)]);
        const cuts = rawCuts.map((c) => 1 + (c % Math.max(1, input.length - 1)));
        const opts: CsvOptions = { value: 'v', time: 't', key: 'k', onError: o.onError, batchSize: o.batchSize, ...(o.timeText ? {} : { timeText: false }) };
        const reader = o.keyIds ? readIds : read;
        const idOpts: CsvOptions = o.keyIds ? { ...opts, keyIds: true } : opts;
        expect(await reader(input, cuts, idOpts, true)).toEqual(await reader(input, [], idOpts, false));
      }),
      { numRuns: 1500 },
    );
    // Dates at the calendar's edges, each after a row of its key (so that WASM reads it).
    for (const d of ['1900-02-29T00:00:00Z', '2000-02-29T00:00:00Z', '2023-02-29 00:00:00', '2024-02-29T23:59:59.999Z', '0000-01-01T00:00:00Z', '0000-02-29T00:00:00', '0099-12-31T24:00:00Z', '0001-03-01T00:00:00,001', '9999-12-31T23:59:59.999Z', '2024-04-31T00:00:00Z', '2024-01-01T24:00:00.001Z', '2024-13-01T00:00:00Z']) {
      for (const first of ['1970-01-01T00:00:00Z', '5']) {
        const input = encode([`t,k,v\n${first},a,1\n${d},a,2\n${d},a,-3.25\n`]);
        for (const onError of ['fail', 'skip'] as const) {
          const opts: CsvOptions = { value: 'v', time: 't', key: 'k', onError };
          expect(await read(input, [], opts, true), d).toEqual(await read(input, [], opts, false));
        }
      }
    }
    expect(wasmRowsRead() - before).toBeGreaterThan(1000);
  });

  it('property: many rows WASM leaves that fusedRow leaves too (empty and odd values: fusedRow is then no longer tried on most of them) read as csv-parse reads them, with the usual rows between, cut anywhere', async () => {
    const value = fc.oneof({ arbitrary: fc.constant(''), weight: 4 }, { arbitrary: fc.stringMatching(/^-?[0-9]{1,6}(\.[0-9]{0,3})?$/), weight: 4 }, { arbitrary: fc.constantFrom('x', '1e3', 'NaN', ' 4'), weight: 1 });
    const row = fc.tuple(fc.constantFrom('a', 'b', 'sensor-1', 'é', 'x y', 'new'), value, fc.nat({ max: 9 }));
    const options = fc.record({ keyIds: fc.boolean(), onError: fc.constantFrom('fail' as const, 'skip' as const), batchSize: fc.integer({ min: 1, max: 400 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 70, maxLength: 400 }), options, fc.array(fc.nat(), { maxLength: 6 }), async (rows, o, rawCuts) => {
        const input = encode(['t,k,v\n', ...rows.map(([k, v, n], i) => `2024-05-01T00:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.00${n}Z,${k === 'new' ? `k${i}` : k},${v}\n`)]);
        const cuts = rawCuts.map((c) => 1 + (c % Math.max(1, input.length - 1)));
        const opts: CsvOptions = { value: 'v', time: 't', key: 'k', onError: o.onError, batchSize: o.batchSize, ...(o.keyIds ? { keyIds: true } : {}) };
        const reader = o.keyIds ? readIds : read;
        expect(await reader(input, cuts, opts, true)).toEqual(await reader(input, [], opts, false));
      }),
      { numRuns: 150 },
    );
  });

  it('reads simple numbers exactly as the full number grammar does', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^-?[0-9]{0,17}(\.[0-9]{0,17})?$/), (text) => {
        const v = simpleNumber(enc.encode(text), 0, text.length);
        if (v !== undefined) expect(Object.is(v, parseNumberText(text))).toBe(true);
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const text = String(x);
        const v = simpleNumber(enc.encode(text), 0, text.length);
        if (v !== undefined) expect(Object.is(v, Number(text))).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});
