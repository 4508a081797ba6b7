// Issue 20 on the CLI: live output with --workers > 1, --idle-timeout and
// --follow. Inputs are paced by the output (test/live-run.ts): a row whose
// result does not come before the next row is written hangs the test.
import { describe, expect, it } from 'vitest';
import { paced, TIMEOUT } from './live-run.js';

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
