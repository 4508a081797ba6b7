// End-to-end tests of the streamkernel CLI: each test spawns
// `node bin/streamkernel.js …` (the compiled CLI in dist/, built by `npm test`)
// and checks its stdout, stderr and exit code; numeric outputs are compared
// with String() of the library's own results, computed in-process.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseValue } from '../src/number-text.js';
import { createKernel, type KernelSpec } from '../src/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'streamkernel.js');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `args`; `input` (if any) is written to its stdin, else stdin is empty. */
function cli(args: readonly string[], input?: string | Buffer): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => undefined); // the CLI may stop reading early (malformed line)
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
    child.stdin.end(input ?? '');
  });
}

/** The library's results for `values` under `spec`, as the CLI must print them. */
async function expected(spec: KernelSpec, values: ArrayLike<number>): Promise<string> {
  const kernel = await createKernel(spec);
  try {
    const results = kernel.push(Float64Array.from(values));
    let text = '';
    for (const x of results) text += `${String(x)}\n`;
    return text;
  } finally {
    kernel.dispose();
  }
}

/** Deterministic test data: decimals of both signs, NaN gaps, some repeats and infinities. */
function series(n: number, seed: number, withInfinity = true): number[] {
  const values: number[] = [];
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    if (s % 13 === 0) values.push(NaN);
    else if (withInfinity && s % 997 === 0) values.push(s % 2 === 0 ? Infinity : -Infinity);
    else if (s % 7 === 0) values.push(Math.round((s % 200) - 100)); // repeats and integers
    else values.push(((s % 2_000_003) - 1_000_000) / 3.7e3);
  }
  return values;
}

const toText = (values: readonly number[]): string => values.map((v) => `${String(v)}\n`).join('');
const lines = (text: string): string[] => text.split('\n').slice(0, -1);

let dir: string;
const file = (name: string, content: string | Buffer): string => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'streamkernel-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** [CLI arguments, the spec they mean]. */
const COMMANDS: [string[], KernelSpec][] = [
  [['rolling', 'sum', '--window', '5', '--min-periods', '1'], { op: 'sum', window: 5, minPeriods: 1 }],
  [['rolling', 'mean', '--window', '4'], { op: 'mean', window: 4 }],
  [['rolling', 'var', '--window', '6', '--min-periods', '2'], { op: 'var', window: 6, minPeriods: 2 }],
  [['rolling', 'std', '--window', '6', '--ddof', '0'], { op: 'std', window: 6, ddof: 0 }],
  [['rolling', 'min', '--window', '3'], { op: 'min', window: 3 }],
  [['rolling', 'max', '--window', '7', '--min-periods', '0'], { op: 'max', window: 7, minPeriods: 0 }],
  [['rolling', 'count', '--window', '5', '--min-periods', '0'], { op: 'count', window: 5, minPeriods: 0 }],
  [['rolling', 'median', '--window', '5', '--min-periods', '2'], { op: 'median', window: 5, minPeriods: 2 }],
  [['rolling', 'quantile', '--window', '8', '--q', '0.3'], { op: 'quantile', window: 8, q: 0.3 }],
  [['ewm', 'mean', '--alpha', '0.3'], { op: 'ewm', alpha: 0.3 }],
  [['ewm', 'mean', '--span', '4', '--adjust', 'false'], { op: 'ewm', span: 4, adjust: false }],
  [['ewm', 'mean', '--halflife', '2.5', '--min-periods', '3'], { op: 'ewm', halflife: 2.5, minPeriods: 3 }],
  [['ewm', 'mean', '--com', '1.5', '--adjust', 'true'], { op: 'ewm', com: 1.5, adjust: true }],
];

