// `streamkernel run` never loses data (issue 17): the output, its temporary
// file and the checkpoint are never the input by any name; -o writes through
// symlinks and into FIFOs and devices without replacing them; checkpoint
// fields behind a valid CRC are checked against the files; a SIGINT/SIGTERM
// leaves no temporary file. Each test spawns `node bin/streamkernel.js …`
// (the compiled CLI in dist/).

import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32 } from '../src/crc32.js';
import { BIN, runCli, type CliRun } from './cli-harness.js';

/** Runs the CLI in `dir`; stdin is `input` text, or a file descriptor to read from. */
function cli(args: readonly string[], input: string | number = '', env: Record<string, string> = {}): Promise<CliRun> {
  return runCli(args, { cwd: dir, input, env });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sk-safety-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh subdirectory of the test's temp dir. */
let n = 0;
function scratch(): string {
  const d = path.join(dir, `case-${++n}`);
  mkdirSync(d);
  return d;
}

const INPUT = 'k,v\na,1\nb,2\na,3\nb,4\na,5\nb,6\na,7\nb,8\n';
const JOB = ['--value', 'v', '--op', 'mean', '--window', '2'];
const EXPECTED = 'v,mean\n1,NaN\n2,1.5\n3,2.5\n4,3.5\n5,4.5\n6,5.5\n7,6.5\n8,7.5\n';

describe('-o and --checkpoint are never the input (item 1)', () => {
  it('regression: -o naming the input by another spelling is refused (exit 1) and the input is kept', async () => {
    const d = scratch();
    const input = path.join(d, 'x.csv');
    writeFileSync(input, INPUT);
    mkdirSync(path.join(d, 'sub'));
    const rel = path.relative(dir, input); // the CLI runs in dir
    const spellings = [input, `./${rel}`, `${path.basename(d)}/sub/../x.csv`, `../${path.basename(dir)}/${rel}`];
    for (const output of spellings) {
      for (const extra of [[], ['--checkpoint', path.join(d, 'ck'), '--checkpoint-every', '1']]) {
        const r = await cli(['run', rel, ...JOB, '-o', output, ...extra]);
        expect(r.code, `${output} ${extra.join(' ')}`).toBe(1);
        expect(r.stderr).toBe(`streamkernel run: --output must not be the input FILE: ${JSON.stringify(output)} is the input FILE ${JSON.stringify(rel)} (see 'streamkernel run --help')\n`);
        expect(readFileSync(input, 'utf8')).toBe(INPUT);
        // Refused before anything is opened: no checkpoint directory, no temporary file.
        expect(readdirSync(d).sort()).toEqual(['sub', 'x.csv']);
      }
    }
  });

  it('regression: -o through a hard link or a symlink to the input is refused (exit 1) and the input is kept', async () => {
    const d = scratch();
    const input = path.join(d, 'x.csv');
    writeFileSync(input, INPUT);
    linkSync(input, path.join(d, 'hard.csv'));
    symlinkSync('x.csv', path.join(d, 'soft.csv'));
    for (const output of ['hard.csv', 'soft.csv']) {
      const r = await cli(['run', input, ...JOB, '-o', path.join(d, output)]);
      expect(r.code, output).toBe(1);
      expect(r.stderr).toMatch(/--output must not be the input FILE: ".*(hard|soft)\.csv" is the input FILE/);
      expect(readFileSync(input, 'utf8')).toBe(INPUT);
      expect(lstatSync(path.join(d, 'soft.csv')).isSymbolicLink()).toBe(true);
    }
  });

  it('regression: -o naming the file stdin is redirected from is refused (exit 1) and the input is kept', async () => {
    const d = scratch();
    const input = path.join(d, 'x.csv');
    writeFileSync(input, INPUT);
    const fd = openSync(input, 'r');
    try {
      const r = await cli(['run', ...JOB, '-o', input], fd);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/--output must not be the input FILE: ".*x\.csv" is the input \(stdin\)/);
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(input, 'utf8')).toBe(INPUT);
  });

  it('regression: -o whose temporary file is the input is refused (exit 1) and the input is kept', async () => {
    const d = scratch();
    const input = path.join(d, '.out.csv.partial');
    writeFileSync(input, INPUT);
    const r = await cli(['run', input, ...JOB, '--format', 'csv', '-o', path.join(d, 'out.csv')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--output must not be the input FILE: its temporary file ".*\.out\.csv\.partial" is the input FILE/);
    expect(readFileSync(input, 'utf8')).toBe(INPUT);
    expect(existsSync(path.join(d, 'out.csv'))).toBe(false);
  });

  it('regression: a --checkpoint DIR that is, or would hold its checkpoint file in, the input or the output is refused (exit 1)', async () => {
    const d = scratch();
    const input = path.join(d, 'x.csv');
    writeFileSync(input, INPUT);
    const cases: [string, string, RegExp][] = [
      [path.join(d, 'out.csv'), input, /--checkpoint must not be the input or output: ".*x\.csv" is the input FILE/],
      [path.join(d, 'ck', 'checkpoint'), path.join(d, 'ck'), /--checkpoint must not hold the input or output: its checkpoint file ".*ck\/checkpoint" is --output ".*ck\/checkpoint"/],
      [path.join(d, 'out.csv'), path.join(d, 'out.csv'), /--checkpoint must not be the input or output: ".*out\.csv" is --output/],
    ];
    for (const [output, checkpoint, message] of cases) {
      const r = await cli(['run', input, ...JOB, '-o', output, '--checkpoint', checkpoint, '--checkpoint-every', '1']);
      expect(r.code, `${output} ${checkpoint}`).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(readFileSync(input, 'utf8')).toBe(INPUT);
    }
    expect(readdirSync(d)).toEqual(['x.csv']);
    // The input as the checkpoint file: refused, and never removed as a finished run's checkpoint.
    const ck = path.join(d, 'ck2');
    mkdirSync(ck);
    writeFileSync(path.join(ck, 'checkpoint'), INPUT);
    const r = await cli(['run', path.join(ck, 'checkpoint'), ...JOB, '--format', 'csv', '-o', path.join(d, 'o.csv'), '--checkpoint', ck]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--checkpoint must not hold the input or output: its checkpoint file ".*ck2\/checkpoint" is the input FILE/);
    expect(readFileSync(path.join(ck, 'checkpoint'), 'utf8')).toBe(INPUT);
  });
});

/** Reads a FIFO with `cat` until its writer closes it. */
function readFifo(fifo: string): { text: Promise<string>; unblock: () => void } {
  const cat = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'ignore'] });
  const out: Buffer[] = [];
  cat.stdout.on('data', (b: Buffer) => out.push(b));
  const text = new Promise<string>((resolve) => cat.on('close', () => resolve(Buffer.concat(out).toString('utf8'))));
  return {
    text,
    // After the writer is gone: ends a `cat` still waiting (never written, or the FIFO was replaced).
    unblock: () => {
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader left: cat has finished
      }
      if (!lstatSync(fifo).isFIFO()) cat.kill();
    },
  };
}

