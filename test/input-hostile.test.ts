// Hostile and awkward input for the CSV and NDJSON readers (issue 17, the
// input-parsing items): chunk boundaries anywhere, bytes that are not UTF-8,
// non-finite and impossible times, broken quoting, huge rows and headers.
// Each fixed defect has a test named after it, through the library and the CLI.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AmbiguousColumnError,
  csvSource,
  MalformedRowError,
  ndjsonSource,
  UnknownColumnError,
  type ColumnBatch,
  type ColumnOptions,
} from '../src/connectors/index.js';
import { byteChunks, parseIsoDate } from '../src/connectors/columns.js';
import { csvBatches } from '../src/connectors/csv.js';
import { csvFileSource, ndjsonFileSource } from '../src/connectors/node.js';
import { runCli, type CliRun } from './cli-harness.js';
import { splitAt } from './chunks.js';


/** Runs the CLI in `dir`; `input` goes to stdin, a list of pieces with a pause between each (a live pipe). Exit code and output only. */
async function cli(args: readonly string[], input: Uint8Array | string | readonly string[] = '', env: Record<string, string> = {}): Promise<Omit<CliRun, 'signal'>> {
  const { code, stdout, stderr } = await runCli(args, { cwd: dir, input, env });
  return { code, stdout, stderr };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sk-hostile-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, content: Uint8Array | string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

const enc = new TextEncoder();
const bytes = (...parts: (string | number[])[]): Uint8Array => {
  const all: number[] = [];
  for (const p of parts) all.push(...(typeof p === 'string' ? enc.encode(p) : p));
  return new Uint8Array(all);
};

interface Got {
  values: number[];
  ts: number[];
  keys: string[];
  skipped: number;
  end: ColumnBatch['end'] | undefined;
  error: Error | undefined;
}

/** Every row of a source, and the error that ended it (if any). */
async function gather(batches: AsyncIterable<ColumnBatch>): Promise<Got> {
  const got: Got = { values: [], ts: [], keys: [], skipped: 0, end: undefined, error: undefined };
  try {
    for await (const b of batches) {
      got.values.push(...b.values);
      if (b.timestamps) got.ts.push(...b.timestamps);
      if (b.keys) got.keys.push(...b.keys);
      got.skipped += b.skipped;
      got.end = b.end;
    }
  } catch (e) {
    got.error = e as Error;
  }
  return got;
}

/** The input in chunks cut at `cuts` (byte positions), as a stream would give them. */
async function* split(input: Uint8Array, cuts: readonly number[]): AsyncGenerator<Uint8Array> {
  yield* splitAt(input, cuts);
}

/** `n` bytes of `fill`, in chunks of 1 MiB, never one big string. */
function* filler(n: number, fill = 0x61): Generator<Uint8Array> {
  const mib = new Uint8Array(1 << 20).fill(fill);
  for (let left = n; left > 0; left -= mib.length) yield left >= mib.length ? mib : mib.subarray(0, left);
}

const lineError = (got: Got): [number, string] | undefined =>
  got.error instanceof MalformedRowError ? [got.error.line, got.error.reason] : undefined;

describe('item 2: the header reader is exact for every chunk boundary', () => {
  it('regression: rows are not lost on a live stdin whose first chunk holds the header and a few bytes more', async () => {
    // The first read holds the header and the start of the data.
    const run = await cli(['run', '--value', 'v', '--op', 'sum', '--window', '1'], ['v\n', '1\n', '2\n3\n']);
    expect(run).toEqual({ code: 0, stdout: 'v,sum\n1,1\n2,2\n3,3\n', stderr: '' });
    for (const cuts of [[2], [3], [4], [1, 3], [2, 3, 4]]) {
      const got = await gather(csvSource(split(bytes('v\n1\n2\n3\n'), cuts), { value: 'v' }));
      expect(got.values, `cuts ${cuts.join(',')}`).toEqual([1, 2, 3]);
    }
  });

  it('regression: a file whose header is 65 534–65 535 bytes long is read (no bogus exit 2)', async () => {
    for (const headerBytes of [65_533, 65_534, 65_535, 65_536, 65_537]) {
      // The header line (its '\n' included) ends around the first 64 KiB read.
      const name = 'v'.padEnd(headerBytes - 3, 'x');
      const input = file(`header-${headerBytes}.csv`, `${name},k\n1,a\n2,b\n3,a\n`);
      const run = await cli(['run', input, '--value', name, '--key', 'k', '--op', 'sum', '--window', '1', '--output-format', 'ndjson']);
      expect(run.stderr, `header of ${headerBytes} bytes`).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { sum: number }).sum)).toEqual([1, 2, 3]);
      const got = await gather(csvFileSource(input, { value: name, key: 'k' }).batches());
      expect(got.values).toEqual([1, 2, 3]);
      expect(got.keys).toEqual(['a', 'b', 'a']);
    }
  });

  // A BOM, a quoted header field holding a line break, CRLF and CR line ends,
  // multi-byte UTF-8 keys, quoted fields, missing values, a malformed row.
  const csvInput = bytes(
    [0xef, 0xbb, 0xbf],
    '"t","kéy\n2",v\r\n',
    '1,é,1.5\r\n2,"日本,\r\n 語",2\r\n3,😀,\r\n',
    '4,é,x\n5,"a""b",5\r6,é,-inf\n7,😀,7',
  );
  const ndjsonInput = bytes(
    '{"t":1,"k":"é","v":1.5}\r\n{"t":2,"k":"日本","v":2}\n\n',
    '{"t":3,"k":"😀","v":null}\r\n{"t":4,"k":"é","v":"x"}\n{"t":5,"k":"a\\"b","v":5}\n{"t":6,"k":"😀","v":7}',
  );
  const cutsOf = (input: Uint8Array) => fc.array(fc.integer({ min: 1, max: input.length - 1 }), { maxLength: 12 });

  for (const [format, input, read, key] of [
    ['CSV', csvInput, csvSource, 'kéy\n2'],
    ['NDJSON', ndjsonInput, ndjsonSource, 'k'],
  ] as const) {
    it(`property: any split of the ${format} bytes into chunks gives the same rows, errors and offsets`, async () => {
      for (const onError of ['skip', 'fail'] as const) {
        const options: ColumnOptions = { value: 'v', time: 't', key, onError, batchSize: 2 };
        const whole = await gather(read(input, options));
        if (onError === 'skip') {
          expect(whole.keys).toEqual(['é', format === 'CSV' ? '日本,\r\n 語' : '日本', '😀', 'a"b', 'é', '😀'].filter((_, i) => format === 'CSV' || i !== 4));
          expect(whole.skipped).toBe(1);
        } else {
          expect(lineError(whole)?.[0]).toBe(format === 'CSV' ? 7 : 5);
        }
        await fc.assert(
          fc.asyncProperty(cutsOf(input), async (cuts) => {
            const got = await gather(read(split(input, cuts), options));
            expect({ ...got, error: lineError(got) }).toEqual({ ...whole, error: lineError(whole) });
            if (format === 'CSV') {
              // csv-parse alone (no byte scanner) gives the same, however the bytes are cut.
              const general = await gather(csvBatches(() => byteChunks(split(input, cuts)), false, options, false));
              expect({ ...general, error: lineError(general) }).toEqual({ ...whole, error: lineError(whole) });
            }
          }),
          { numRuns: 300 },
        );
        // Every single cut, too: inside the BOM, the header, a multi-byte char and each CRLF.
        for (let c = 1; c < input.length; c++) {
          const got = await gather(read(split(input, [c]), options));
          expect({ ...got, error: lineError(got) }, `cut at byte ${c}`).toEqual({ ...whole, error: lineError(whole) });
        }
      }
    });
  }
});

