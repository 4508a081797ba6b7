// Issue 20 on the CLI: live output with --workers > 1, --idle-timeout and
// --follow. Inputs are paced by the output (test/live-run.ts): a row whose
// result does not come before the next row is written hangs the test.
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LiveRun, paced, TIMEOUT } from './live-run.js';

describe('live CLI with workers', () => {
  it(
    'regression: with --workers 2 on a live stdin a row’s result is written before the next row arrives, not one batch later',
    async () => {
      const args = ['--value', 'v', '--key', 'k', '--op', 'sum', '--op', 'max', '--window', '2', '--workers', '2'];
      const rows = ['a,1', 'b,2', 'a,3', 'b,4', 'a,5'];
      const { seen, code, stdout } = await paced(args, 'k,v', rows);
      expect(seen[0]).toEqual(['k,v,sum,max', 'a,1,NaN,NaN']);
      expect(code).toBe(0);
      expect(stdout).toBe('k,v,sum,max\na,1,NaN,NaN\nb,2,NaN,NaN\na,3,4,3\nb,4,6,4\na,5,8,5\n');
    },
    TIMEOUT,
  );

  it(
    'regression: with --workers 2 time windows on a live stdin also answer each row before the next is written',
    async () => {
      const args = ['--format', 'ndjson', '--value', 'v', '--time', 't', '--key', 'k', '--op', 'sum', '--window', '2s', '--workers', '2'];
      const rows = ['{"t":1000,"k":"a","v":1}', '{"t":2000,"k":"b","v":2}', '{"t":2500,"k":"a","v":3}'];
      const { seen, code } = await paced(args, undefined, rows);
      expect(code).toBe(0);
      expect(seen[2]).toEqual(['{"t":1000,"k":"a","v":1,"sum":1}', '{"t":2000,"k":"b","v":2,"sum":2}', '{"t":2500,"k":"a","v":3,"sum":4}']);
    },
    TIMEOUT,
  );
});

describe('run --idle-timeout', () => {
  const args = ['--value', 'v', '--time', 't', '--op', 'sum', '--window', '1s', '--max-out-of-order', '200ms'];

  for (const workers of ['1', '2']) {
    it(
      `a row held for reordering is written after --idle-timeout with no further input (--workers ${workers}); a row then behind the advanced time is late`,
      async () => {
        const run = new LiveRun([...args, '--idle-timeout', '20ms', '--on-error', 'skip', '--progress', '--workers', workers]);
        run.child.stdin.write('t,v\n1000,1\n');
        // Without the idle timeout this row waits for a row 200 ms later in event time.
        expect(await run.lines(2)).toEqual(['t,v,sum', '1000,1,1']);
        run.child.stdin.write('900,2\n'); // within 200ms of 1000, but the time has moved on by the idle time since
        run.child.stdin.write('9000,4\n');
        const { code, stdout, stderr } = await run.end();
        expect(code).toBe(0);
        expect(stdout).toBe('t,v,sum\n1000,1,1\n9000,4,4\n');
        expect(stderr).toMatch(/2 rows, 1 late row \(more than 200ms out of order\) skipped/);
      },
      TIMEOUT,
    );
  }

  it('without --idle-timeout the held row waits for later input (the output depends only on the rows)', async () => {
    const run = new LiveRun([...args, '--max-delay', '0']);
    run.child.stdin.write('t,v\n1000,1\n');
    expect(await run.lines(1)).toEqual(['t,v,sum']);
    run.child.stdin.write('1100,2\n1500,3\n');
    expect(await run.lines(3)).toEqual(['t,v,sum', '1000,1,1', '1100,2,3']);
    expect((await run.end()).stdout).toBe('t,v,sum\n1000,1,1\n1100,2,3\n1500,3,6\n');
  }, TIMEOUT);

  it('regression: --idle-timeout and --follow are validated with exact errors (exit 1)', async () => {
    const cases: [string[], string][] = [
      [['--value', 'v', '--op', 'sum', '--window', '2', '--idle-timeout', '1s'], '--idle-timeout applies only to time windows with --max-out-of-order (the rows it releases are those held for reordering)'],
      [[...args, 'in.csv', '--idle-timeout', '1s'], '--idle-timeout applies only to live input (stdin, or FILE with --follow)'],
      [['--value', 'v', '--time', 't', '--op', 'sum', '--tumbling', '1s', '--max-out-of-order', '1s', '--idle-timeout', '1s'], '--idle-timeout applies only to time windows with --max-out-of-order (the rows it releases are those held for reordering)'],
      [[...args, '--idle-timeout', '0'], '--idle-timeout must be above 0'],
      [[...args, '--idle-timeout', '5'], '--idle-timeout needs a unit, such as 5s or 250ms, got "5"'],
      [[...args, '--follow'], '--follow needs an input FILE (stdin is live already)'],
      [[...args, 'in.csv', '--follow', '-o', 'out.csv', '--checkpoint', 'ck'], '--checkpoint does not apply with --follow (a growing FILE is not the input a checkpoint was taken of)'],
    ];
    for (const [a, message] of cases) {
      const { code, stdout, stderr } = await new LiveRun(a).end();
      expect({ a, code, stdout, stderr }).toEqual({ a, code: 1, stdout: '', stderr: `streamkernel run: ${message} (see 'streamkernel run --help')\n` });
    }
  }, TIMEOUT);
});

