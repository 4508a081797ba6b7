// `streamkernel run` and `streamkernel bench` end to end: each test spawns
// `node bin/streamkernel.js …` (the compiled CLI in dist/, built by `npm test`)
// and compares its output with the library's results computed in-process.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKernel, rollingByTime, type KernelSpec } from '../src/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'streamkernel.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: readonly string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => undefined);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.end(input ?? '');
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sk-run-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, content: string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

interface Data {
  ts: number[];
  keys: string[];
  values: number[];
  csv: string;
}

/** Sensor rows: 3 keys, NaN gaps (empty cells), an infinity, timestamps in time order per key. */
function sensors(n: number): Data {
  const d: Data = { ts: [], keys: [], values: [], csv: 'ts,sensor,temp\n' };
  let s = 7;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const key = ['s1', 's2', 's,3'][s % 3] as string;
    const value = s % 17 === 0 ? NaN : i === 50 ? Infinity : ((s % 20000) - 10000) / 64;
    const ts = 1_000 * i + (s % 500);
    d.ts.push(ts);
    d.keys.push(key);
    d.values.push(value);
    d.csv += `${ts},${key.includes(',') ? `"${key}"` : key},${Number.isNaN(value) ? '' : value}\n`;
  }
  return d;
}

async function perKey(data: Data, spec: KernelSpec): Promise<number[]> {
  const out = new Array<number>(data.values.length);
  for (const key of new Set(data.keys)) {
    const idx = data.keys.flatMap((k, i) => (k === key ? [i] : []));
    const kernel = await createKernel(spec);
    const r = kernel.push(Float64Array.from(idx, (i) => data.values[i]!));
    idx.forEach((i, j) => (out[i] = r[j]!));
    kernel.dispose();
  }
  return out;
}

const csvCell = (s: string): string => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