describe('item 7: keys that are different bytes stay different', () => {
  const input = bytes('k,v\n', [0xff], ',1\n', [0xfe], ',2\nok,3\n');

  it('regression: CSV keys \\xFF and \\xFE are malformed rows (invalid UTF-8), not merged into one U+FFFD series', async () => {
    const failed = await gather(csvSource(input, { value: 'v', key: 'k' }));
    expect(lineError(failed)).toEqual([2, 'key "\uFFFD" is not valid UTF-8']);
    expect(failed.values).toEqual([]);
    const skipped = await gather(csvSource(input, { value: 'v', key: 'k', onError: 'skip' }));
    expect(skipped.keys).toEqual(['ok']);
    expect(skipped.skipped).toBe(2);
    const run = await cli(['run', '--value', 'v', '--key', 'k', '--op', 'sum', '--window', '2'], input);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('streamkernel run: stdin: line 2: key "\uFFFD" is not valid UTF-8\n');
    const skip = await cli(['run', '--value', 'v', '--key', 'k', '--op', 'sum', '--window', '1', '--on-error', 'skip', '-q'], input);
    expect(skip).toEqual({ code: 0, stdout: 'k,v,sum\nok,3,3\n', stderr: '' });
  });

  it('regression: FF FE at the start of the first data row does not switch the rest of the file to UTF-16', async () => {
    const utf16ish = bytes('k,v\n', [0xff, 0xfe], 'a,1\nb,2\nc,3\n');
    const got = await gather(csvSource(utf16ish, { value: 'v', key: 'k', onError: 'skip' }));
    expect(got.keys).toEqual(['b', 'c']);
    expect(got.values).toEqual([2, 3]);
    expect(got.skipped).toBe(1);
    // A UTF-8 BOM is recognised only at the start of the file: later it is part of the key.
    const bom = await gather(csvSource(bytes([0xef, 0xbb, 0xbf], 'k,v\n', [0xef, 0xbb, 0xbf], 'a,1\na,2\n'), { value: 'v', key: 'k' }));
    expect(bom.keys).toEqual(['\uFEFFa', 'a']);
  });

  it('keeps valid look-alike keys distinct, and a non-ASCII delimiter working (cells are read as bytes)', async () => {
    const got = await gather(csvSource('k§v\né§1\ne\u0301§2\n\uFFFD§3\n', { value: 'v', key: 'k', delimiter: '§' }));
    expect(got.keys).toEqual(['é', 'e\u0301', '\uFFFD']);
    expect(got.values).toEqual([1, 2, 3]);
  });

  it('regression: an NDJSON line that is not UTF-8 is a malformed row, not a key decoded to U+FFFD', async () => {
    const nd = bytes('{"k":"', [0xff], '","v":1}\n{"k":"', [0xfe], '","v":2}\n{"k":"a","v":3}\n');
    expect(lineError(await gather(ndjsonSource(nd, { value: 'v', key: 'k' })))).toEqual([1, 'not valid UTF-8']);
    const skipped = await gather(ndjsonSource(nd, { value: 'v', key: 'k', onError: 'skip' }));
    expect(skipped.keys).toEqual(['a']);
    expect(skipped.skipped).toBe(2);
  });

  it('regression: a CSV header that is not UTF-8 is refused', async () => {
    const got = await gather(csvSource(bytes('k', [0xff], ',v\n1,2\n'), { value: 'v' }));
    expect(lineError(got)).toEqual([1, 'cannot read the header: field 1 "k\uFFFD" is not valid UTF-8']);
  });
});