describe('run FILE --follow', () => {
  it(
    'rows appended to FILE are answered as they come; truncation reads it again from the start (its header skipped); SIGINT ends the run cleanly with the summary',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sk-follow-'));
      try {
        const file = path.join(dir, 'in.csv');
        writeFileSync(file, 'v\n1\n2\n');
        const run = new LiveRun([file, '--follow', '--value', 'v', '--op', 'sum', '--window', '2', '--progress']);
        expect(await run.lines(3)).toEqual(['v,sum', '1,NaN', '2,3']);
        appendFileSync(file, '3\n');
        expect(await run.lines(4)).toEqual(['v,sum', '1,NaN', '2,3', '3,5']);
        writeFileSync(file, 'v\n10\n'); // truncated (copytruncate-style rotation), header again
        expect((await run.lines(5))[4]).toBe('10,13');
        await run.stderrHas('was truncated: reading it again from its start');
        const { code, stdout, stderr } = await run.stop('SIGINT');
        expect(code).toBe(0);
        expect(stdout).toBe('v,sum\n1,NaN\n2,3\n3,5\n10,13\n');
        expect(stderr).toMatch(/streamkernel run: 4 rows; 1 op in /);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    TIMEOUT,
  );

  it(
    'a rotated FILE (renamed, a new file created under its name) is read to its end, then the new file from its start; SIGTERM ends the run, -o FILE complete',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sk-follow-'));
      try {
        const file = path.join(dir, 'in.ndjson');
        const out = path.join(dir, 'out.ndjson');
        writeFileSync(file, '{"v":1}\n');
        const run = new LiveRun([file, '--follow', '--value', 'v', '--op', 'max', '--window', '3', '-o', out, '-q']);
        // The first row's output is in the temporary file (renamed over -o at the end): the CLI has the file open.
        await waitFor(() => readIfThere(path.join(dir, '.out.ndjson.partial')).includes('"max"'));
        renameSync(file, `${file}.1`);
        appendFileSync(`${file}.1`, '{"v":5}\n'); // still the followed file until it ends
        writeFileSync(file, '{"v":2}\n');
        await run.stderrHas('was replaced (rotated): reading the new file from its start');
        const { code, stderr } = await run.stop('SIGTERM');
        expect({ code, stderr: stderr.replace(/^.*was replaced.*\n/m, '') }).toEqual({ code: 0, stderr: '' });
        expect(readFileSync(out, 'utf8')).toBe('{"v":1,"max":null}\n{"v":5,"max":null}\n{"v":2,"max":5}\n');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    TIMEOUT,
  );
});

function readIfThere(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

async function waitFor(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((resolve) => setTimeout(resolve, 20));
}
