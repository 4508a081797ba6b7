// The CLI's first screen: what --help says, "did you mean" on typos, and
// `streamkernel bench` from an installed package (no checkout around it).

import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { didYouMean } from '../src/cli/help.js';
import { parseBench } from '../src/cli/run-args.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <bin> args` in `root` (the checkout by default). */
function cli(args: readonly string[], root = ROOT): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [path.join(root, 'bin', 'streamkernel.js'), ...args], { cwd: root }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr }),
    );
    child.stdin?.end();
  });
}

describe('streamkernel --help', () => {
  it('regression: the first screen describes run, the main job, its input and output, with examples', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/\n {2}run {7}CSV with a header line, or NDJSON, from FILE or stdin; the columns\n/);
    expect(help.stdout).toMatch(/\n {2}rolling, ewm\n {12}one number per line from FILE or stdin; one result per line out\n/);
    expect(help.stdout).toMatch(/\nExamples:\n {2}streamkernel demo\n {2}streamkernel run sensors\.csv --value temp --key sensor --op mean/);
    expect(help.stdout).not.toMatch(/^Input: one number per line/m);
  });
});

describe('did you mean', () => {
  it.each([
    [['rolling', 'mean', '--windw', '3'], "streamkernel rolling: unknown option '--windw'; did you mean '--window'? (see 'streamkernel rolling --help')"],
    [['rolling', 'mean', '--window', '3', '--min-period', '2'], "streamkernel rolling: unknown option '--min-period'; did you mean '--min-periods'? (see 'streamkernel rolling --help')"],
    [['run', '--value', 'v', '--op', 'mean', '--window', '3', '--ouptut', 'x.csv'], "streamkernel run: unknown option '--ouptut'; did you mean '--output'? (see 'streamkernel run --help')"],
    [['ewm', 'mean', '--spam', '3'], "streamkernel ewm: unknown option '--spam'; did you mean '--span'? (see 'streamkernel ewm --help')"],
    [['bench', '--quik'], 'streamkernel bench: unknown option "--quik"; did you mean \'--quick\'? (see \'streamkernel bench --help\')'],
    [['rn', 'x.csv'], 'streamkernel: unknown command "rn": expected run, rolling, ewm, demo or bench; did you mean \'run\'? (see \'streamkernel --help\')'],
    [['workr'], 'streamkernel: unknown command "workr": expected run, rolling, ewm, demo or bench; did you mean \'worker\'? (see \'streamkernel --help\')'],
    [['rolling', 'meen', '--window', '3'], 'streamkernel rolling: unknown op "meen": expected one of sum, mean, var, std, min, max, count, median, quantile; did you mean \'mean\'? (see \'streamkernel rolling --help\')'],
    [['worker', '--redsi', 'redis://x', '--job', 'j'], "streamkernel worker: Unknown option '--redsi'; did you mean '--redis'?"],
  ])('regression: a typo gets a "did you mean" (%j), exit 1', async (args, message) => {
    expect(await cli(args)).toEqual({ code: 1, stdout: '', stderr: `${message}\n` });
  });

  it('regression: bench --wall (the suite\'s wall-time samples) was refused as an unknown option', () => {
    expect(parseBench(['--quick', '--wall'])).toEqual({ kind: 'bench', args: ['--quick', '--wall'] });
  });

  it('suggests only close candidates, or the one a prefix starts', () => {
    const options = ['--window', '--min-periods', '--ddof', '--q', '--batch-size', '--help'];
    expect(didYouMean('--bogus', options)).toBe('');
    expect(didYouMean('--win', options)).toBe("; did you mean '--window'?");
    expect(didYouMean('--wnidow', options)).toBe("; did you mean '--window'?");
    expect(didYouMean('--dof', options)).toBe("; did you mean '--ddof'?");
    expect(didYouMean('-x', options)).toBe('');
    expect(didYouMean('--out', ['--output', '--output-format'])).toBe(''); // a prefix of two: ambiguous
  });
});

describe('streamkernel bench from an installed package', () => {
  // The package's layout: dist/, bin/ and package.json, without bench/*.ts beside them.
  let pkg: string;
  beforeAll(() => {
    pkg = mkdtempSync(path.join(tmpdir(), 'sk-pkg-'));
    for (const part of ['bin', 'dist/src', 'dist/bench/run.js', 'dist/bench/measure.js', 'dist/bench/baselines.js', 'package.json']) {
      cpSync(path.join(ROOT, part), path.join(pkg, part), { recursive: true });
    }
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
  });
  afterAll(() => rmSync(pkg, { recursive: true, force: true }));

  it('regression: bench is listed and its suite is there; --write, which would rewrite a checkout\'s file, is refused with exit 1', async () => {
    expect((await cli(['--help'], pkg)).stdout).toMatch(/\n {2}bench {5}run the benchmark suite/);
    expect(await cli(['bench', '--quick', '--write'], pkg)).toEqual({
      code: 1,
      stdout: '',
      stderr: "streamkernel bench: --write rewrites bench/RESULTS.md of a checkout of streamkernel, not of an installed package: run without --write (see 'streamkernel bench --help')\n",
    });
  });
});