describe('commands give the library results', () => {
  const values = series(300, 42);
  const input = toText(values);

  for (const [args, spec] of COMMANDS) {
    it(`${args.join(' ')}: FILE and stdin`, async () => {
      const want = await expected(spec, values);
      const path1 = file(`in-${args.slice(0, 2).join('-')}-${args.length}.txt`, input);
      const fromFile = await cli([...args, path1]);
      expect(fromFile).toMatchObject({ code: 0, stderr: '' });
      expect(fromFile.stdout).toBe(want);
      const fromStdin = await cli(args, input);
      expect(fromStdin).toMatchObject({ code: 0, stderr: '' });
      expect(fromStdin.stdout).toBe(want);
    });
  }

  it('reads stdin for FILE "-", and takes options before or after the op', async () => {
    const want = await expected({ op: 'mean', window: 3 }, values);
    expect((await cli(['rolling', 'mean', '--window', '3', '-'], input)).stdout).toBe(want);
    expect((await cli(['rolling', '--window=3', 'mean'], input)).stdout).toBe(want);
  });

  it('accepts option values written as decimals with exponents', async () => {
    const want = await expected({ op: 'sum', window: 100, minPeriods: 10 }, values);
    const run = await cli(['rolling', 'sum', '--window', '1e2', '--min-periods=10.0'], input);
    expect(run).toMatchObject({ code: 0, stderr: '', stdout: want });
  });

  it('prints nothing for empty input', async () => {
    expect(await cli(['rolling', 'mean', '--window', '3'], '')).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await cli(['ewm', 'mean', '--alpha', '0.5', file('empty.txt', '')])).toMatchObject({ code: 0, stdout: '' });
  });
});

