// Hostile inputs for the time-window layer (issue 17): timestamps where ms
// arithmetic is no longer exact (a nanosecond epoch) must be refused, never
// loop; var/std of windows holding huge or tiny values must agree with the
// count-window kernel's scaled path.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../src/crc32.js';
import { createKernel } from '../src/kernel.js';
import { createCountWindows } from '../src/time/count.js';
import { createTimeRolling, restoreTimeRolling } from '../src/time/rolling.js';
import { createWindows, windowIndexRange } from '../src/time/windows.js';
import type { WindowSpec } from '../src/types.js';
import { mulberry32 } from './adversarial.js';

const NS_EPOCH = 1.7e18; // 2023 in nanoseconds

describe('timestamps beyond exact ms arithmetic', () => {
  it('regression: tumbling/hopping windows of 10–100 ms on a nanosecond epoch are refused (RangeError naming the row), not looped over', async () => {
    const specs: WindowSpec[] = [
      { kind: 'tumbling', op: 'sum', size: 10 },
      { kind: 'tumbling', op: 'mean', size: '100ms' },
      { kind: 'hopping', op: 'sum', size: 100, step: 10 },
    ];
    for (const spec of specs) {
      for (const t of [NS_EPOCH, 1e17, -1e17]) {
        const op = await createWindows(spec);
        expect(() => op.push([0, 1, t], [1, 2, 3])).toThrow(/^timestamps\[2\] \(row 2\) must be within ±2\^53 ms/);
      }
    }
  });

  it('regression: a row whose window index is not an exact integer (tiny step, huge offset) is refused, not looped over', async () => {
    const tiny = await createWindows({ kind: 'hopping', op: 'sum', size: 1e-9, step: 1e-9 });
    expect(() => tiny.push([1, 2e9], [1, 2])).toThrow(
      'timestamps[1] (row 1) is too far from the window grid: |t − offset| + size must be below 2^52 · step (step 1e-9 ms), got t = 2000000000',
    );
    expect(() => windowIndexRange(NS_EPOCH, 10, 10, 0)).toThrow(/is too far from the window grid/);
    const far = await createWindows({ kind: 'tumbling', op: 'sum', size: 10, offset: 1e17 });
    expect(() => far.push([5], [1])).toThrow(/^timestamps\[0\] \(row 0\) is too far from the window grid/);
  });

  it('regression: duration rolling and session windows refuse a nanosecond epoch (their bounds t ± duration would round)', async () => {
    const roll = await createTimeRolling({ op: 'sum', window: '5s' });
    expect(() => roll.push([1, NS_EPOCH], [1, 2])).toThrow(/^timestamps\[1\] \(row 1\) must be within ±2\^53 ms/);
    const sessions = await createWindows({ kind: 'session', op: 'sum', gap: 10 });
    expect(() => sessions.push([NS_EPOCH], [1])).toThrow(/^timestamps\[0\] \(row 0\) must be within ±2\^53 ms/);
  });

  it('regression: a duration-rolling snapshot whose greatest timestamp is forged to a nanosecond epoch is refused', async () => {
    const op = await createTimeRolling({ op: 'sum', window: '5s' });
    op.push([1, 2], [1, 2]);
    const bytes = op.snapshot();
    const view = new DataView(bytes.buffer);
    view.setFloat64(24 + view.getUint32(16, true) + 8, NS_EPOCH, true); // after the spec and the row counter
    view.setUint32(bytes.length - 4, crc32(bytes, 0, bytes.length - 4), true);
    await expect(restoreTimeRolling(bytes)).rejects.toMatchObject({ code: 'BAD_STATE' });
  });

  it('timestamps up to ±2^53 ms still work exactly at the edge of the range', async () => {
    const t = 2 ** 53 - 22; // a multiple of 10
    const op = await createWindows({ kind: 'tumbling', op: 'sum', size: 10 });
    const windows = [...op.push([t, t + 5, t + 12], [1, 2, 4]).windows, ...op.flush().windows];
    expect(windows.map((w) => [w.start, w.end, w.value])).toEqual([
      [t, t + 10, 3],
      [t + 10, t + 20, 4],
    ]);
    const roll = await createTimeRolling({ op: 'sum', window: 10 });
    expect(Array.from(roll.push([-(2 ** 53), -(2 ** 53) + 4], [1, 2]).values)).toEqual([1, 3]);
  });
});