describe('item 8: a non-finite time is a malformed row', () => {
  const csv = 't,v\n1,1\n1e400,2\n3,3\n-inf,4\n5,5\n';

  it('regression: a non-finite time (1e400, -inf) is a malformed row naming its line, in CSV and NDJSON', async () => {
    expect(lineError(await gather(csvSource(csv, { value: 'v', time: 't' })))).toEqual([3, 'time "1e400" is not a finite number']);
    const skipped = await gather(csvSource(csv, { value: 'v', time: 't', onError: 'skip' }));
    expect(skipped.ts).toEqual([1, 3, 5]);
    expect(skipped.skipped).toBe(2);
    const nd = '{"t":1,"v":1}\n{"t":1e400,"v":2}\n{"t":"-inf","v":3}\n{"t":4,"v":4}\n';
    expect(lineError(await gather(ndjsonSource(nd, { value: 'v', time: 't' })))).toEqual([2, 'time "Infinity" is not a finite number']);
    const ndSkipped = await gather(ndjsonSource(nd, { value: 'v', time: 't', onError: 'skip' }));
    expect(ndSkipped.ts).toEqual([1, 4]);
    expect(ndSkipped.skipped).toBe(2);
  });

  it('regression: a non-finite time fails the CLI run with exit 2 naming the line, and --on-error skip counts it (exit 0, not 4)', async () => {
    const args = ['run', '--value', 'v', '--time', 't', '--op', 'sum', '--window', '1ms'];
    const run = await cli(args, csv);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('streamkernel run: stdin: line 3: time "1e400" is not a finite number\n');
    const skip = await cli([...args, '--on-error', 'skip'], csv);
    expect(skip.code).toBe(0);
    expect(skip.stdout).toBe('t,v,sum\n1,1,1\n3,3,3\n5,5,5\n');
    expect(skip.stderr).toMatch(/2 malformed rows skipped/);
  });
});

