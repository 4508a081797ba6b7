// Connectors: sources (arrays, iterables, WHATWG streams, CSV, NDJSON, Arrow),
// replay from offsets, direct ingest into WASM memory, keyed kernel sets,
// sinks (Node and WHATWG), and durable file output.

import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tableFromArrays, tableToIPC, vectorFromArray, Float64, makeTable } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKernel, type KernelSpec } from '../src/index.js';
import {
  arraySource,
  arrowSource,
  collectResults,
  csvSource,
  iterableSource,
  kernelTransformStream,
  KernelSet,
  MalformedRowError,
  ndjsonSource,
  readableStreamSource,
  runKernels,
  UnknownColumnError,
  writeTextStream,
  type ColumnBatch,
  type NamedOp,
  type SourceOffset,
} from '../src/connectors/index.js';
import { csvFileSource, FileSink, kernelTransform, ndjsonFileSource, writeFileAtomic, writeText, arrowFileSource } from '../src/connectors/node.js';
import { mulberry32 as rng } from './adversarial.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sk-connectors-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Rows {
  ts: number[];
  keys: string[];
  values: number[];
  csv: string;
  ndjson: string;
}

/** Deterministic rows: quoted keys with commas and quotes, NaN gaps, infinities, CRLF lines. */
function makeRows(n: number, seed: number): Rows {
  const r = rng(seed);
  const keyNames = ['a', 'b,c', 'say "hi"', 'd'];
  const rows: Rows = { ts: [], keys: [], values: [], csv: 'ts,key,value,extra\n', ndjson: '' };
  for (let i = 0; i < n; i++) {
    const key = keyNames[Math.floor(r() * keyNames.length)] as string;
    const u = r();
    const value = u < 0.05 ? NaN : u < 0.06 ? Infinity : Math.round((r() - 0.5) * 1e6) / 1e3;
    const ts = 1_700_000_000_000 + i * 250;
    rows.ts.push(ts);
    rows.keys.push(key);
    rows.values.push(value);
    const quoted = /[",]/.test(key) ? `"${key.replaceAll('"', '""')}"` : key;
    const valueText = Number.isNaN(value) ? '' : String(value);
    rows.csv += `${ts},${quoted},${valueText},x${i % 3}${i % 5 === 0 ? '\r\n' : '\n'}`;
    rows.ndjson += `${JSON.stringify({ ts, key, value: Number.isNaN(value) ? null : Number.isFinite(value) ? value : 'Infinity' })}\n`;
    if (i % 97 === 0) rows.ndjson += '\n'; // blank lines are ignored
  }
  return rows;
}

/** Splits bytes into chunks at seeded random places. */
function* chunked(bytes: Uint8Array, seed: number, max: number): Generator<Uint8Array> {
  const r = rng(seed);
  for (let o = 0; o < bytes.length; ) {
    const len = 1 + Math.floor(r() * max);
    yield bytes.subarray(o, o + len);
    o += len;
  }
}

async function gather(batches: AsyncIterable<ColumnBatch>): Promise<{ values: number[]; ts: number[]; keys: string[]; ends: SourceOffset[]; skipped: number }> {
  const out = { values: [] as number[], ts: [] as number[], keys: [] as string[], ends: [] as SourceOffset[], skipped: 0 };
  for await (const b of batches) {
    expect(b.values.length).toBe(b.length);
    out.values.push(...b.values);
    if (b.timestamps) out.ts.push(...b.timestamps);
    if (b.keys) out.keys.push(...b.keys);
    out.ends.push(b.end);
    out.skipped += b.skipped;
  }
  return out;
}

const enc = new TextEncoder();

describe('CSV source', () => {
  const rows = makeRows(3000, 1);

  it('parses typed columns, whatever the chunking and batch size', async () => {
    for (const [seed, max, batchSize] of [[1, 7, 1], [2, 300, 17], [3, 5000, 1000], [4, 1 << 16, 65536]] as const) {
      const got = await gather(csvSource(chunked(enc.encode(rows.csv), seed, max), { value: 'value', time: 'ts', key: 'key', batchSize }));
      expect(got.values).toEqual(rows.values);
      expect(got.ts).toEqual(rows.ts);
      expect(got.keys).toEqual(rows.keys);
      expect(got.ends.at(-1)).toEqual({ bytes: enc.encode(rows.csv).length, rows: 3000, lines: 3001 });
    }
  });

  it('replays from every batch end, seeking in files and reading past in streams', async () => {
    const file = path.join(dir, 'replay.csv');
    writeFileSync(file, rows.csv);
    const source = csvFileSource(file, { value: 'value', key: 'key', batchSize: 700 });
    expect(source.size).toBe(Buffer.byteLength(rows.csv));
    const whole = await gather(source.batches());
    for (const end of whole.ends) {
      const rest = await gather(source.batches(end));
      expect(rest.values).toEqual(rows.values.slice(end.rows));
      expect(rest.keys).toEqual(rows.keys.slice(end.rows));
      const streamed = await gather(csvSource(chunked(enc.encode(rows.csv), end.rows, 999), { value: 'value', key: 'key', batchSize: 700, from: end }));
      expect(streamed.values).toEqual(rest.values);
    }
  });

  it('parses straight into WASM memory with valueBuffer, with results identical to push()', async () => {
    const ops: NamedOp[] = [
      { name: 'mean', spec: { op: 'mean', window: 50, minPeriods: 1 } },
      { name: 'max', spec: { op: 'max', window: 20, minPeriods: 1 } },
    ];
    const set = await KernelSet.create(ops);
    const means: number[] = [];
    const maxes: number[] = [];
    let inWasm = 0;
    let given: Float64Array | undefined;
    const valueBuffer = (n: number): Float64Array => (given = set.inputBuffer(n));
    for await (const batch of csvSource(chunked(enc.encode(rows.csv), 9, 4000), { value: 'value', batchSize: 256, valueBuffer })) {
      // The batch is a view of the kernel's WASM memory (far larger than the batch).
      if (batch.values.buffer === given?.buffer && batch.values.buffer.byteLength >= 65536) inWasm++;
      const [m, x] = await set.process(batch);
      means.push(...(m as Float64Array));
      maxes.push(...(x as Float64Array));
    }
    set.dispose();
    expect(inWasm).toBe(Math.ceil(3000 / 256));
    const expectMean = await (await createKernel(ops[0]!.spec)).push(Float64Array.from(rows.values));
    const expectMax = await (await createKernel(ops[1]!.spec)).push(Float64Array.from(rows.values));
    expect(means).toEqual([...expectMean]);
    expect(maxes).toEqual([...expectMax]);
  });

  it('names a malformed row by its line, after emitting the rows before it', async () => {
    const text = 'a,b\n1,2\n3,4\n"5",x\n7,8\n';
    const seen: number[] = [];
    const err = await (async () => {
      for await (const b of csvSource(text, { value: 'b', batchSize: 1 })) seen.push(...b.values);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MalformedRowError);
    expect((err as MalformedRowError).line).toBe(4);
    expect(String(err)).toMatch(/line 4: value "x" is not a number/);
    expect(seen).toEqual([2, 4]);
    // Wrong field counts and broken quotes too.
    await expect(gather(csvSource('a,b\n1,2\n3\n', { value: 'b' }))).rejects.toThrow(/line 3: expected 2 fields, got 1/);
    await expect(gather(csvSource('a,b\n1,2\n3,"4\n', { value: 'b' }))).rejects.toThrow(MalformedRowError);
  });

  it('skips and counts malformed rows with onError skip', async () => {
    const got = await gather(csvSource('a,b\n1,2\n3,x\n5\n7,8\n9,1e\n', { value: 'b', onError: 'skip' }));
    expect(got.values).toEqual([2, 8]);
    expect(got.skipped).toBe(3);
    expect(got.ends.at(-1)?.rows).toBe(5);
  });

  it('lists the available columns for an unknown one', async () => {
    const err = await gather(csvSource('x,y\n1,2\n', { value: 'z' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownColumnError);
    expect((err as UnknownColumnError).available).toEqual(['x', 'y']);
    expect(String(err)).toMatch(/unknown column "z"; available: "x", "y"/);
  });

  it('reads ISO dates, other delimiters, a BOM and a missing final line end', async () => {
    const got = await gather(csvSource('\ufefft;v\n2024-01-01T00:00:00Z;1\n2024-01-01T00:00:01.5Z;inf', { value: 'v', time: 't', delimiter: ';' }));
    expect(got.ts).toEqual([Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 1, 0, 0, 1, 500)]);
    expect(got.values).toEqual([1, Infinity]);
  });
});

describe('NDJSON source', () => {
  const rows = makeRows(2000, 2);

  it('parses typed columns and replays from every offset', async () => {
    const file = path.join(dir, 'rows.ndjson');
    writeFileSync(file, rows.ndjson);
    const streamed = await gather(ndjsonSource(chunked(enc.encode(rows.ndjson), 5, 200), { value: 'value', time: 'ts', key: 'key', batchSize: 333 }));
    expect(streamed.values).toEqual(rows.values);
    expect(streamed.ts).toEqual(rows.ts);
    expect(streamed.keys).toEqual(rows.keys);
    const source = ndjsonFileSource(file, { value: 'value', key: 'key', batchSize: 333 });
    const whole = await gather(source.batches());
    for (const end of whole.ends.slice(0, -1)) {
      const rest = await gather(source.batches(end));
      expect(rest.values).toEqual(rows.values.slice(end.rows));
    }
  });

  it('names malformed lines and unknown columns', async () => {
    await expect(gather(ndjsonSource('{"v":1}\n{"v":\n', { value: 'v' }))).rejects.toThrow(/line 2: not JSON/);
    await expect(gather(ndjsonSource('{"v":1}\n[1]\n', { value: 'v' }))).rejects.toThrow(/line 2: expected a JSON object/);
    await expect(gather(ndjsonSource('{"v":1}\n{"v":"abc"}\n', { value: 'v' }))).rejects.toThrow(/line 2: value "abc" is not a number/);
    await expect(gather(ndjsonSource('{"w":1}\n', { value: 'v' }))).rejects.toThrow(/unknown column "v"; available: "w"/);
    const skipped = await gather(ndjsonSource('{"v":1}\nnope\n{"v":3}\n', { value: 'v', onError: 'skip' }));
    expect(skipped).toMatchObject({ values: [1, 3], skipped: 1 });
  });
});

describe('Arrow source', () => {
  it('hands Float64 columns over zero-copy and converts the rest', async () => {
    const n = 1000;
    const v = Float64Array.from({ length: n }, (_, i) => i * 0.5);
    const ts = Float64Array.from({ length: n }, (_, i) => i * 1000);
    const bytes = tableToIPC(tableFromArrays({ v, ts, k: Array.from({ length: n }, (_, i) => `k${i % 3}`), i32: Int32Array.from({ length: n }, (_, i) => i) }), 'stream');
    const batches: ColumnBatch[] = [];
    for await (const b of arrowSource(bytes, { value: 'v', time: 'ts', key: 'k' })) batches.push(b);
    expect(batches.length).toBeGreaterThan(0);
    expect(batches[0]!.values.buffer).toBe(bytes.buffer); // zero-copy: a view of the IPC bytes
    const got = await gather(arrowSource(bytes, { value: 'i32', key: 'k' }));
    expect(got.values).toEqual([...Int32Array.from({ length: n }, (_, i) => i)]);
    expect(got.keys.slice(0, 4)).toEqual(['k0', 'k1', 'k2', 'k0']);
    await expect(gather(arrowSource(bytes, { value: 'nope' }))).rejects.toThrow(/unknown column "nope"; available: "v", "ts", "k", "i32"/);
  });

  it('turns nulls into NaN, reads the file format from a file, and replays from a row', async () => {
    const vec = vectorFromArray([1, null, 3, 4, null, 6], new Float64());
    const table = makeTable({ v: Float64Array.from([0]) }).slice(0, 0);
    expect(table.numRows).toBe(0);
    const bytes = tableToIPC(tableFromArrays({ v: Float64Array.from([1, 2, 3, 4, 5, 6]) }), 'file');
    const file = path.join(dir, 't.arrow');
    writeFileSync(file, bytes);
    const source = arrowFileSource(file, { value: 'v' });
    expect((await gather(source.batches())).values).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await gather(source.batches({ bytes: 0, rows: 4, lines: 0 }))).values).toEqual([5, 6]);
    const withNulls = tableToIPC(new (await import('apache-arrow')).Table({ v: vec }), 'stream');
    expect((await gather(arrowSource(withNulls, { value: 'v' }))).values).toEqual([1, NaN, 3, 4, NaN, 6]);
  });
});

describe('in-memory, iterable and WHATWG stream sources', () => {
  it('arraySource batches views and replays from a row', async () => {
    const values = Float64Array.from({ length: 10 }, (_, i) => i);
    const source = arraySource(values, { batchSize: 4, keys: [...'abcdefghij'] });
    const whole = await gather(source.batches());
    expect(whole.values).toEqual([...values]);
    expect(whole.ends.map((e) => e.rows)).toEqual([4, 8, 10]);
    expect((await gather(source.batches(whole.ends[0]))).keys).toEqual([...'efghij']);
  });

  it('iterableSource gathers numbers and passes arrays through; readableStreamSource reads WHATWG streams', async () => {
    async function* gen(): AsyncGenerator<number | Float64Array> {
      yield 1;
      yield 2;
      yield new Float64Array([3, 4]);
      yield 5;
    }
    expect((await gather(iterableSource(gen(), 10))).values).toEqual([1, 2, 3, 4, 5]);
    const stream = new ReadableStream<number[]>({
      start(c) {
        c.enqueue([1, 2]);
        c.enqueue([3]);
        c.close();
      },
    });
    expect((await gather(readableStreamSource(stream))).values).toEqual([1, 2, 3]);
    expect((await gather(iterableSource(Readable.from([7, 8, 9], { objectMode: true }), 2))).ends.map((e) => e.rows)).toEqual([2, 3]);
  });
});

describe('kernels over sources', () => {
  const spec: KernelSpec = { op: 'median', window: 5, minPeriods: 1 };

  it('keyed KernelSets equal one kernel per key, and snapshots resume bit-identically', async () => {
    const rows = makeRows(1500, 3);
    const ops: NamedOp[] = [
      { name: 'median', spec },
      { name: 'ewm', spec: { op: 'ewm', span: 4 } },
    ];
    const all = await collectResults(runKernels(arraySource(rows.values, { keys: rows.keys, batchSize: 128 }), ops, { keyed: true }));
    for (const key of new Set(rows.keys)) {
      const idx = rows.keys.flatMap((k, i) => (k === key ? [i] : []));
      for (const [k, op] of ops.entries()) {
        const kernel = await createKernel(op.spec);
        const expected = kernel.push(Float64Array.from(idx, (i) => rows.values[i]!));
        expect(idx.map((i) => all.columns[k]![i])).toEqual([...expected]);
      }
    }
    // Stop half way, snapshot, restore, go on.
    const set = await KernelSet.create(ops, true);
    const source = arraySource(rows.values, { keys: rows.keys, batchSize: 100 });
    const got: number[] = [];
    let restored: KernelSet | undefined;
    for await (const b of source.batches()) {
      const current: KernelSet = restored ?? set;
      got.push(...((await current.process(b))[0] as Float64Array));
      if (b.end.rows === 700) {
        restored = await KernelSet.restore(ops, set.snapshot());
        set.dispose();
      }
    }
    expect(got).toEqual([...all.columns[0]!]);
    restored?.dispose();
  });

  it('kernelTransformStream (WHATWG) and kernelTransform (Node) give push() results', async () => {
    const values = Float64Array.from({ length: 100 }, (_, i) => Math.sin(i));
    const expected = [...(await createKernel(spec)).push(values)];
    const readable = new ReadableStream<Float64Array>({
      start(c) {
        c.enqueue(values.subarray(0, 30));
        c.enqueue(values.subarray(30));
        c.close();
      },
    });
    const out: number[] = [];
    const reader = readable.pipeThrough(kernelTransformStream(spec)).getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(...r.value);
    expect(out).toEqual(expected);

    const nodeOut: number[] = [];
    await pipeline(Readable.from([values.subarray(0, 50), [...values.subarray(50, 99)], values[99]!], { objectMode: true }), kernelTransform(spec), async function (source: AsyncIterable<Float64Array>) {
      for await (const chunk of source) nodeOut.push(...chunk);
    });
    expect(nodeOut).toEqual(expected);
    await expect(new ReadableStream().pipeThrough(kernelTransformStream({ op: 'mean', window: 0 })).getReader().read()).rejects.toThrow(/window/);
  });

  it('writes CSV to Node Writables and NDJSON to WHATWG WritableStreams', async () => {
    const ops: NamedOp[] = [{ name: 'sum', spec: { op: 'sum', window: 2, minPeriods: 1 } }];
    const source = (): ReturnType<typeof arraySource> => arraySource([1, NaN, Infinity, 4], { keys: ['a', 'b,"', 'a', 'b,"'], batchSize: 3 });
    const sink = new PassThrough();
    const chunks: string[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c.toString()));
    expect(await writeText(runKernels(source(), ops), sink, 'csv', { value: 'v', key: 'k', ops: ['sum'] })).toBe(4);
    expect(chunks.join('')).toBe('k,v,sum\na,1,1\n"b,""",NaN,1\na,Infinity,Infinity\n"b,""",4,Infinity\n');

    const parts: string[] = [];
    const writable = new WritableStream<string>({ write: (s) => void parts.push(s) });
    await writeTextStream(runKernels(source(), ops), writable, 'ndjson', { value: 'v', ops: ['sum'] });
    expect(parts.join('')).toBe('{"v":1,"sum":1}\n{"v":null,"sum":1}\n{"v":"Infinity","sum":"Infinity"}\n{"v":4,"sum":"Infinity"}\n');
  });
});