describe('input format', () => {
  // Each line with the value it means. `rolling max --window 1` passes values through.
  const SPELLINGS: [string, number][] = [
    ['1', 1],
    [' 2 ', 2],
    ['\t3\t', 3],
    ['', NaN],
    ['NaN', NaN],
    ['nan', NaN],
    ['inf', Infinity],
    ['-inf', -Infinity],
    ['+inf', Infinity],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['+Infinity', Infinity],
    ['1e3', 1000],
    ['1E-3', 0.001],
    ['-.5', -0.5],
    ['+5.', 5],
    ['0.000', 0],
    ['-0', -0],
    ['007', 7],
    ['1.5e+2', 150],
    ['   ', NaN],
    ['0.1', 0.1],
    ['123456789012345678901234567890', 123456789012345678901234567890],
    ['4.9e-324', 5e-324],
    ['1e400', Infinity],
    ['2.2250738585072011e-308', 2.2250738585072011e-308],
  ];
  const passThrough = ['rolling', 'max', '--window', '1'];

  it('understands every spelling of numbers, NaN and infinities', async () => {
    const run = await cli(passThrough, SPELLINGS.map(([s]) => `${s}\n`).join(''));
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(lines(run.stdout)).toEqual(SPELLINGS.map(([, v]) => String(v)));
    expect(run.stdout).toBe(await expected({ op: 'max', window: 1 }, SPELLINGS.map(([, v]) => v)));
  });

  it('treats empty lines as missing values', async () => {
    const values = [1, NaN, NaN, 4, NaN, 6, 7];
    const run = await cli(['rolling', 'sum', '--window', '3', '--min-periods', '1'], '1\n\n\n4\n\n6\n7\n');
    expect(run.stdout).toBe(await expected({ op: 'sum', window: 3, minPeriods: 1 }, values));
  });

  it('accepts CRLF line ends, a last line without a newline, and a UTF-8 BOM', async () => {
    const values = [1.5, NaN, -2, Infinity, 3, 4];
    const want = await expected({ op: 'mean', window: 2, minPeriods: 1 }, values);
    const args = ['rolling', 'mean', '--window', '2', '--min-periods', '1'];
    expect((await cli(args, '1.5\r\n\r\n-2\r\ninf\r\n3\r\n4\r\n')).stdout).toBe(want);
    expect((await cli(args, '1.5\r\nnan\n-2\r\ninf\n3\r\n4')).stdout).toBe(want);
    expect((await cli([...args, file('bom.txt', '\uFEFF1.5\r\n\r\n-2\r\ninf\r\n3\r\n4\r\n')])).stdout).toBe(want);
    expect((await cli(args, '\uFEFF')).stdout).toBe('');
  });

  it('agrees with Number() on every line the grammar accepts, and refuses the rest', () => {
    // The grammar, written as a regex, is the reference.
    const grammar = /^[ \t\r]*(?:([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)|([+-]?)(?:Infinity|inf)|NaN|nan|)[ \t\r]*$/;
    const reference = (s: string): number | undefined => {
      const m = grammar.exec(s);
      if (m === null) return undefined;
      if (m[1] !== undefined) return Number(m[1]);
      if (m[2] !== undefined) return m[2] === '-' ? -Infinity : Infinity;
      return NaN;
    };
    const check = (s: string): void => {
      const got = parseValue(s, 0, s.length);
      const want = reference(s);
      if (want === undefined) expect(got, JSON.stringify(s)).toBeUndefined();
      else expect(Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want)), JSON.stringify(s)).toBe(true);
    };
    const unit = fc.constantFrom(...'0123456789012345678901234567890.eE+- \tinfaINFNaxty,_\r');
    fc.assert(fc.property(fc.string({ unit, maxLength: 30 }), (s) => check(s)), { numRuns: 20_000 });
    // Numbers written the ways programs write them.
    const double = fc.double({ noNaN: true });
    fc.assert(
      fc.property(double, fc.integer({ min: 0, max: 20 }), (x, digits) => {
        check(String(x));
        check(x.toExponential(digits));
        check(x.toPrecision(digits + 1));
        if (Math.abs(x) < 1e21) check(x.toFixed(digits));
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('malformed input', () => {
  const BAD = ['0x10', '1,5', 'abc', '1e', '.', '--1', '1.2.3', '1e5.5', 'NaN5', 'infinity', 'INF', '-nan', '1 2', '1_000', '0b1', '∞', 'e5', '+', '"1"'];

  for (const bad of BAD) {
    it(`line ${JSON.stringify(bad)} → exit 2, after the results of earlier lines`, async () => {
      const run = await cli(['rolling', 'mean', '--window', '1'], `1\n2.5\n${bad}\n4\n`);
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(`line 3: cannot parse ${JSON.stringify(bad)}\n`);
      expect(run.stdout).toBe('1\n2.5\n');
    });
  }

  it('counts lines from 1, across CRLF, empty lines and read chunks, in FILE and stdin', async () => {
    const values = series(150_000, 9);
    const text = toText(values).replace(/\n/g, '\r\n') + '\n12x\r\n5\r\n';
    // Line 150 001 is empty (a missing value); line 150 002 is the bad one.
    const want = await expected({ op: 'sum', window: 10, minPeriods: 1 }, [...values, NaN]);
    const args = ['rolling', 'sum', '--window', '10', '--min-periods', '1'];
    for (const run of [await cli(args, text), await cli([...args, file('bad-late.txt', text)])]) {
      expect(run.code).toBe(2);
      expect(run.stderr).toBe('line 150002: cannot parse "12x"\n');
      expect(run.stdout === want).toBe(true);
    }
  });

  it('refuses an over-long line, quoting only its start', async () => {
    const run = await cli(['rolling', 'mean', '--window', '1'], `1\n${'9'.repeat(3 << 20)}\n`);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^line 2: cannot parse "9{200}…"\n$/);
    expect(run.stdout).toBe('1\n');
  });

  it('quotes non-ASCII and control characters readably', async () => {
    const run = await cli(['rolling', 'mean', '--window', '1'], 'été "x"\t\r\n');
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('line 1: cannot parse "été \\"x\\"\\t"\n');
  });
});

describe('usage errors and exit codes', () => {
  const USAGE: [string[], RegExp][] = [
    [[], /missing command/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['rolling'], /missing <op>/],
    [['rolling', 'avg', '--window', '3'], /unknown op "avg"/],
    [['rolling', 'mean'], /missing --window/],
    [['rolling', 'mean', '--window', '0'], /--window must be an integer from 1 to 16777216, got "0"/],
    [['rolling', 'mean', '--window', '2.5'], /--window must be an integer/],
    [['rolling', 'mean', '--window', 'abc'], /--window must be a number, got "abc"/],
    [['rolling', 'mean', '--window', '0x10'], /--window must be a number/],
    [['rolling', 'mean', '--window', '-3'], /--window must be an integer/],
    [['rolling', 'mean', '--window', '3', '--min-periods', '4'], /--min-periods must be an integer from 0 to 3/],
    [['rolling', 'mean', '--window', '3', '--bogus'], /unknown option '--bogus'/],
    [['rolling', 'mean', '--window', '3', '-x'], /unknown option '-x'/],
    [['rolling', 'mean', '--window', '3', '--alpha', '0.5'], /unknown option '--alpha'/],
    [['rolling', 'mean', '--window', '3', '--q', '0.5'], /--q applies only to quantile/],
    [['rolling', 'quantile', '--window', '3'], /quantile needs --q/],
    [['rolling', 'quantile', '--window', '3', '--q', '1.5'], /--q must be in \[0, 1\]/],
    [['rolling', 'mean', '--window', '3', '--ddof', '1'], /--ddof applies only to var and std/],
    [['rolling', 'std', '--window', '3', '--ddof', '-1'], /--ddof must be an integer/],
    [['rolling', 'mean', '--window', '3', '--batch-size', '0'], /--batch-size must be an integer/],
    [['rolling', 'mean', '--window', '3', 'a.txt', 'b.txt'], /at most one FILE/],
    [['rolling', 'mean', '--window'], /--window needs a value/],
    [['rolling', 'mean', '--window', '3', '--window', '4'], /--window given more than once/],
    [['ewm', 'mean'], /exactly one of --alpha, --span, --halflife, --com \(none given\)/],
    [['ewm', 'mean', '--alpha', '0.5', '--span', '3'], /exactly one of .* \(got --alpha and --span\)/],
    [['ewm', 'mean', '--alpha', '0'], /--alpha must be in \(0, 1\]/],
    [['ewm', 'mean', '--alpha', '1.5'], /--alpha must be in \(0, 1\]/],
    [['ewm', 'mean', '--span', '0.5'], /--span must be/],
    [['ewm', 'mean', '--halflife', '0'], /--halflife must be/],
    [['ewm', 'mean', '--com', '-1'], /--com must be/],
    [['ewm', 'mean', '--alpha', 'nan'], /--alpha must be a number/],
    [['ewm', 'mean', '--alpha', '0.5', '--adjust', 'yes'], /--adjust must be true or false/],
    [['ewm', 'std', '--alpha', '0.5'], /unknown op "std"/],
    [['ewm', 'mean', '--alpha', '0.5', '--window', '3'], /unknown option '--window'/],
    [['demo', '--rows', '5'], /--rows must be an integer/],
    [['demo', 'extra'], /unexpected argument "extra"/],
    [['--bogus'], /unknown option '--bogus'/],
    [['help', 'nope'], /unknown command "nope"/],
  ];

  for (const [args, message] of USAGE) {
    it(`${JSON.stringify(args.join(' '))} → exit 1`, async () => {
      const run = await cli(args);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(message);
      expect(run.stderr).toMatch(/^streamkernel[^\n]*\(see 'streamkernel( \w+)? --help'\)\n$/); // one line
    });
  }

  it('a missing or unreadable FILE → exit 3', async () => {
    const missing = path.join(dir, 'no-such-file.txt');
    const run = await cli(['rolling', 'mean', '--window', '3', missing]);
    expect(run).toMatchObject({ code: 3, stdout: '' });
    expect(run.stderr).toBe(`streamkernel rolling mean: cannot open ${JSON.stringify(missing)}: no such file or directory\n`);
    const directory = await cli(['ewm', 'mean', '--span', '3', dir]);
    expect(directory).toMatchObject({ code: 3, stdout: '' });
    expect(directory.stderr).toMatch(/^streamkernel ewm mean: cannot open .*: is a directory\n$/);
  });

  it('usage errors win over a missing FILE', async () => {
    expect((await cli(['rolling', 'mean', path.join(dir, 'no-such-file.txt')])).code).toBe(1);
  });
});

describe('--help and --version', () => {
  const HELP: [string[], RegExp][] = [
    [['--help'], /^streamkernel: rolling-window statistics/],
    [['-h'], /^streamkernel: rolling-window statistics/],
    [['help'], /^streamkernel: rolling-window statistics/],
    [['rolling', '--help'], /^Usage: streamkernel rolling <op> --window W/],
    [['rolling', 'mean', '--window', '3', '-h'], /^Usage: streamkernel rolling <op> --window W/],
    [['help', 'rolling'], /^Usage: streamkernel rolling <op> --window W/],
    [['ewm', '--help'], /^Usage: streamkernel ewm mean \(--alpha A \| --span S \| --halflife H \| --com C\)/],
    [['ewm', 'mean', '--help'], /^Usage: streamkernel ewm mean/],
    [['demo', '--help'], /^Usage: streamkernel demo/],
  ];
  for (const [args, first] of HELP) {
    it(`${args.join(' ')} prints usage and exits 0`, async () => {
      const run = await cli(args);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(first);
      expect(run.stdout).toContain('Exit codes:');
    });
  }

  it('--version prints the package version', async () => {
    expect(await cli(['--version'])).toMatchObject({ code: 0, stderr: '', stdout: `${VERSION}\n` });
  });
});

describe('streaming', () => {
  it('gives the same output for any --batch-size', async () => {
    const values = series(5_000, 3);
    const input = toText(values);
    for (const [args, spec] of [COMMANDS[3], COMMANDS[7], COMMANDS[10]] as [string[], KernelSpec][]) {
      const want = await expected(spec, values);
      const f = file(`batch-${spec.op}.txt`, input);
      for (const batchSize of ['1', '7', '4096']) {
        const run = await cli([...args, '--batch-size', batchSize, f]);
        expect(run, `${args.join(' ')} --batch-size ${batchSize}`).toMatchObject({ code: 0, stderr: '', stdout: want });
      }
      expect((await cli(args, input)).stdout).toBe(want);
    }
  });

  it('streams a large input (200 000 lines) from FILE and stdin', async () => {
    const values = series(200_000, 11);
    const input = toText(values);
    const f = file('large.txt', input);
    for (const [args, spec] of [
      [['rolling', 'std', '--window', '1000', '--min-periods', '2'], { op: 'std', window: 1000, minPeriods: 2 }],
      [['ewm', 'mean', '--span', '50'], { op: 'ewm', span: 50 }],
    ] as [string[], KernelSpec][]) {
      const want = await expected(spec, values);
      const fromFile = await cli([...args, f]);
      expect(fromFile.code).toBe(0);
      expect(fromFile.stdout === want, `${args.join(' ')} FILE`).toBe(true);
      const fromStdin = await cli(args, input);
      expect(fromStdin.code).toBe(0);
      expect(fromStdin.stdout === want, `${args.join(' ')} stdin`).toBe(true);
    }
  });

  it('answers rows from a pipe as they arrive, before stdin ends', async () => {
    const child = spawn(process.execPath, [BIN, 'rolling', 'sum', '--window', '2', '--min-periods', '1'], { stdio: 'pipe' });
    let stdout = '';
    const waitFor = (text: string): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (stdout === text) {
            child.stdout.off('data', onData);
            resolve();
          }
        };
        const onData = (b: Buffer): void => {
          stdout += b.toString();
          check();
        };
        child.stdout.on('data', onData);
        check();
      });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    child.stdin.write('1\n2\n');
    await waitFor('1\n3\n');
    child.stdin.write('10\n');
    await waitFor('1\n3\n12\n');
    child.stdin.end('\n');
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    expect(await exited).toBe(0);
    expect(stdout).toBe('1\n3\n12\n10\n');
  });

  it('exits quietly when stdout is closed early (EPIPE)', async () => {
    const f = file('epipe.txt', toText(series(300_000, 5)));
    for (const args of [
      ['rolling', 'mean', '--window', '10', f],
      ['ewm', 'mean', '--alpha', '0.1', f],
    ]) {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.stdout.once('data', () => child.stdout.destroy());
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.on('close', (c, s) => resolve([c, s])),
      );
      expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    }
  });

  it('stops reading stdin and exits at a malformed line even while input keeps coming', async () => {
    const child = spawn(process.execPath, [BIN, 'rolling', 'mean', '--window', '1'], { stdio: 'pipe' });
    child.stdin.on('error', () => undefined);
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout.resume();
    child.stdin.write('1\nbad\n');
    for (let i = 0; i < 20; i++) child.stdin.write('1\n'); // never ended
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    child.stdin.destroy();
    expect(code).toBe(2);
    expect(stderr).toBe('line 2: cannot parse "bad"\n');
  });
});

describe('demo', () => {
  it('runs the main job on a generated multi-sensor series and prints a summary', async () => {
    const run = await cli(['demo']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('4 sensors × 25,000 readings = 100,000 rows of CSV');
    expect(run.stdout).toContain('streamkernel run data.csv --value temp --time ts --key sensor --op mean --op std --op min --op max --op median --window 1m --max-out-of-order 5s --on-error skip');
    // Rows out = rows in − late rows, and both kinds of disorder occurred and were counted.
    const out = /result {2}([\d,]+) rows out in [\d.]+ s: [\d.]+ [kM]? ?rows\/s/.exec(run.stdout);
    const reordered = /([\d,]+) out-of-order rows put back in time order/.exec(run.stdout);
    const late = /([\d,]+) rows? more than 5s late: reported and skipped/.exec(run.stdout);
    const n = (m: RegExpExecArray | null): number => Number(m?.[1]?.replaceAll(',', '') ?? NaN);
    expect(n(reordered)).toBeGreaterThan(0);
    expect(n(late)).toBeGreaterThan(0);
    expect(n(out)).toBe(100_000 - n(late));
    expect(run.stdout).toMatch(/NaN readings in 4 outages, [1-9]\d* spikes/);
    // Sample results: one line per note, with the ops' columns.
    expect(run.stdout).toMatch(/\n {2}ts +sensor +temp +mean +std +min +max +median +note\n/);
    for (const note of ['first reading', 'a spike', 'in a NaN gap', 'arrived late, put in time order', 'last reading']) {
      expect(run.stdout).toMatch(new RegExp(`\\n {2}\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z +[a-z-]+ +[-\\d.NaN]+( +[-\\d.NaN]+){5} +${note}`));
    }
    // The first reading is a window of one: std is NaN, mean = min = max = median = the value.
    const first = /\n {2}\S+ +boiler +(\S+) +(\S+) +NaN +(\S+) +(\S+) +(\S+) +first reading/.exec(run.stdout);
    expect(first).not.toBeNull();
    expect(new Set(first?.slice(1)).size).toBe(1);
    // In a NaN gap the value is missing, the window still has results.
    expect(run.stdout).toMatch(/ NaN +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d +in a NaN gap/);
  });

  it('takes --rows and --batch-size, and its sample results never depend on the batch size', async () => {
    const samples = (text: string): string => text.slice(text.indexOf('sample results'));
    const counts = (text: string): string => text.slice(text.indexOf('rows out'), text.indexOf('sample results')).replace(/in [\d.]+ s: .*\n/, '');
    const a = await cli(['demo', '--rows', '5000', '--batch-size', '1000']);
    const b = await cli(['demo', '--rows', '5000', '--batch-size', '777']);
    expect(a).toMatchObject({ code: 0, stderr: '' });
    expect(b).toMatchObject({ code: 0, stderr: '' });
    expect(a.stdout).toContain('4 sensors × 5,000 readings = 20,000 rows of CSV');
    expect(samples(a.stdout)).toMatch(/last reading/);
    expect(samples(a.stdout)).toBe(samples(b.stdout));
    expect(counts(a.stdout)).toBe(counts(b.stdout));
  });
});