describe('item 9: broken CSV quoting names its line', () => {
  it('regression: broken CSV quoting names the line it is on, not the one before', async () => {
    const closing = await gather(csvSource('t,v\n1,1\n2,"2"x\n3,3\n', { value: 'v' }));
    expect(lineError(closing)?.[0]).toBe(3);
    expect(lineError(closing)?.[1]).toMatch(/^Invalid Closing Quote: got "x" at line 3 /);
    expect(closing.values).toEqual([1]);
    // A quote never closed: the row runs to the end of the input, line 4.
    const open = await gather(csvSource('t,v\n1,1\n"2,2\n3,3\n', { value: 'v' }));
    expect(lineError(open)?.[0]).toBe(4);
    expect(lineError(open)?.[1]).toMatch(/at line 4$/);
    const run = await cli(['run', '--value', 'v', '--op', 'sum', '--window', '2'], 't,v\n1,1\n2,"2"x\n3,3\n');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^streamkernel run: stdin: line 3: Invalid Closing Quote: got "x" at line 3 /);
  });

  it('regression: a CSV row skipped for broken quoting never leaves a batch ending inside a row', async () => {
    const text = 't,v\n1,1\n2,a"b\n3,3\n4,"4"x\n5,5\n6,"6\n';
    const lineStarts = [0];
    for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
    const options: ColumnOptions = { value: 'v', onError: 'skip', batchSize: 1 };
    const batches: ColumnBatch[] = [];
    for await (const b of csvSource(text, options)) batches.push({ ...b, values: b.values.slice() });
    expect(batches.length).toBeGreaterThan(2);
    for (const [i, { end }] of batches.entries()) {
      expect(lineStarts, `batch end ${JSON.stringify(end)}`).toContain(end.bytes);
      // A replay from it reads what the whole run read after it.
      const after = batches.slice(i + 1);
      const tail = await gather(csvSource(text, { ...options, from: end }));
      expect({ values: tail.values, skipped: tail.skipped }).toEqual({ values: after.flatMap((b) => [...b.values]), skipped: after.reduce((n, b) => n + b.skipped, 0) });
    }
  });

  it('regression: with onError skip, a row with text after its closing quote is skipped alone, not the rows up to the next quote', async () => {
    const text = 't,v\n1,1\n2,"2"x\n3,3\n4,"4" \n5,5\n6,"6\n';
    const got = await gather(csvSource(text, { value: 'v', time: 't', onError: 'skip' }));
    expect(got.ts).toEqual([1, 3, 5]);
    expect(got.skipped).toBe(3);
    const run = await cli(['run', '--value', 'v', '--op', 'sum', '--window', '1', '--on-error', 'skip', '-q'], text);
    expect(run).toEqual({ code: 0, stdout: 'v,sum\n1,1\n3,3\n5,5\n', stderr: '' });
  });

  it('regression: a CRLF inside a quoted CSV field counts as one line break in line numbers', async () => {
    const text = '"k\r\ney",v\r\n"a\r\nb",1\r\n"c\r\n\r\nd",2\r\ne,x\r\n';
    const got = await gather(csvSource(text, { value: 'v', key: 'k\r\ney', batchSize: 1 }));
    expect(got.keys).toEqual(['a\r\nb', 'c\r\n\r\nd']);
    expect(got.end?.lines).toBe(7);
    expect(lineError(got)?.[0]).toBe(8);
  });

  it('regression: broken quoting in a replay from an offset names the file line', async () => {
    const input = file('replay-quote.csv', 't,v\n1,1\n2,2\n3,"3"x\n');
    const source = csvFileSource(input, { value: 'v', batchSize: 1 });
    const first = source.batches()[Symbol.asyncIterator]();
    const b1 = (await first.next()).value as ColumnBatch;
    await first.return?.();
    expect(lineError(await gather(source.batches(b1.end)))?.[0]).toBe(4);
  });
});

