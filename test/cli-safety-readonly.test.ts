// `streamkernel run --checkpoint DIR` on a directory that turns read-only
// (issue 17, item 3). Root writes through permission bits, so the test runs
// the job in process and makes the file system refuse writes and removals
// inside DIR with EROFS, exactly as a read-only mount does (even where there
// is nothing to remove): deterministic, and no mount needed.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { readCheckpoint } from '../src/cli/checkpoint.js';
import { Output } from '../src/cli/output.js';
import { parseRun, type RunCommand } from '../src/cli/run-args.js';
import { runJob } from '../src/cli/run.js';

/**
 * Inside `dir`: `writes` more files may be opened for writing, then EROFS;
 * `unlinks` false: removing fails with EROFS; `full`: files open, but writing
 * into them fails with ENOSPC.
 */
const readOnly = vi.hoisted(() => ({ dir: undefined as string | undefined, writes: Infinity, unlinks: true, full: false }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const { resolve, sep } = await import('node:path');
  const inside = (p: unknown): p is string => readOnly.dir !== undefined && typeof p === 'string' && resolve(p).startsWith(readOnly.dir + sep);
  const failure = (code: string, message: string, syscall: string, p: string): NodeJS.ErrnoException =>
    Object.assign(new Error(`${code}: ${message}, ${syscall} '${p}'`), { code, syscall, path: p });
  const erofs = (syscall: string, p: string): NodeJS.ErrnoException => failure('EROFS', 'read-only file system', syscall, p);
  const open = (async (p: string, flags?: string, ...rest: unknown[]) => {
    const writing = inside(p) && flags !== undefined && flags !== 'r';
    if (writing) {
      if (readOnly.writes <= 0) throw erofs('open', p);
      readOnly.writes--;
    }
    const handle = await (real.open as (...a: unknown[]) => Promise<import('node:fs/promises').FileHandle>)(p, flags, ...rest);
    if (writing && readOnly.full) handle.writeFile = () => Promise.reject(failure('ENOSPC', 'no space left on device', 'write', p));
    return handle;
  }) as typeof real.open;
  const unlink = ((p: string) => (inside(p) && !readOnly.unlinks ? Promise.reject(erofs('unlink', p)) : real.unlink(p))) as typeof real.unlink;
  return { ...real, default: { ...real, open, unlink }, open, unlink };
});

let dir: string;
let input: string;
let reference: string;
const ROWS = 1000;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sk-readonly-'));
  const lines = ['k,v'];
  for (let i = 0; i < ROWS; i++) lines.push(`key${i % 4},${(i * 13) % 29}`);
  input = path.join(dir, 'in.csv');
  writeFileSync(input, `${lines.join('\n')}\n`);
  const out = path.join(dir, 'reference.csv');
  expect((await run(['-o', out])).code).toBe(0);
  reference = readFileSync(out, 'utf8');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => Object.assign(readOnly, { dir: undefined, writes: Infinity, unlinks: true, full: false }));

/** Runs the job in process: its exit code and stderr. */
async function run(extra: readonly string[]): Promise<{ code: number; stderr: string }> {
  const cmd = parseRun([input, '--value', 'v', '--key', 'k', '--op', 'mean', '--op', 'max', '--window', '7', '--batch-size', '100', ...extra]) as RunCommand;
  let stderr = '';
  const err = new PassThrough();
  err.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  const code = await runJob(cmd, { stdin: Readable.from([]), out: new Output(new PassThrough()), stderr: err, stderrIsTTY: false });
  return { code, stderr };
}

let n = 0;
/** A fresh output file and checkpoint directory; the directory read-only from now on, but for `writes` opens. */
function readOnlyCase(writes: number): { output: string; ck: string; args: string[] } {
  n++;
  const output = path.join(dir, `out-${n}.csv`);
  const ck = path.join(dir, `ck-${n}`);
  Object.assign(readOnly, { dir: ck, writes, unlinks: false });
  return { output, ck, args: ['-o', output, '--checkpoint', ck] };
}

