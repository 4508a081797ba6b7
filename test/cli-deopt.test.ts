// The CLI's per-batch loops under the JIT, watched through V8's --trace-deopt
// in a child process: which functions' optimized code is thrown away. A JIT
// property, not a timing: the counts do not depend on the machine's speed.
// The pattern: a loop first run before its function has type feedback is
// compiled on stack replacement with none for the code that had not run yet
// (a rare branch, the lines after the loop), and that code deoptimizes when
// a later batch reaches it, then compiles again.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from './cli-harness.js';

/** Deoptimizations by function in a CLI run (`node --trace-deopt bin/streamkernel.js ...args`). */
function deopts(args: readonly string[]): Map<string, number> {
  const r = spawnSync(process.execPath, ['--trace-deopt', BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(r.status, r.stderr).toBe(0);
  const counts = new Map<string, number>();
  for (const m of r.stdout.matchAll(/\[bailout \(kind: [^)]*\): begin\. deoptimizing \S+ <JSFunction (\S+)/g)) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  return counts;
}

const of = (counts: Map<string, number>, names: readonly string[]): [string, number][] => [...counts].filter(([name]) => names.includes(name));

const dir = mkdtempSync(path.join(tmpdir(), 'sk-deopt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the demo\'s per-batch loops under the JIT', () => {
  it('regression: markKeys called markKey in its loop, first run before type feedback, and the demo\'s sink read its carry after its line loop; both optimized codes deoptimized on the second batch (and compiled again); neither deoptimizes now', () => {
    const counts = deopts(['demo']);
    expect(of(counts, ['markKeys', 'firstUnmarked', '_write', 'skipLines']), JSON.stringify([...counts])).toEqual([]);
  });
});

describe('the order check of time windows under the JIT', () => {
  it('regression: checkOrder pushed a late row in its loop; with the first late row in the second batch, the push had no type feedback in the code compiled during the first and deoptimized it; nextLateRow returns at a late row and neither deoptimizes now', () => {
    // 140 000 rows of 3 keys, 2 % behind within the bound, one late row (row 100 000, in the second batch of 65 536).
    let x = 1;
    const random = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 4294967296;
    const lines = ['t,k,v'];
    for (let i = 0; i < 140_000; i++) {
      let t = i * 10;
      if (i > 10 && random() < 0.02) t -= 40;
      if (i === 100_000) t -= 20_000;
      lines.push(`${t},k${i % 3},${i % 97}`);
    }
    const file = path.join(dir, 'late.csv');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const counts = deopts(['run', file, '--time', 't', '--key', 'k', '--value', 'v', '--op', 'mean', '--window', '1s', '--max-out-of-order', '100ms', '--on-error', 'skip', '--batch-size', '65536', '--quiet']);
    expect(of(counts, ['checkOrder', 'nextLateRow']), JSON.stringify([...counts])).toEqual([]);
  });
});

describe('per-batch loops that read their state at entry, under the JIT', () => {
  it('regression: keyIdBlock read out.length at its entry (and a version of the reorderer\'s hold read this.bound there), first run before type feedback, so its TurboFan code deoptimized on entry at the demo\'s next batch; both take it from their caller and do not deoptimize now', () => {
    // The deopt came in about half the runs (the function's whole compile must land between batches): three demos.
    for (let run = 0; run < 3; run++) {
      const counts = deopts(['demo']);
      expect(of(counts, ['keyIdBlock', 'hold']), JSON.stringify([...counts])).toEqual([]);
    }
  });
});