describe('dates and times', () => {
  it('regression: dates without a time zone are read as UTC, whatever TZ the machine has', async () => {
    const csv = 't,v\n2024-03-10,1\n2024-03-10T01:30:00,2\n2024-03-10 03:30,3\n2024-03-10T12:00:00.123456+02:30,4\n';
    const runs = await Promise.all(
      ['America/New_York', 'Asia/Kolkata', 'UTC'].map((TZ) => cli(['run', '--value', 'v', '--time', 't', '--op', 'count', '--window', '2h'], csv, { TZ })),
    );
    for (const run of runs) expect(run).toEqual(runs[2]);
    expect(runs[2]?.stdout).toBe(`t,v,count\n${csv.split('\n').slice(1, -1).map((l, i) => `${l},${[1, 2, 1, 1][i]}`).join('\n')}\n`);
    const got = await gather(csvSource(csv, { value: 'v', time: 't' }));
    expect(got.ts).toEqual([
      Date.UTC(2024, 2, 10),
      Date.UTC(2024, 2, 10, 1, 30),
      Date.UTC(2024, 2, 10, 3, 30),
      Date.UTC(2024, 2, 10, 12, 0, 0, 123) - 150 * 60_000,
    ]);
  });

  it('regression: 2024-02-30 is a malformed row, not March 1', async () => {
    expect(lineError(await gather(csvSource('t,v\n2024-02-29,1\n2024-02-30,2\n', { value: 'v', time: 't' })))).toEqual([
      3,
      'time "2024-02-30" is neither a number nor a date',
    ]);
    for (const bad of ['2023-02-29', '2024-04-31', '2024-13-01', '2024-00-10', '2024-01-01T25:00', '2024-01-01T23:60', '2024-01-01T23:59:60', '2024-01-01T24:00:01', '2024-01-01T10:00+24:00', 'Mar 1 2024', '2024/03/01']) {
      expect(parseIsoDate(bad), bad).toBeUndefined();
    }
    expect(parseIsoDate('2024-01-01T24:00')).toBe(Date.UTC(2024, 0, 2));
    expect(parseIsoDate('0050-06-01T00:00:00Z')).toBe(Date.parse('0050-06-01T00:00:00Z'));
    expect(parseIsoDate('+275760-09-13T00:00:00Z')).toBe(8.64e15);
    expect(parseIsoDate('+275760-09-13T00:00:00.001Z')).toBeUndefined();
    expect(parseIsoDate('2024-01-01T00:00:00-05:00')).toBe(Date.parse('2024-01-01T00:00:00-05:00'));
  });

  it('regression: a time column mixing numbers and dates is a malformed row naming the line (the first row decides)', async () => {
    expect(lineError(await gather(csvSource('t,v\n1,1\n2024-01-01,2\n', { value: 'v', time: 't' })))).toEqual([
      3,
      `time "2024-01-01" is a date, but the first row's time is a number (a time column holds numbers or dates, not both)`,
    ]);
    expect(lineError(await gather(ndjsonSource('{"t":"2024-01-01","v":1}\n{"t":5,"v":2}\n', { value: 'v', time: 't' })))?.[0]).toBe(2);
    const skipped = await gather(csvSource('t,v\n2024-01-01,1\n7,2\n2024-01-02,3\n', { value: 'v', time: 't', onError: 'skip' }));
    expect(skipped.values).toEqual([1, 3]);
    const run = await cli(['run', '--value', 'v', '--time', 't', '--op', 'sum', '--window', '1d'], 't,v\n2024-01-01,1\n7,2\n');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^streamkernel run: stdin: line 3: time "7" is a number, but the first row's time is a date/);
  });
});