describe('-o onto a symlink, a FIFO or a device (item 4)', () => {
  it('regression: -o onto a symlink writes through it to its target, and the link stays a link', async () => {
    const d = scratch();
    const input = path.join(d, 'in.csv');
    writeFileSync(input, INPUT);
    writeFileSync(path.join(d, 'target.csv'), 'old\n');
    symlinkSync('target.csv', path.join(d, 'link.csv'));
    mkdirSync(path.join(d, 'elsewhere'));
    symlinkSync(path.join('elsewhere', 'new.csv'), path.join(d, 'dangling.csv'));
    for (const [link, target] of [['link.csv', 'target.csv'], ['dangling.csv', path.join('elsewhere', 'new.csv')]] as const) {
      const r = await cli(['run', input, ...JOB, '-o', path.join(d, link)]);
      expect(r.code, r.stderr).toBe(0);
      expect(lstatSync(path.join(d, link)).isSymbolicLink()).toBe(true);
      expect(readFileSync(path.join(d, target), 'utf8')).toBe(EXPECTED);
    }
    expect(readdirSync(d).filter((f) => f.includes('partial'))).toEqual([]);
    expect(readdirSync(path.join(d, 'elsewhere'))).toEqual(['new.csv']);
  });

  it('regression: -o onto a FIFO writes into it directly, and the FIFO stays a FIFO', async () => {
    const d = scratch();
    const input = path.join(d, 'in.csv');
    writeFileSync(input, INPUT);
    const fifo = path.join(d, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const reader = readFifo(fifo);
    const r = await cli(['run', input, ...JOB, '-o', fifo]);
    reader.unblock();
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(r.code, r.stderr).toBe(0);
    expect(await reader.text).toBe(EXPECTED);
    expect(readdirSync(d).sort()).toEqual(['in.csv', 'pipe']);
  });

  it('regression: -o onto a device (as /dev/null, run as root) writes into it and never replaces or removes it, even when the run fails', async () => {
    const d = scratch();
    const input = path.join(d, 'in.csv');
    writeFileSync(input, INPUT);
    const bad = path.join(d, 'bad.csv');
    writeFileSync(bad, 'v\n1\n2\nx\n');
    // A null device of our own (char 1:3, the same as /dev/null), so a regression cannot harm the real one.
    const device = path.join(d, 'null');
    execFileSync('mknod', [device, 'c', '1', '3']);
    const ok = await cli(['run', input, ...JOB, '-o', device]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(lstatSync(device).isCharacterDevice()).toBe(true);
    const failed = await cli(['run', bad, ...JOB, '-o', device]);
    expect(failed.code).toBe(2);
    expect(lstatSync(device).isCharacterDevice()).toBe(true);
    expect(readdirSync(d).sort()).toEqual(['bad.csv', 'in.csv', 'null']);
  });

  it('regression: -o /dev/stdout (here through a symlink to it) streams the results to stdout', async () => {
    const d = scratch();
    const input = path.join(d, 'in.csv');
    writeFileSync(input, INPUT);
    const link = path.join(d, 'stdout');
    symlinkSync('/dev/stdout', link);
    const r = await cli(['run', input, ...JOB, '-o', link]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(EXPECTED);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('regression: --checkpoint with -o onto a FIFO or a device is refused (exit 1): it cannot be truncated on resume', async () => {
    const d = scratch();
    const input = path.join(d, 'in.csv');
    writeFileSync(input, INPUT);
    const fifo = path.join(d, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const reader = readFifo(fifo); // so that a run which opens the FIFO does not wait for a reader forever
    const r = await cli(['run', input, ...JOB, '-o', fifo, '--checkpoint', path.join(d, 'ck')]);
    reader.unblock();
    expect(await reader.text).toBe('');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `streamkernel run: --checkpoint needs --output to be a regular file (a resume truncates it): ${JSON.stringify(fifo)} is a FIFO, a device or stdout (see 'streamkernel run --help')\n`,
    );
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });
});

/** The checkpoint's JSON body, changed by `edit`, written back behind a valid CRC. */
function rewriteCheckpoint(file: string, edit: (body: Record<string, unknown>) => void): void {
  const bytes = readFileSync(file);
  const first = bytes.indexOf(0x0a);
  const second = bytes.indexOf(0x0a, first + 1);
  const body = JSON.parse(bytes.subarray(second + 1).toString('utf8')) as Record<string, unknown>;
  edit(body);
  const text = Buffer.from(JSON.stringify(body), 'utf8');
  writeFileSync(file, Buffer.concat([bytes.subarray(0, first + 1), Buffer.from(`${crc32(text).toString(16).padStart(8, '0')}\n`), text]));
}

describe('checkpoint fields behind a valid CRC are checked (item 11)', () => {
  const ROWS = 400;
  let input: string;
  let reference: string;
  const args = (d: string, extra: readonly string[] = []): string[] => [
    'run', input, '--value', 'v', '--key', 'k', '--op', 'mean', '--op', 'median', '--window', '5', '--batch-size', '50',
    '-o', path.join(d, 'out.csv'), '--checkpoint', path.join(d, 'ck'), '--checkpoint-every', '100', ...extra,
  ];
  beforeAll(async () => {
    const lines = ['k,v'];
    for (let i = 0; i < ROWS; i++) lines.push(`key${i % 3},${(i * 37) % 101}`);
    input = path.join(dir, 'resume.csv');
    writeFileSync(input, `${lines.join('\n')}\n`);
    const d = scratch();
    const r = await cli(args(d));
    expect(r.code, r.stderr).toBe(0);
    reference = readFileSync(path.join(d, 'out.csv'), 'utf8');
  });

  /** A run killed right after its 2nd checkpoint (200 rows): its directory. */
  async function crashed(): Promise<string> {
    const d = scratch();
    const r = await cli(args(d), '', { STREAMKERNEL_TEST_CRASH: '2:after' });
    expect(r.signal).toBe('SIGKILL');
    return d;
  }

  it('an untouched checkpoint still resumes to the same bytes', async () => {
    const d = await crashed();
    const r = await cli(args(d, ['--progress']));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resumed at row 200/);
    expect(readFileSync(path.join(d, 'out.csv'), 'utf8')).toBe(reference);
  });

  const cases: [string, (body: Record<string, unknown>, files: { input: number; output: number }) => void, RegExp][] = [
    ['outputBytes beyond the output', (b, f) => (b['outputBytes'] = f.output + 10), /its outputBytes \d+ is past the end of the output ".*out\.csv" \(\d+ bytes\)/],
    ['outputBytes mid-row', (b) => (b['outputBytes'] = (b['outputBytes'] as number) - 3), /its outputBytes \d+ is not at the end of a row of the output/],
    ['offset.bytes past the input', (b, f) => ((b['offset'] as Record<string, number>)['bytes'] = f.input + 1), /its offset\.bytes \d+ is past the end of the input ".*resume\.csv"/],
    ['offset.bytes mid-row', (b) => ((b['offset'] as Record<string, number>)['bytes'] = (b['offset'] as Record<string, number>)['bytes']! - 2), /its offset\.bytes \d+ is not at the start of a row of the input/],
    // The key names behind the ops' numeric keys (one list for every op, whatever --workers).
    ['a key null', (b) => (((b['ops'] as Record<string, unknown>)['keys'] as (string | null)[])[1] = null), /its ops\.keys is not a list of distinct keys/],
    ['a key twice', (b) => (((b['ops'] as Record<string, unknown>)['keys'] as string[])[1] = 'key0'), /its ops\.keys is not a list of distinct keys/],
    ['one op state too few', (b) => ((b['ops'] as Record<string, unknown[]>)['jobs']!.pop()), /its ops\.jobs holds 1 states, the command has 2 ops/],
    ['a negative row count', (b) => (b['rows'] = -5), /its rows is -5, not a count/],
  ];
  it('regression: an op state whose own CRC fails (a byte flipped inside it) is refused with exit 4 naming the op, before the output is touched, with any --workers (a job fell back past it and started over)', async () => {
    for (const workers of ['1', '2']) {
      const d = await crashed();
      const output = path.join(d, 'out.csv');
      rewriteCheckpoint(path.join(d, 'ck', 'checkpoint'), (b) => {
        const jobs = (b['ops'] as Record<string, string[]>)['jobs'] as string[];
        const state = Buffer.from(jobs[1] as string, 'base64');
        state[state.length - 10] = state[state.length - 10]! ^ 1;
        jobs[1] = state.toString('base64');
      });
      const before = readFileSync(output);
      const r = await cli(args(d, ['--workers', workers]));
      expect(r.code, `--workers ${workers}: ${r.stderr}`).toBe(4);
      expect(r.stderr).toMatch(/^streamkernel run: cannot resume from the checkpoint: the state of op 2: .*checksum.*; remove it to start over\n$/);
      expect(readFileSync(output).equals(before)).toBe(true);
    }
  });

  for (const [what, edit, message] of cases) {
    it(`regression: a checkpoint with ${what} behind a valid CRC is refused (exit 4, naming the field) and the output is kept`, async () => {
      const d = await crashed();
      const output = path.join(d, 'out.csv');
      const file = path.join(d, 'ck', 'checkpoint');
      rewriteCheckpoint(file, (b) => edit(b, { input: readFileSync(input).length, output: readFileSync(output).length }));
      const before = readFileSync(output);
      const r = await cli(args(d));
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/^streamkernel run: .*ck\/checkpoint (is corrupt|does not match the files): .*; remove it to start over\n$/);
      expect(readFileSync(output).equals(before)).toBe(true);
      expect(existsSync(file)).toBe(true);
    });
  }
});

describe('SIGINT and SIGTERM (rough edge)', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`regression: a ${signal} leaves no hidden .partial file behind`, async () => {
      const d = scratch();
      const output = path.join(d, 'out.csv');
      // Input from a pipe kept open: the run is surely still going when the signal comes.
      const child = spawn(process.execPath, [BIN, 'run', '--value', 'v', '--op', 'mean', '--window', '2', '-o', output], { stdio: ['pipe', 'ignore', 'pipe'] });
      const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, sig) => resolve(sig)));
      child.stdin.write('v\n1\n2\n3\n');
      const partial = path.join(d, '.out.csv.partial');
      while (!existsSync(partial)) await new Promise((resolve) => setTimeout(resolve, 5));
      child.kill(signal);
      expect(await closed).toBe(signal);
      expect(readdirSync(d)).toEqual([]);
    });
  }
});