describe('run --checkpoint on a read-only directory', () => {
  it('regression: a read-only --checkpoint directory does not delete the finished output (removing the checkpoint fails with EROFS)', async () => {
    const { output, ck, args } = readOnlyCase(0);
    // No checkpoint is due before the end: the run completes, then removing the (absent) checkpoint fails.
    const r = await run([...args, '--checkpoint-every', String(10 * ROWS)]);
    expect(r).toEqual({ code: 0, stderr: '' });
    expect(readFileSync(output, 'utf8')).toBe(reference);
    expect(existsSync(path.join(ck, 'checkpoint'))).toBe(false);
  });

  it('regression: a checkpoint that cannot be removed after success is a warning; the output stays (exit 0)', async () => {
    const { output, ck, args } = readOnlyCase(Infinity);
    const r = await run([...args, '--checkpoint-every', '300']);
    const file = path.join(ck, 'checkpoint');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      `streamkernel run: warning: the output is complete, but the checkpoint ${JSON.stringify(file)} cannot be removed: read-only file system; remove it before the next run\n`,
    );
    expect(readFileSync(output, 'utf8')).toBe(reference);
    expect(existsSync(file)).toBe(true);
  });

  it('regression: a checkpoint that cannot be written when due names its directory (exit 3), keeps the output and the previous checkpoint, and the run resumes from it', async () => {
    // The first checkpoint (300 rows) is written, the second is refused.
    const { output, ck, args } = readOnlyCase(1);
    const r = await run([...args, '--checkpoint-every', '300']);
    expect(r).toEqual({ code: 3, stderr: `streamkernel run: cannot write the checkpoint in ${JSON.stringify(ck)}: read-only file system\n` });
    const kept = await readCheckpoint(ck);
    expect(kept?.offset.rows).toBe(300);
    expect(readFileSync(output).length).toBeGreaterThanOrEqual(kept?.outputBytes ?? Infinity);
    // Writable again: the same command resumes from the kept checkpoint to the same bytes.
    readOnly.dir = undefined;
    const resumed = await run([...args, '--checkpoint-every', '300', '--progress']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resumed at row 300/);
    expect(readFileSync(output, 'utf8')).toBe(reference);
    expect(existsSync(path.join(ck, 'checkpoint'))).toBe(false);
  });

  it('regression: a first checkpoint that cannot be written names its directory (exit 3) and leaves neither output nor checkpoint', async () => {
    const { output, ck, args } = readOnlyCase(0);
    const r = await run([...args, '--checkpoint-every', '300']);
    expect(r).toEqual({ code: 3, stderr: `streamkernel run: cannot write the checkpoint in ${JSON.stringify(ck)}: read-only file system\n` });
    expect(existsSync(output)).toBe(false);
    expect(existsSync(path.join(ck, 'checkpoint'))).toBe(false);
  });

  it('regression: a checkpoint that cannot be written for a full disk leaves no temporary file in its directory (exit 3)', async () => {
    const { ck, args } = readOnlyCase(Infinity);
    Object.assign(readOnly, { unlinks: true, full: true });
    const r = await run([...args, '--checkpoint-every', '300']);
    expect(r).toEqual({ code: 3, stderr: `streamkernel run: cannot write the checkpoint in ${JSON.stringify(ck)}: no space left on device\n` });
    expect(readdirSync(ck)).toEqual([]);
  });

  it('a --checkpoint path whose parent is a regular file is refused at the start (exit 3); an existing output is untouched', async () => {
    const output = path.join(dir, 'existing.csv');
    writeFileSync(output, 'keep me\n');
    const parent = path.join(dir, 'plain-file');
    writeFileSync(parent, '');
    const ck = path.join(parent, 'ck');
    const r = await run(['-o', output, '--checkpoint', ck]);
    expect(r).toEqual({ code: 3, stderr: `streamkernel run: cannot use checkpoint directory ${JSON.stringify(ck)}: not a directory\n` });
    expect(readFileSync(output, 'utf8')).toBe('keep me\n');
  });
});