describe('time format on a replay', () => {
  it('regression: a file source resumed from an offset keeps the first row\'s time format (a date right after it is still refused)', async () => {
    for (const [name, text, source] of [
      ['mixed.csv', 't,v\n1,1\n2,2\n2024-01-01,3\n', csvFileSource],
      ['mixed.ndjson', '{"t":1,"v":1}\n{"t":"2","v":2}\n{"t":"2024-01-01","v":3}\n', ndjsonFileSource],
    ] as const) {
      const src = source(file(name, text), { value: 'v', time: 't', batchSize: 2 });
      const whole = await gather(src.batches());
      const it = src.batches()[Symbol.asyncIterator]();
      const first = (await it.next()).value as ColumnBatch;
      await it.return?.();
      const resumed = await gather(src.batches(first.end));
      expect(lineError(resumed), name).toEqual(lineError(whole));
      expect(lineError(resumed)?.[1]).toMatch(/^time "2024-01-01" is a date, but the first row's time is a number/);
    }
    // A replay from before any row was read lets its first row decide.
    const dates = csvFileSource(file('dates.csv', 't,v\n2024-01-01,1\n2024-01-02,2\n'), { value: 'v', time: 't', batchSize: 1 });
    expect((await gather(dates.batches({ bytes: 4, rows: 0, lines: 1 }))).values).toEqual([1, 2]);
  });
});

describe('huge rows and headers', () => {
  const LIMIT = 1 << 24;

  it('regression: a CSV line longer than 16 MiB is refused as a malformed row naming its line, without building it', async () => {
    async function* input(): AsyncGenerator<Uint8Array> {
      yield enc.encode('k,v\na,1\nb,2\n');
      yield* filler(LIMIT + 10);
      yield enc.encode(',3\nc,4\n');
    }
    for (const onError of ['fail', 'skip'] as const) {
      const got = await gather(csvSource(input(), { value: 'v', key: 'k', onError }));
      expect(lineError(got)).toEqual([4, 'row longer than 16777216 bytes (16 MiB)']);
      expect(got.values).toEqual([1, 2]);
    }
    // One chunk holding it all (a string in memory) is cut before csv-parse sees it.
    const big = `k,v\na,1\n${'x'.repeat(LIMIT + 1)},2\n`;
    expect(lineError(await gather(csvSource(big, { value: 'v', key: 'k' })))?.[0]).toBe(3);
    // Rows of exactly 16 MiB (their line end included) are fine, one byte more is not, however chunked.
    for (const size of [1 << 16, 1 << 25]) {
      const atLimit = enc.encode(`v,k\n1,${'y'.repeat(LIMIT - 3)}\n2,z\n`);
      const ok = await gather(csvSource(split(atLimit, Array.from({ length: 600 }, (_, i) => (i + 1) * size)), { value: 'v', key: 'k' }));
      expect(ok.values, `chunks of ${size}`).toEqual([1, 2]);
      const over = enc.encode(`v,k\n1,${'y'.repeat(LIMIT - 2)}\n2,z\n`);
      const refused = await gather(csvSource(split(over, Array.from({ length: 600 }, (_, i) => (i + 1) * size)), { value: 'v', key: 'k' }));
      expect(lineError(refused), `chunks of ${size}`).toEqual([2, 'row longer than 16777216 bytes (16 MiB)']);
    }
  });

  it('regression: the CLI refuses a CSV line longer than 16 MiB with exit 2 naming the line', async () => {
    const input = file('long-line.csv', `v\n1\n2\n${'9'.repeat(LIMIT + 5)}\n4\n`);
    const run = await cli(['run', input, '--value', 'v', '--op', 'sum', '--window', '2']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^streamkernel run: ".*long-line\.csv": line 4: row longer than 16777216 bytes \(16 MiB\)\n$/);
  });

  it('regression: a header longer than 16 MiB is refused, and an NDJSON line too (even with onError skip)', async () => {
    async function* header(): AsyncGenerator<Uint8Array> {
      yield* filler(LIMIT + 10);
      yield enc.encode(',v\n1,2\n');
    }
    expect(lineError(await gather(csvSource(header(), { value: 'v' })))).toEqual([1, 'cannot read the header: row longer than 16777216 bytes (16 MiB)']);
    async function* nd(): AsyncGenerator<Uint8Array> {
      yield enc.encode('{"v":1}\n{"v":"');
      yield* filler(LIMIT + 10);
      yield enc.encode('"}\n{"v":3}\n');
    }
    const got = await gather(ndjsonSource(nd(), { value: 'v', onError: 'skip' }));
    expect(lineError(got)).toEqual([2, 'row longer than 16777216 bytes (16 MiB)']);
    expect(got.values).toEqual([1]);
    expect(got.skipped).toBe(0);
  });

  it('regression: an unknown-column error lists only the first header names, each cut, and how many more', async () => {
    const names = Array.from({ length: 5000 }, (_, i) => `col${i}_${'z'.repeat(200)}`);
    const got = await gather(csvSource(`${names.join(',')}\n`, { value: 'nope' }));
    expect(got.error).toBeInstanceOf(UnknownColumnError);
    const message = (got.error as Error).message;
    expect(message.length).toBeLessThan(2000);
    expect(message).toContain(`"col0_${'z'.repeat(55)}…"`);
    expect(message).toMatch(/"col19_z+…", … 4980 more$/);
    expect((got.error as UnknownColumnError).available).toHaveLength(5000);
    const run = await cli(['run', '--value', 'nope', '--op', 'sum', '--window', '2'], `${names.join(',')}\n1\n`);
    expect(run.code).toBe(1);
    expect(run.stderr.length).toBeLessThan(2000);
  });

  it('regression: selecting a column whose name the header has twice is refused (exit 1 naming the column and positions)', async () => {
    const csv = 'v,k,v\n1,a,2\n';
    const got = await gather(csvSource(csv, { value: 'v' }));
    expect(got.error).toBeInstanceOf(AmbiguousColumnError);
    expect((got.error as AmbiguousColumnError).positions).toEqual([1, 3]);
    expect(got.error?.message).toBe('ambiguous column "v": fields 1, 3 of the header all have this name');
    // A column named once is fine, even when another name repeats.
    expect((await gather(csvSource(csv, { value: 'k', onError: 'skip' }))).skipped).toBe(1);
    const run = await cli(['run', '--value', 'v', '--op', 'sum', '--window', '2'], csv);
    expect(run).toEqual({ code: 1, stdout: '', stderr: 'streamkernel run: stdin: ambiguous column "v": fields 1, 3 of the header all have this name\n' });
  });
});
