// Canonical ISO time cells (ColumnOptions.timeText 'unlessIso'): batches that
// leave out their text must give, written from the ms, exactly the text read.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byteChunks, parseIsoDate } from '../src/connectors/columns.js';
import { csvBatches, type CsvOptions } from '../src/connectors/csv.js';
import { MalformedRowError } from '../src/connectors/index.js';
import { isCanonicalIsoText, isoText, writeIso } from '../src/connectors/iso-time.js';
import { AsciiText } from '../src/connectors/format.js';
import { splitAt } from './chunks.js';

const enc = new TextEncoder();
const latin1 = new TextDecoder('latin1');
/** Years 0000 to 9999, in ms. */
const FIRST_MS = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
const LAST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const anyTime = fc.integer({ min: FIRST_MS, max: LAST_MS });

/** Other shapes of the same times, and cells that are no canonical ISO: each is read with its text. */
const OTHER_SHAPES: readonly ((iso: string) => string)[] = [
  (t) => t.replace('T', ' '),
  (t) => t.slice(0, 19) + 'Z',
  (t) => t.slice(0, 23),
  (t) => t.replace('.', ','), // quoted where ',' is the delimiter
  (t) => `"${t}"`,
  (t) => ` ${t}`,
  (t) => t.slice(0, 11) + '24:00:00.000Z',
  (t) => t.slice(0, 10),
  () => 'x',
];

interface Row {
  ms: number;
  shape: number; // -1: canonical
}

async function batches(input: Uint8Array, cuts: readonly number[], options: CsvOptions, scan: boolean) {
  const out: { texts: string[]; values: number[]; ts: number[]; iso: boolean; end: unknown; skipped: number }[] = [];
  let error: unknown;
  try {
    for await (const b of csvBatches(() => byteChunks(splitAt(input, cuts)), false, options, scan)) {
      const ts = [...(b.timestamps ?? [])];
      // A batch without text says so (isoTimes), and its texts are those of its ms.
      if (b.timeText === undefined) expect(b.isoTimes).toBe(true);
      out.push({ texts: b.timeText !== undefined ? [...b.timeText] : ts.map(isoText), values: [...b.values], ts, iso: b.isoTimes === true, end: b.end, skipped: b.skipped });
    }
  } catch (e) {
    error = e instanceof MalformedRowError ? [e.line, e.reason] : String(e);
  }
  return { out, error };
}

describe('canonical ISO times', () => {
  it('property: any time of years 0000–9999: writeIso writes the bytes of toISOString, a text isCanonicalIsoText accepts', () => {
    const text = new AsciiText();
    fc.assert(
      fc.property(fc.array(anyTime, { minLength: 1, maxLength: 20 }), (times) => {
        text.length = 0;
        for (const ms of times) text.iso(ms);
        const want = times.map((ms) => new Date(ms).toISOString());
        expect(latin1.decode(text.view())).toBe(want.join(''));
        for (const t of want) expect(isCanonicalIsoText(t)).toBe(true);
        const one = new Uint8Array(24);
        writeIso(one, 0, times[0]!);
        expect(latin1.decode(one)).toBe(want[0]);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: a date cell is taken as canonical exactly when it is the toISOString of its time', () => {
    fc.assert(
      fc.property(anyTime, fc.integer({ min: -1, max: OTHER_SHAPES.length - 1 }), (ms, shape) => {
        const iso = new Date(ms).toISOString();
        const text = shape < 0 ? iso : OTHER_SHAPES[shape]!(iso);
        const t = parseIsoDate(text);
        if (t === undefined) return;
        expect(isCanonicalIsoText(text)).toBe(new Date(t).toISOString() === text);
      }),
      { numRuns: 3000 },
    );
  });

  it("property: timeText 'unlessIso' gives the same batches, rows, offsets and errors, and each row's time text (as read, or from the ms when the batch says isoTimes), on both paths, cut anywhere", async () => {
    const row = fc.record({ ms: anyTime, shape: fc.integer({ min: -8, max: OTHER_SHAPES.length - 1 }).map((s) => Math.max(s, -1)) });
    await fc.assert(
      fc.asyncProperty(fc.array(row, { maxLength: 80 }), fc.integer({ min: 1, max: 40 }), fc.constantFrom('fail' as const, 'skip' as const), fc.array(fc.nat(), { maxLength: 6 }), fc.constantFrom(',', ';'), async (rows: Row[], batchSize, onError, rawCuts, d) => {
        const lines = rows.map(({ ms, shape }, i) => {
          const iso = new Date(ms).toISOString();
          const cell = shape < 0 ? iso : OTHER_SHAPES[shape]!(iso);
          return `${cell.includes(d) ? `"${cell}"` : cell}${d}k${i % 3}${d}${i}\n`;
        });
        const input = enc.encode(`t${d}k${d}v\n${lines.join('')}`);
        const cuts = rawCuts.map((c) => 1 + (c % Math.max(1, input.length - 1)));
        const opts: CsvOptions = { value: 'v', time: 't', key: 'k', onError, batchSize, delimiter: d };
        const want = await batches(input, [], opts, false);
        expect(want.out.every((b) => !b.iso)).toBe(true);
        for (const scan of [true, false]) {
          const got = await batches(input, cuts, { ...opts, timeText: 'unlessIso' }, scan);
          expect({ ...got, out: got.out.map(({ iso: _iso, ...b }) => b) }).toEqual({ ...want, out: want.out.map(({ iso: _iso, ...b }) => b) });
        }
        // Canonical rows alone: no batch carries text.
        if (rows.length > 0 && rows.every((r) => r.shape < 0)) {
          const got = await batches(input, cuts, { ...opts, timeText: 'unlessIso' }, true);
          expect(got.out.every((b) => b.iso || b.texts.length === 0)).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('writeIso in runs of times (each second\'s bytes made once)', () => {
  it('property: times in runs (within a second, across seconds and days, backwards) are each written as toISOString', () => {
    const steps = fc.array(fc.oneof(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -2000, max: 2000 }), fc.integer({ min: -2 * 86_400_000, max: 2 * 86_400_000 })), { maxLength: 30 });
    const text = new AsciiText();
    fc.assert(
      fc.property(anyTime, steps, (start, moves) => {
        const times = [start];
        for (const d of moves) times.push(Math.min(LAST_MS, Math.max(FIRST_MS, times[times.length - 1]! + d)));
        text.length = 0;
        for (const ms of times) text.iso(ms);
        expect(latin1.decode(text.view())).toBe(times.map((ms) => new Date(ms).toISOString()).join(''));
      }),
      { numRuns: 2000 },
    );
  });
});