describe('var/std of windows holding huge or tiny values', () => {
  /** Same value, or both within a relative 1e-9 (different summation orders); 0, ±Inf and NaN exactly. */
  function agrees(a: number, b: number): boolean {
    if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) return true;
    if (!Number.isFinite(a) || !Number.isFinite(b) || a === 0 || b === 0) return false;
    return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
  }

  const HOSTILE = [1e300, -1e300, 1e200, 1e150, -1e160, 1e-300, -1e-300, 1e-310, 5e-324, 2e-320, 0, -0, 1, 2, -3, 1e9, Infinity, NaN];

  function hostileRows(seed: number, n: number): Float64Array {
    const rng = mulberry32(seed);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const r = rng();
      // Mostly one magnitude per stretch, so whole windows of huge or tiny values occur.
      const base = HOSTILE[Math.floor(i / 7 + seed) % 10]!;
      out[i] = r < 0.3 ? HOSTILE[Math.floor(rng() * HOSTILE.length)]! : r < 0.7 ? base * (1 + Math.floor(rng() * 5)) : Math.round(rng() * 100) - 50;
    }
    return out;
  }

  it('regression: var/std of [1, 1e300, 2] is +Inf / finite in time rolling, tumbling and count windows (not 0), as the count-window kernel gives', async () => {
    const rows = [1, 1e300, 2];
    const ts = [0, 1, 2];
    const std = 1e300 / Math.sqrt(3); // deviations ≈ (−1, 2, −1)·1e300/3
    for (const op of ['var', 'std'] as const) {
      const kernel = (await createKernel({ op, window: 3 })).push(new Float64Array(rows))[2]!;
      const rolling = (await createTimeRolling({ op, window: 10 })).push(ts, rows).values[2]!;
      const tumbling = await createWindows({ kind: 'tumbling', op, size: 10 });
      const grid = [...tumbling.push(ts, rows).windows, ...tumbling.flush().windows][0]!.value;
      const count = (await createCountWindows({ op, size: 3 })).push(rows).windows[0]!.value;
      const sessions = await createWindows({ kind: 'session', op, gap: 10 });
      const session = [...sessions.push(ts, rows).windows, ...sessions.flush().windows][0]!.value;
      const expected = op === 'var' ? Infinity : std;
      for (const value of [kernel, rolling, grid, count, session]) expect(agrees(value, expected), `${op}: ${value}`).toBe(true);
    }
  });

  it('regression: std of tiny values (1e-300 apart) is not 0 in any window kind', async () => {
    const rows = [1e-300, 2e-300, 3e-300];
    const ts = [0, 1, 2];
    const rolling = (await createTimeRolling({ op: 'std', window: 10 })).push(ts, rows).values[2]!;
    const count = (await createCountWindows({ op: 'std', size: 3 })).push(rows).windows[0]!.value;
    const tumbling = await createWindows({ kind: 'tumbling', op: 'std', size: 10 });
    const grid = [...tumbling.push(ts, rows).windows, ...tumbling.flush().windows][0]!.value;
    for (const value of [rolling, count, grid]) expect(agrees(value, 1e-300)).toBe(true);
  });

  it('regression: merging sessions whose values are ±1e308 apart gives the std of all their rows (no overflow to NaN or 0)', async () => {
    const op = await createWindows({ kind: 'session', op: 'std', gap: 15, maxOutOfOrderness: 100 });
    // Two sessions, then a row between them that merges them.
    const out = [...op.push([0, 20, 10], [1e308, -1e308, 0]).windows, ...op.flush().windows];
    const merged = out.filter((w) => w.count === 3);
    expect(merged).toHaveLength(1);
    expect(agrees(merged[0]!.value, 1e308)).toBe(true);
  });

  it('fuzz: time rolling, tumbling and count windows agree with the count-window kernel on the same rows (±1e±300, subnormals, ±0, ±Inf, NaN)', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const n = 120;
      const rows = hostileRows(seed, n);
      const ts = Float64Array.from({ length: n }, (_, i) => i);
      for (const op of ['var', 'std'] as const) {
        for (const [w, ddof] of [[1, 0], [3, 1], [5, 0], [8, 1]] as const) {
          const kernel = (await createKernel({ op, window: w, minPeriods: 1, ddof })).push(rows);
          const rolling = (await createTimeRolling({ op, window: w, ddof })).push(ts, rows).values;
          for (let i = 0; i < n; i++) expect(agrees(rolling[i]!, kernel[i]!), `rolling ${op} w=${w} seed ${seed} row ${i}: ${rolling[i]} vs ${kernel[i]}`).toBe(true);
          const tumbling = await createWindows({ kind: 'tumbling', op, size: w, ddof });
          const grid = [...tumbling.push(ts, rows).windows, ...tumbling.flush().windows];
          const count = (await createCountWindows({ op, size: w, ddof })).push(rows).windows;
          for (const win of [...grid, ...count]) {
            const last = win.end - 1;
            if (last >= n) continue;
            expect(agrees(win.value, kernel[last]!), `${op} w=${w} seed ${seed} window ending ${win.end}: ${win.value} vs ${kernel[last]}`).toBe(true);
          }
        }
      }
    }
  });
});

describe('the CLI on hostile time windows', () => {
  // `run` end to end on the compiled CLI (dist/, built by `npm run build`).
  const bin = fileURLToPath(new URL('../bin/streamkernel.js', import.meta.url));
  function run(csv: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
    const dir = mkdtempSync(path.join(tmpdir(), 'sk-hostile-'));
    try {
      const input = path.join(dir, 'in.csv');
      writeFileSync(input, csv);
      return spawnSync(process.execPath, [bin, 'run', input, ...args], { encoding: 'utf8', timeout: 60_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('regression: run --window 5s --op var of [1, 1e300, 2] gives Infinity (and std 5.77e299), not 0', () => {
    const out = run('ts,v\n0,1\n1000,1e300\n2000,2\n', ['--value', 'v', '--time', 'ts', '--op', 'var', '--op', 'std', '--window', '5s']);
    expect(out.status).toBe(0);
    const last = out.stdout.trim().split('\n').at(-1)!.split(',');
    expect(last[2]).toBe('Infinity');
    expect(Math.abs(Number(last[3]) / (1e300 / Math.sqrt(3)) - 1)).toBeLessThan(1e-12);
  });

  it('regression: run --window on a nanosecond epoch fails with the row named instead of hanging', () => {
    const out = run('ts,v\n0,1\n1.7e18,2\n', ['--value', 'v', '--time', 'ts', '--op', 'var', '--window', '5s']);
    expect(out.status).not.toBe(0);
    expect(out.stderr).toContain('timestamps[1] (row 1) must be within ±2^53 ms');
  });
});