describe('durable file output', () => {
  it('FileSink truncates to the committed size on resume; writeFileAtomic replaces whole files', async () => {
    const file = path.join(dir, 'out.txt');
    const sink = await FileSink.open(file);
    await sink.write('hello ');
    const committed = await sink.commit();
    await sink.write('uncommitted tail');
    await sink.close();
    expect(readFileSync(file, 'utf8')).toBe('hello uncommitted tail');
    const again = await FileSink.open(file, { resumeAt: committed });
    await again.write('world');
    await again.close();
    expect(readFileSync(file, 'utf8')).toBe('hello world');
    await expect(FileSink.open(file, { resumeAt: 1000 })).rejects.toThrow(/fewer than the 1000 committed/);

    // Text and bytes in any mix, past the 1 MiB flush: the file holds them in order, size counts bytes (é is two).
    const mixed = path.join(dir, 'mixed.txt');
    const m = await FileSink.open(mixed);
    const big = new Uint8Array(1 << 20).fill(0x61);
    await m.write('é,');
    await m.write(new TextEncoder().encode('b\n'));
    expect(m.size).toBe(5);
    await m.write(big);
    await m.write('ü');
    await m.write(new Uint8Array([0x7a]));
    expect(m.size).toBe(5 + big.length + 3);
    await m.close();
    expect(readFileSync(mixed, 'utf8')).toBe(`é,b\n${'a'.repeat(1 << 20)}üz`);

    const target = path.join(dir, 'atomic.bin');
    await writeFileAtomic(target, 'one');
    await writeFileAtomic(target, new Uint8Array([50, 51]));
    expect(readFileSync(target, 'utf8')).toBe('23');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    expect(existsSync(target)).toBe(true);
  });
});
