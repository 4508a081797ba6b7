// `streamkernel run` on a live stdin: a row's result is written while the
// input is still open, before the next row is written. Each test spawns the
// compiled CLI (dist/) with a pipe as stdin and paces its input by its output:
// no timing assertion, only a generous overall timeout.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LiveRun, paced, TIMEOUT } from './live-run.js';

describe('run on a live stdin', () => {
  it(
    'regression: on stdin a row’s result is written as it arrives, not when a 65 536-row batch fills or the input ends',
    async () => {
      const { seen, code, stdout } = await paced(['--value', 'v', '--op', 'mean', '--window', '2'], 't,v', ['1,1', '2,2', '3,3', '4,4', '5,5']);
      expect(seen[0]).toEqual(['v,mean', '1,NaN']);
      expect(seen[4]?.at(-1)).toBe('5,4.5');
      expect(code).toBe(0);
      expect(stdout).toBe('v,mean\n1,NaN\n2,1.5\n3,2.5\n4,3.5\n5,4.5\n');
    },
    TIMEOUT,
  );

  it(
    'regression: keyed time windows and NDJSON on a live stdin also answer each row before the next is written',
    async () => {
      const rows = ['{"t":1000,"k":"a","v":1}', '{"t":2000,"k":"b","v":2}', '{"t":2500,"k":"a","v":3}'];
      const { seen, code } = await paced(['--format', 'ndjson', '--value', 'v', '--time', 't', '--key', 'k', '--op', 'sum', '--window', '2s'], undefined, rows);
      expect(code).toBe(0);
      expect(seen[2]).toEqual(['{"t":1000,"k":"a","v":1,"sum":1}', '{"t":2000,"k":"b","v":2,"sum":2}', '{"t":2500,"k":"a","v":3,"sum":4}']);
    },
    TIMEOUT,
  );

  it(
    'a row split over two writes is answered once its line ends',
    async () => {
      const run = new LiveRun(['--value', 'v', '--op', 'sum', '--window', '1']);
      run.child.stdin.write('v\n1');
      run.child.stdin.write('2\n');
      expect(await run.lines(2)).toEqual(['v,sum', '12,12']);
      run.child.stdin.write('3.5\n');
      expect(await run.lines(3)).toEqual(['v,sum', '12,12', '3.5,3.5']);
      expect((await run.end()).code).toBe(0);
    },
    TIMEOUT,
  );

  it(
    '--max-delay 0 writes after every read; the output is that of any other --max-delay',
    async () => {
      const { seen, code, stdout } = await paced(['--value', 'v', '--op', 'max', '--window', '3', '--max-delay', '0'], 'v', ['3', '1', '2', '0']);
      expect(seen[3]).toEqual(['v,max', '3,NaN', '1,NaN', '2,3', '0,2']);
      expect(code).toBe(0);
      expect(stdout).toBe('v,max\n3,NaN\n1,NaN\n2,3\n0,2\n');
    },
    TIMEOUT,
  );

  it('regression: --max-delay is validated with exact errors (exit 1): a unit is needed, a FILE refuses it', async () => {
    const cases: [string[], string][] = [
      [['--max-delay', '50'], '--max-delay needs a unit, such as 5s or 250ms, got "50"'],
      [
        ['--max-delay', 'soon'],
        "--max-delay must be a duration such as 5s, 250ms, 1m30s: max-delay must be a duration like '250ms', '5s', '1m30s' (units ms, s, m, h, d), got 'soon' (bad at character 0)",
      ],
      [['--max-delay', ''], '--max-delay must not be empty'],
      [['input.csv', '--max-delay', '5ms'], '--max-delay applies only to stdin (a FILE is read in full batches)'],
    ];
    for (const [args, message] of cases) {
      const run = new LiveRun(['--value', 'v', '--op', 'sum', '--window', '1', ...args]);
      const { code, stdout, stderr } = await run.end();
      expect({ args, code, stdout, stderr }).toEqual({ args, code: 1, stdout: '', stderr: `streamkernel run: ${message} (see 'streamkernel run --help')\n` });
    }
  }, TIMEOUT);

  it('run --help describes --max-delay and its default', async () => {
    const run = new LiveRun(['--help']);
    const { code, stdout } = await run.end();
    expect(code).toBe(0);
    expect(stdout).toMatch(/\n {2}--max-delay D {9}stdin \(a pipe or terminal\): the longest a row read waits/);
    expect(stdout).toMatch(/\(default: 50ms\)/);
  }, TIMEOUT);

  it('batch cuts on a live stdin never change the output: pieces written one by one give the bytes of the same input as a FILE', async () => {
    // Keyed time windows with reordering and a skipped late row: the state that crosses batch cuts.
    const lines = ['t,k,v'];
    let s = 11;
    for (let i = 0; i < 300; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const jitter = s % 7 === 0 ? -1500 : 0;
      lines.push(`${i * 100 + jitter + 5000},k${s % 3},${i % 5 === 0 ? '' : (s % 1000) / 8}`);
    }
    const csv = `${lines.join('\n')}\n`;
    const dir = mkdtempSync(path.join(tmpdir(), 'sk-live-'));
    try {
      const file = path.join(dir, 'in.csv');
      writeFileSync(file, csv);
      const args = ['--value', 'v', '--time', 't', '--key', 'k', '--op', 'mean', '--op', 'max', '--window', '2s', '--max-out-of-order', '1s', '--on-error', 'skip', '-q'];
      const whole = await new LiveRun([file, ...args]).end();
      expect(whole.code).toBe(0);
      const run = new LiveRun([...args, '--max-delay', '0']);
      for (let at = 0, n = 1; at < csv.length; at += n, n = (n * 7) % 97 + 1) {
        run.child.stdin.write(csv.slice(at, at + n));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const live = await run.end();
      expect(live.code).toBe(0);
      expect(live.stdout).toBe(whole.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, TIMEOUT);
});