describe('streamkernel run', () => {
  const data = sensors(5000);

  it('runs several keyed ops over a CSV file, as the library computes them per key', async () => {
    const input = file('sensors.csv', data.csv);
    const run = await cli(['run', input, '--value', 'temp', '--time', 'ts', '--key', 'sensor', '--op', 'mean', '--op', 'std', '--op', 'median', '--window', '20', '--min-periods', '1', '--batch-size', '999']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(''); // quiet when stderr is not a terminal
    const mean = await perKey(data, { op: 'mean', window: 20, minPeriods: 1 });
    const std = await perKey(data, { op: 'std', window: 20, minPeriods: 1 });
    const median = await perKey(data, { op: 'median', window: 20, minPeriods: 1 });
    let expected = 'ts,sensor,temp,mean,std,median\n';
    data.values.forEach((v, i) => {
      expected += `${data.ts[i]},${csvCell(data.keys[i]!)},${String(v)},${String(mean[i])},${String(std[i])},${String(median[i])}\n`;
    });
    expect(run.stdout).toBe(expected);
  });

  it('runs unkeyed ops from stdin (with ewm) and writes NDJSON to a file', async () => {
    const out = path.join(dir, 'out.ndjson');
    const run = await cli(['run', '--value', 'temp', '--op', 'max', '--op', 'ewm', '--window', '7', '--span', '5', '-o', out], data.csv);
    expect(run).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const max = (await createKernel({ op: 'max', window: 7 })).push(Float64Array.from(data.values));
    const ewm = (await createKernel({ op: 'ewm', span: 5 })).push(Float64Array.from(data.values));
    const json = (x: number): unknown => (Number.isNaN(x) ? null : Number.isFinite(x) ? x : x > 0 ? 'Infinity' : '-Infinity');
    expect(lines.length).toBe(data.values.length);
    lines.forEach((l, i) => expect(l).toEqual({ temp: json(data.values[i]!), max: json(max[i]!), ewm: json(ewm[i]!) }));
  });

  it('runs time windows per key, as rollingByTime does', async () => {
    const input = file('ndjson-in.ndjson', data.values.map((v, i) => JSON.stringify({ t: data.ts[i], k: data.keys[i], v: Number.isFinite(v) ? v : Number.isNaN(v) ? null : 'inf' })).join('\n'));
    const run = await cli(['run', input, '--value', 'v', '--time', 't', '--key', 'k', '--op', 'sum', '--op', 'last', '--window', '30s', '--output-format', 'csv']);
    expect(run.code).toBe(0);
    const sum = await rollingByTime(data.ts, data.values, { op: 'sum', window: '30s', keys: 'string' }, data.keys);
    const last = await rollingByTime(data.ts, data.values, { op: 'last', window: '30s', keys: 'string' }, data.keys);
    const rows = run.stdout.trimEnd().split('\n');
    expect(rows[0]).toBe('t,k,v,sum,last');
    expect(rows.length).toBe(data.values.length + 1);
    rows.slice(1).forEach((line, i) => expect(line.slice(line.lastIndexOf(',', line.lastIndexOf(',') - 1) + 1)).toBe(`${String(sum[i])},${String(last[i])}`));
  });

  it('places rows within --max-out-of-order in time order, keeps input order in the output, and reports late rows', async () => {
    // data's timestamps shuffled by up to 4 s (rows 1 s apart): disorder within the bound of 3 s, and some beyond it.
    let s = 11;
    const ts = data.ts.map((t) => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return t - (s % 4000);
    });
    const bound = 3000;
    const max = new Map<string, number>();
    const late = new Set<number>();
    let reordered = 0;
    ts.forEach((t, i) => {
      const m = max.get(data.keys[i]!);
      if (m !== undefined && t < m - bound) late.add(i);
      else if (m !== undefined && t < m) reordered++;
      else max.set(data.keys[i]!, t);
    });
    expect(late.size).toBeGreaterThan(0);
    expect(reordered).toBeGreaterThan(late.size);
    const kept = data.values.flatMap((_, i) => (late.has(i) ? [] : [i]));
    const input = file('ooo.csv', `t,k,v\n${data.values.map((v, i) => `${ts[i]},${csvCell(data.keys[i]!)},${Number.isNaN(v) ? '' : v}\n`).join('')}`);
    const args = ['run', input, '--value', 'v', '--time', 't', '--key', 'k', '--op', 'mean', '--op', 'median', '--window', '10s', '--max-out-of-order', '3s', '--batch-size', '123'];

    // The library with the same bound, over the rows that are not late: results in row order.
    const keptTs = kept.map((i) => ts[i]!);
    const keptValues = kept.map((i) => data.values[i]!);
    const keptKeys = kept.map((i) => data.keys[i]!);
    const mean = await rollingByTime(keptTs, keptValues, { op: 'mean', window: '10s', keys: 'string', maxOutOfOrderness: bound }, keptKeys);
    const median = await rollingByTime(keptTs, keptValues, { op: 'median', window: '10s', keys: 'string', maxOutOfOrderness: bound }, keptKeys);
    let expected = 't,k,v,mean,median\n';
    kept.forEach((i, j) => (expected += `${ts[i]},${csvCell(data.keys[i]!)},${String(data.values[i])},${String(mean[j])},${String(median[j])}\n`));

    const skip = await cli([...args, '--on-error', 'skip']);
    expect(skip.code).toBe(0);
    expect(skip.stdout).toBe(expected);
    const lateText = late.size === 1 ? '1 late row' : `${late.size} late rows`;
    expect(skip.stderr).toMatch(new RegExp(`^streamkernel run: ${kept.length.toLocaleString('en-US')} rows, ${reordered.toLocaleString('en-US')} out-of-order rows put in order, ${lateText} \\(more than 3s out of order\\) skipped; 2 ops in`));
    // Batching never changes the output.
    expect((await cli([...args.slice(0, -2), '--batch-size', '5000', '--on-error', 'skip'])).stdout).toBe(expected);

    // With --on-error fail (the default): exit 2 naming the first late row's line (line 1 is the header).
    const first = Math.min(...late);
    const fail = await cli(args);
    expect(fail.code).toBe(2);
    expect(fail.stderr).toBe(
      `streamkernel run: ${JSON.stringify(input)}: line ${first + 2}: time ${ts[first]} of key ${JSON.stringify(data.keys[first])} is more than --max-out-of-order 3s behind the key's latest time\n`,
    );

    // In-order input: the same output with and without the bound.
    const ordered = file('ordered.csv', data.csv);
    const plain = await cli(['run', ordered, '--value', 'temp', '--time', 'ts', '--key', 'sensor', '--op', 'max', '--window', '5s']);
    const bounded = await cli(['run', ordered, '--value', 'temp', '--time', 'ts', '--key', 'sensor', '--op', 'max', '--window', '5s', '--max-out-of-order', '2s', '--batch-size', '77']);
    expect(plain.code).toBe(0);
    expect(bounded).toEqual(plain);

    for (const [extra, message] of [
      [['--window', '5', '--max-out-of-order', '1s'], /--max-out-of-order applies only to time windows/],
      [['--window', '5s', '--time', 't', '--max-out-of-order', '5'], /--max-out-of-order needs a unit/],
      [['--window', '5s', '--time', 't', '--max-out-of-order', 'soon'], /--max-out-of-order must be a duration/],
    ] as const) {
      const r = await cli(['run', '--value', 'v', '--op', 'sum', ...extra]);
      expect(r.code, extra.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
    }
  });

  it('reports errors with documented exit codes and leaves no half-written output', async () => {
    const missing = await cli(['run', path.join(dir, 'nope.csv'), '--value', 'v', '--op', 'sum', '--window', '3']);
    expect(missing).toMatchObject({ code: 3, stdout: '' });
    expect(missing.stderr).toMatch(/^streamkernel run: cannot open ".*nope\.csv": no such file or directory\n$/);

    const input = file('small.csv', 'a,b,c\n1,2,3\n4,5,6\n7,x,9\n10,11,12\n');
    const unknown = await cli(['run', input, '--value', 'd', '--op', 'sum', '--window', '3']);
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    expect(unknown.stderr).toMatch(/unknown column "d"; available: "a", "b", "c"\n$/);

    const out = path.join(dir, 'never.csv');
    const malformed = await cli(['run', input, '--value', 'b', '--op', 'sum', '--window', '2', '-o', out]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/^streamkernel run: ".*small\.csv": line 4: value "x" is not a number\n$/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);

    const skip = await cli(['run', input, '--value', 'b', '--op', 'sum', '--window', '2', '--on-error', 'skip']);
    expect(skip.code).toBe(0);
    expect(skip.stdout).toBe('b,sum\n2,NaN\n5,7\n11,16\n');
    expect(skip.stderr).toMatch(/^streamkernel run: 3 rows, 1 malformed row skipped; 1 op in [\d.]+ s/);

    const outOfOrder = await cli(['run', '--value', 'v', '--time', 't', '--op', 'sum', '--window', '1s'], 't,v\n1,1\n3,2\n2,3\n');
    expect(outOfOrder.code).toBe(2);
    expect(outOfOrder.stderr).toMatch(/^streamkernel run: stdin: line 4: time 2 is before the previous time \(time windows need each key's rows in time order; --max-out-of-order DURATION accepts bounded disorder\)\n$/);

    for (const [args, message] of [
      [['run', '--value', 'v', '--window', '3'], /missing --op/],
      [['run', '--value', 'v', '--op', 'mean'], /missing --window/],
      [['run', '--value', 'v', '--op', 'mean', '--window', '5s'], /a time window needs --time/],
      [['run', '--value', 'v', '--op', 'first', '--window', '5'], /op first needs a time window/],
      [['run', '--value', 'v', '--op', 'mean', '--op', 'mean', '--window', '5'], /--op mean given more than once/],
      [['run', '--value', 'v', '--op', 'mean', '--window', '5', '--checkpoint', 'ck'], /--checkpoint needs an input FILE/],
      [['run', 'in.csv', '--value', 'v', '--op', 'mean', '--window', '5', '--checkpoint', 'ck'], /--checkpoint needs --output FILE/],
      [['run', '--value', 'v', '--op', 'ewm', '--window', '5'], /op ewm needs exactly one of --alpha/],
      [['run', '--value', 'v', '--op', 'mean', '--window', '5', '--on-error', 'maybe'], /--on-error must be fail or skip/],
    ] as const) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/\(see 'streamkernel run --help'\)\n$/);
    }
  });

  it('shows a progress bar and a summary with --progress, and nothing when piped', async () => {
    const input = file('progress.csv', data.csv);
    const run = await cli(['run', input, '--value', 'temp', '--op', 'sum', '--window', '3', '--batch-size', '500', '--progress', '-o', path.join(dir, 'p.csv')]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/\r\x1b\[2K\[#+\.*\] +\d+\.\d%  [\d.]+ KiB \/ [\d.]+ KiB  [\d.]+ k? ?M? ?rows\/s  ETA \d+:\d\d/);
    expect(run.stderr).toMatch(/streamkernel run: 5,000 rows; 1 op in [\d.]+ s \([\d.]+ [kM]? ?rows\/s\) → .*p\.csv\n$/);
    const quiet = await cli(['run', input, '--value', 'temp', '--op', 'sum', '--window', '3', '-q', '-o', path.join(dir, 'q.csv')]);
    expect(quiet).toMatchObject({ code: 0, stderr: '', stdout: '' });
  });

  it('keeps the help and lists run and bench', async () => {
    const help = await cli(['run', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: streamkernel run/);
    expect((await cli(['--help'])).stdout).toMatch(/\n  run       the main job/);
    expect((await cli(['help', 'bench'])).stdout).toMatch(/^Usage: streamkernel bench/);
  });
});

describe('streamkernel run --workers', () => {
  const data = sensors(4000);
  const keyedArgs = (input: string): string[] => ['run', input, '--value', 'temp', '--time', 'ts', '--key', 'sensor', '--op', 'mean', '--op', 'std', '--op', 'median', '--op', 'ewm', '--span', '4', '--window', '15', '--batch-size', '321'];

  it('gives keyed count windows with several ops byte for byte the output of --workers 1 (N = 2 and 3)', async () => {
    const input = file('workers-keyed.csv', data.csv);
    const one = await cli(keyedArgs(input));
    expect(one.code).toBe(0);
    expect(one.stdout.split('\n').length).toBe(data.values.length + 2);
    const mean = await perKey(data, { op: 'mean', window: 15 });
    one.stdout.split('\n').slice(1, -1).forEach((line, i) => expect(line.split(',').at(-4), `row ${i}`).toBe(String(mean[i])));
    for (const n of ['2', '3']) {
      const par = await cli([...keyedArgs(input), '--workers', n]);
      expect(par, `--workers ${n}`).toEqual({ code: 0, stdout: one.stdout, stderr: '' });
    }
    // To a file, as NDJSON: the same bytes as --workers 1 writes.
    const outs = await Promise.all(
      ['1', '3'].map(async (n) => {
        const out = path.join(dir, `workers-${n}.ndjson`);
        expect((await cli([...keyedArgs(input), '--workers', n, '-o', out])).code).toBe(0);
        return readFileSync(out);
      }),
    );
    expect(outs[1]!.equals(outs[0]!)).toBe(true);
  });

  it('gives unkeyed count windows the output of --workers 1, from a file and from stdin', async () => {
    const input = file('workers-unkeyed.csv', data.csv);
    const args = ['--value', 'temp', '--op', 'sum', '--op', 'max', '--op', 'quantile', '--q', '0.3', '--window', '9', '--min-periods', '2', '--batch-size', '700'];
    const one = await cli(['run', input, ...args]);
    expect(one.code).toBe(0);
    const sum = (await createKernel({ op: 'sum', window: 9, minPeriods: 2 })).push(Float64Array.from(data.values));
    expect(one.stdout.split('\n')[100]!.split(',')[1]).toBe(String(sum[99]));
    for (const n of ['2', '3']) {
      expect(await cli(['run', input, ...args, '--workers', n]), `--workers ${n}`).toEqual({ code: 0, stdout: one.stdout, stderr: '' });
    }
    expect(await cli(['run', ...args, '--workers', '2'], data.csv)).toEqual({ code: 0, stdout: one.stdout, stderr: '' });
  });

  // Regression: KernelOperator.growSlots (src/scheduler/operator.ts) replaced `touched` with an empty
  // array, so a worker whose keys passed 256 within a batch lost the keys it had seen in that batch.
  it('keeps the output of --workers 1 with more than 256 keys per worker (growing the key table mid-batch dropped the keys it had touched)', async () => {
    let csv = 'k,v\n';
    for (let i = 0; i < 6000; i++) csv += `key${(i * 7919) % 800},${i % 97}\n`;
    const input = file('workers-many-keys.csv', csv);
    const args = ['run', input, '--value', 'v', '--key', 'k', '--op', 'mean', '--window', '10'];
    const one = await cli(args);
    expect(one.code).toBe(0);
    // --workers 3: two worker threads, each with its share of the keys (--workers 2 runs one).
    for (const workers of ['2', '3']) expect(await cli([...args, '--workers', workers]), `--workers ${workers}`).toEqual(one);
  });

  it('refuses bad --workers counts, and --max-out-of-order with a count window on any number of workers', async () => {
    const input = file('workers-refused.csv', data.csv);
    const base = ['run', input, '--value', 'temp', '--op', 'sum'];
    for (const [extra, message] of [
      [['--window', '5', '--max-out-of-order', '1s', '--workers', '2'], '--max-out-of-order applies only to time windows (--window 5s --time COLUMN)'],
      [['--window', '5', '--workers', '0'], '--workers must be an integer from 1 to 128, got "0"'],
      [['--window', '5', '--workers', '1.5'], '--workers must be an integer from 1 to 128, got "1.5"'],
    ] as const) {
      const r = await cli([...base, ...extra]);
      expect(r, extra.join(' ')).toEqual({ code: 1, stdout: '', stderr: `streamkernel run: ${message} (see 'streamkernel run --help')\n` });
    }
  });

  it('regression: --workers > 1 with a time window (--window DURATION) was refused; it gives the bytes of --workers 1, keyed or not, every closed side', async () => {
    const input = file('workers-time.csv', data.csv);
    for (const extra of [
      ['--key', 'sensor', '--op', 'mean', '--op', 'median', '--op', 'std', '--window', '5s'],
      ['--key', 'sensor', '--op', 'count', '--op', 'max', '--window', '3s', '--closed', 'both', '--min-periods', '2'],
      ['--op', 'sum', '--op', 'quantile', '--q', '0.3', '--window', '4s', '--closed', 'left'],
    ]) {
      const args = ['run', input, '--value', 'temp', '--time', 'ts', ...extra, '--batch-size', '97'];
      const one = await cli([...args, '--workers', '1']);
      expect(one.code, extra.join(' ')).toBe(0);
      for (const workers of ['2', '3']) expect(await cli([...args, '--workers', workers]), `${extra.join(' ')} --workers ${workers}`).toEqual(one);
    }
  });

  it('regression: --workers > 1 with --max-out-of-order was refused; it gives the bytes of --workers 1, late and reordered rows counted alike', async () => {
    // Up to 8 s of jitter against a bound of 3 s: disorder within the bound, and some beyond it.
    let s = 11;
    const ts = data.ts.map((t) => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return t - (s % 8000);
    });
    const input = file('workers-ooo.csv', `t,k,v\n${data.values.map((v, i) => `${ts[i]},${csvCell(data.keys[i]!)},${Number.isNaN(v) ? '' : v}\n`).join('')}`);
    const args = ['run', input, '--value', 'v', '--time', 't', '--key', 'k', '--op', 'mean', '--op', 'median', '--window', '10s', '--max-out-of-order', '3s', '--on-error', 'skip', '--batch-size', '123'];
    const strip = (r: Run): Run => ({ ...r, stderr: r.stderr.replace(/ in [\d.]+ s \(.*$/s, '') });
    const one = await cli([...args, '--workers', '1']);
    expect(one.code).toBe(0);
    expect(one.stderr).toMatch(/out-of-order rows put in order, [\d,]+ late rows? \(more than 3s out of order\) skipped/);
    for (const workers of ['2', '4']) expect(strip(await cli([...args, '--workers', workers])), `--workers ${workers}`).toEqual(strip(one));
    // Unkeyed: every op's job runs on a worker of its own.
    const unkeyed = args.filter((a, i) => a !== '--key' && args[i - 1] !== '--key');
    const u1 = await cli([...unkeyed, '--workers', '1']);
    expect(u1.code).toBe(0);
    expect(strip(await cli([...unkeyed, '--workers', '2']))).toEqual(strip(u1));
  });

  it('stops at a malformed row with exit 2, and counts skipped rows, with --workers 2', async () => {
    const input = file('workers-bad.csv', 'v,k\n1,a\n2,b\nx,a\n4,b\n');
    const fail = await cli(['run', input, '--value', 'v', '--key', 'k', '--op', 'sum', '--window', '2', '--workers', '2', '-o', path.join(dir, 'workers-bad-out.csv')]);
    expect(fail).toMatchObject({ code: 2, stdout: '' });
    expect(fail.stderr).toBe(`streamkernel run: ${JSON.stringify(input)}: line 4: value "x" is not a number\n`);
    expect(existsSync(path.join(dir, 'workers-bad-out.csv'))).toBe(false);
    const skip = await cli(['run', input, '--value', 'v', '--key', 'k', '--op', 'sum', '--window', '2', '--workers', '2', '--on-error', 'skip', '--quiet']);
    expect(skip).toEqual({ code: 0, stdout: 'k,v,sum\na,1,NaN\nb,2,NaN\nb,4,6\n', stderr: '' });
  });
});

describe('streamkernel bench', () => {
  it('runs the benchmark suite and prints its table', async () => {
    const run = await cli(['bench', '--quick', '--ops', 'sum']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/n=1e\+6 w=100 sum\s+wasm\s+[\d.]+\s+e2e\s+[\d.]+\s+js\s+[\d.]+/);
    expect(run.stdout).not.toMatch(/wrote bench\/RESULTS\.md/);
    expect((await cli(['bench', '--nope'])).code).toBe(1);
  }, 120_000);
});
