// `streamkernel run --checkpoint DIR`: a real child process is killed with
// SIGKILL at seeded points (by the size its output file has reached, and at
// exact phases of a checkpoint through a test hook); the same command then
// resumes, and the final output equals an uninterrupted run's, byte for byte.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 as rng } from './adversarial.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'streamkernel.js');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function start(args: readonly string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  const err: Buffer[] = [];
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr: Buffer.concat(err).toString('utf8') }));
  });
  return { child, done };
}

let dir: string;
let input: string;
let reference: Buffer;
const ROWS = 150_000;

function argsFor(output: string, checkpoint: string): string[] {
  return [
    'run', input, '--value', 'v', '--key', 'k', '--time', 't',
    '--op', 'mean', '--op', 'std', '--op', 'median', '--window', '64', '--min-periods', '1',
    '--batch-size', '1000', '--checkpoint', checkpoint, '--checkpoint-every', '4000', '-o', output, '--progress',
  ];
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sk-checkpoint-'));
  const r = rng(42);
  const lines = ['t,k,v'];
  for (let i = 0; i < ROWS; i++) {
    const v = r() < 0.03 ? '' : ((r() - 0.5) * 1000).toFixed(3);
    lines.push(`${i * 10},key${Math.floor(r() * 5)},${v}`);
  }
  input = path.join(dir, 'in.csv');
  writeFileSync(input, `${lines.join('\n')}\n`);
  // The uninterrupted run (no checkpoint) is the reference.
  const ref = path.join(dir, 'reference.csv');
  const args = argsFor(ref, 'unused').filter((a, i, all) => !['--checkpoint', '--checkpoint-every'].includes(a) && !['--checkpoint', '--checkpoint-every'].includes(all[i - 1] ?? ''));
  const run = await start(args).done;
  expect(run.code).toBe(0);
  reference = readFileSync(ref);
  expect(reference.length).toBeGreaterThan(ROWS * 20);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the run and SIGKILLs it once a checkpoint exists and its output file holds `bytes`. */
async function killAt(output: string, checkpoint: string, bytes: number): Promise<Run> {
  const { child, done } = start(argsFor(output, checkpoint));
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished) {
    const size = existsSync(output) ? statSync(output).size : 0;
    if (size >= bytes && existsSync(path.join(checkpoint, 'checkpoint'))) {
      child.kill('SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return done;
}

describe('run --checkpoint survives kill -9', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: killed at seeded output sizes, resumed to the same bytes`, async () => {
      const r = rng(seed);
      const output = path.join(dir, `out-${seed}.csv`);
      const checkpoint = path.join(dir, `ck-${seed}`);
      // One or two kills, at growing fractions of the final output.
      const kills = 1 + Math.floor(r() * 2);
      let fraction = 0.1;
      for (let k = 0; k < kills; k++) {
        fraction += 0.1 + r() * 0.3;
        const run = await killAt(output, checkpoint, Math.floor(reference.length * Math.min(fraction, 0.85)));
        expect(run.signal).toBe('SIGKILL'); // killed mid-run, not finished
        expect(existsSync(path.join(checkpoint, 'checkpoint'))).toBe(true);
      }
      const resumed = await start(argsFor(output, checkpoint)).done;
      expect(resumed.code).toBe(0);
      expect(resumed.stderr).toMatch(/resumed at row [1-9][\d,]*/);
      expect(readFileSync(output).equals(reference)).toBe(true);
      expect(existsSync(path.join(checkpoint, 'checkpoint'))).toBe(false); // removed once complete
    }, 120_000);
  }

  for (const phase of ['before', 'after'] as const) {
    it(`killed ${phase} writing a checkpoint, resumed to the same bytes`, async () => {
      const output = path.join(dir, `out-${phase}.csv`);
      const checkpoint = path.join(dir, `ck-${phase}`);
      const crashed = await start(argsFor(output, checkpoint), { STREAMKERNEL_TEST_CRASH: `7:${phase}` }).done;
      expect(crashed.signal).toBe('SIGKILL');
      const resumed = await start(argsFor(output, checkpoint)).done;
      expect(resumed.code).toBe(0);
      // 'before': the 6th checkpoint (24 000 rows) is the last one; 'after': the 7th.
      expect(resumed.stderr).toMatch(phase === 'before' ? /resumed at row 24,000/ : /resumed at row 28,000/);
      expect(readFileSync(output).equals(reference)).toBe(true);
    }, 120_000);
  }

  it('refuses a checkpoint of another run, and a corrupt one', async () => {
    const output = path.join(dir, 'out-other.csv');
    const checkpoint = path.join(dir, 'ck-other');
    expect((await start(argsFor(output, checkpoint), { STREAMKERNEL_TEST_CRASH: '2:after' }).done).signal).toBe('SIGKILL');
    const other = await start(argsFor(output, checkpoint).map((a) => (a === '64' ? '65' : a))).done;
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/checkpoint in .* is of another run/);
    const file = path.join(checkpoint, 'checkpoint');
    const bytes = readFileSync(file);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 1;
    writeFileSync(file, bytes);
    const corrupt = await start(argsFor(output, checkpoint)).done;
    expect(corrupt.code).toBe(4);
    expect(corrupt.stderr).toMatch(/corrupt \(checksum mismatch\); remove it to start over/);
  }, 120_000);
});

describe('run --checkpoint with --workers (each checkpoint holds one scheduler checkpoint per op)', () => {
  const withWorkers = (output: string, checkpoint: string, workers: number): string[] => [...argsFor(output, checkpoint), '--workers', String(workers)];

  for (const seed of [4, 5]) {
    it(`seed ${seed}: killed at seeded output sizes with --workers 2, resumed with --workers 3 to the same bytes`, async () => {
      const r = rng(seed);
      const output = path.join(dir, `workers-out-${seed}.csv`);
      const checkpoint = path.join(dir, `workers-ck-${seed}`);
      const fraction = 0.2 + r() * 0.5;
      const { child, done } = start(withWorkers(output, checkpoint, 2));
      let finished = false;
      void done.then(() => (finished = true));
      while (!finished) {
        const size = existsSync(output) ? statSync(output).size : 0;
        if (size >= reference.length * fraction && existsSync(path.join(checkpoint, 'checkpoint'))) {
          child.kill('SIGKILL');
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      expect((await done).signal).toBe('SIGKILL');
      const resumed = await start(withWorkers(output, checkpoint, 3)).done;
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(/resumed at row [1-9][\d,]*/);
      expect(readFileSync(output).equals(reference)).toBe(true);
    }, 120_000);
  }

  it('killed after writing checkpoint 5 with --workers 2, resumed at row 20 000 to the same bytes', async () => {
    const output = path.join(dir, 'workers-out-after.csv');
    const checkpoint = path.join(dir, 'workers-ck-after');
    const crashed = await start(withWorkers(output, checkpoint, 2), { STREAMKERNEL_TEST_CRASH: '5:after' }).done;
    expect(crashed.signal).toBe('SIGKILL');
    const resumed = await start(withWorkers(output, checkpoint, 2)).done;
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resumed at row 20,000/);
    expect(readFileSync(output).equals(reference)).toBe(true);
  }, 120_000);

  it('regression: a checkpoint of --workers 1 resumed only with --workers 1 (and one of N > 1 only with N > 1); now killed with 1 and resumed with 2, killed with 2 and resumed with 1, the same bytes', async () => {
    for (const [taken, resume] of [[1, 2], [2, 1]] as const) {
      const output = path.join(dir, `workers-mode-${taken}.csv`);
      const checkpoint = path.join(dir, `workers-mode-${taken}`);
      expect((await start(withWorkers(output, checkpoint, taken), { STREAMKERNEL_TEST_CRASH: '2:after' }).done).signal).toBe('SIGKILL');
      const resumed = await start(withWorkers(output, checkpoint, resume)).done;
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(/resumed at row 8,000/);
      expect(readFileSync(output).equals(reference), `--workers ${taken} → ${resume}`).toBe(true);
    }
  }, 120_000);

  it('regression: a checkpoint of the earlier format (streamkernel-checkpoint 1, state per runner) is refused with exit 4, never half-loaded, and the output is left as it was', async () => {
    const output = path.join(dir, 'old-format.csv');
    const checkpoint = path.join(dir, 'old-format-ck');
    expect((await start(argsFor(output, checkpoint), { STREAMKERNEL_TEST_CRASH: '2:after' }).done).signal).toBe('SIGKILL');
    // The same body behind the first line of the earlier format, as an earlier version wrote it.
    const file = path.join(checkpoint, 'checkpoint');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace(/^streamkernel-checkpoint 2\n/, 'streamkernel-checkpoint 1\n'));
    const before = readFileSync(output);
    const refused = await start(argsFor(output, checkpoint)).done;
    expect(refused.code).toBe(4);
    expect(refused.stderr).toBe(
      `streamkernel run: cannot resume from the checkpoint ${file}: it is of an earlier version of streamkernel (streamkernel-checkpoint 1), whose state this version does not read; remove it to start over\n`,
    );
    expect(readFileSync(output).equals(before)).toBe(true);
  }, 120_000);
});

describe('run --checkpoint with --max-out-of-order (rows held for reordering are in the checkpoint)', () => {
  let oooInput: string;
  let oooReference: Buffer;
  const OOO_ROWS = 40_000;
  const oooArgs = (output: string, checkpoint: string | undefined): string[] => [
    'run', oooInput, '--value', 'v', '--key', 'k', '--time', 't',
    '--op', 'mean', '--op', 'max', '--op', 'median', '--window', '2s', '--max-out-of-order', '300ms', '--on-error', 'skip',
    '--batch-size', '700', '-o', output, '--progress',
    ...(checkpoint !== undefined ? ['--checkpoint', checkpoint, '--checkpoint-every', '3000'] : []),
  ];

  beforeAll(async () => {
    const r = rng(7);
    const lines = ['t,k,v'];
    for (let i = 0; i < OOO_ROWS; i++) {
      // Up to 400 ms of jitter against a bound of 300 ms: most disorder is placed, some rows are late.
      const t = i * 10 + Math.floor(r() * 400);
      const v = r() < 0.03 ? '' : ((r() - 0.5) * 1000).toFixed(3);
      lines.push(`${t},key${Math.floor(r() * 4)},${v}`);
    }
    oooInput = path.join(dir, 'ooo.csv');
    writeFileSync(oooInput, `${lines.join('\n')}\n`);
    const ref = path.join(dir, 'ooo-reference.csv');
    const run = await start(oooArgs(ref, undefined)).done;
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/[1-9][\d,]* out-of-order rows put in order, [1-9][\d,]* late rows \(more than 300ms out of order\) skipped/);
    oooReference = readFileSync(ref);
  }, 120_000);

  for (const [at, phase] of [[3, 'after'], [5, 'before'], [9, 'after']] as const) {
    it(`killed ${phase} checkpoint ${at}, resumed to the same bytes`, async () => {
      const output = path.join(dir, `ooo-out-${at}-${phase}.csv`);
      const checkpoint = path.join(dir, `ooo-ck-${at}-${phase}`);
      const crashed = await start(oooArgs(output, checkpoint), { STREAMKERNEL_TEST_CRASH: `${at}:${phase}` }).done;
      expect(crashed.signal).toBe('SIGKILL');
      // The checkpoint holds rows read but not yet written, waiting for later rows of their key.
      const text = readFileSync(path.join(checkpoint, 'checkpoint'), 'utf8');
      const body = JSON.parse(text.slice(text.indexOf('\n', text.indexOf('\n') + 1) + 1)) as { rows: number; offset: { rows: number }; ops: { held: { time: string[] } } };
      expect(body.ops.held.time.length).toBeGreaterThan(0);
      expect(body.rows).toBeLessThan(body.offset.rows);
      const resumed = await start(oooArgs(output, checkpoint)).done;
      expect(resumed.code).toBe(0);
      expect(resumed.stderr).toMatch(/resumed at row [1-9]/);
      expect(readFileSync(output).equals(oooReference)).toBe(true);
    }, 120_000);
  }

  it('regression: --workers > 1 refused time windows and --max-out-of-order; now killed at a checkpoint on 3 workers and resumed on 2, the bytes of one process', async () => {
    const output = path.join(dir, 'ooo-out-workers.csv');
    const checkpoint = path.join(dir, 'ooo-ck-workers');
    const crashed = await start([...oooArgs(output, checkpoint), '--workers', '3'], { STREAMKERNEL_TEST_CRASH: '4:after' }).done;
    expect(crashed.signal).toBe('SIGKILL');
    const text = readFileSync(path.join(checkpoint, 'checkpoint'), 'utf8');
    const body = JSON.parse(text.slice(text.indexOf('\n', text.indexOf('\n') + 1) + 1)) as { ops: { held: { time: string[] }; jobs: string[]; reorder: string } };
    // Rows held for reordering before the workers, and one scheduler checkpoint per op.
    expect(body.ops.jobs.length).toBe(3);
    expect(body.ops.reorder.length).toBeGreaterThan(0);
    expect(body.ops.held.time.length).toBeGreaterThan(0);
    const resumed = await start([...oooArgs(output, checkpoint), '--workers', '2']).done;
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/resumed at row [1-9]/);
    expect(readFileSync(output).equals(oooReference)).toBe(true);
  }, 120_000);
});
