// pandas fixtures (scripts/make-time-fixtures.py, pandas 1.5.3): rolling by
// duration with every `closed` and minPeriods, groupby().rolling(), and
// resample()/groupby().resample() for tumbling windows.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../src/time/duration.js';
import { rollingByTime } from '../src/time/rolling.js';
import { windowsByTime } from '../src/time/windows.js';
import type { ClosedSide, Duration, TimeOp } from '../src/types.js';
import { fmt } from './reference.js';

type Num = number | string;
const dec = (x: Num): number => (typeof x === 'number' ? x : Number(x));

interface Data {
  ts: number[];
  v: Num[];
  key?: number[];
}

function load<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

const EXACT = new Set<TimeOp>(['count', 'min', 'max', 'median', 'quantile']);

/** Exact ops bit for bit; sum/mean/var/std within 1e-9 relative (pandas adds and subtracts; we do not). */
function close(op: TimeOp, expected: number, actual: number): boolean {
  if (Number.isNaN(expected) || Number.isNaN(actual)) return Number.isNaN(expected) && Number.isNaN(actual);
  if (EXACT.has(op)) return expected === actual;
  return Math.abs(expected - actual) <= 1e-9 * Math.max(1, Math.abs(expected));
}

describe('pandas fixtures: rolling by duration', () => {
  const fx = load<{ unkeyed: Data; keyed: Data; cases: { op: TimeOp; window: Duration; closed: ClosedSide; minPeriods: number | null; keyed: boolean; expected: Num[] }[] }>('time-rolling.json');

  it(`df.rolling(window, on='ts', closed, min_periods) and groupby('key').rolling(...): ${fx.cases.length} cases`, async () => {
    const failures: string[] = [];
    for (const c of fx.cases) {
      const data = c.keyed ? fx.keyed : fx.unkeyed;
      const spec = {
        op: c.op,
        window: c.window,
        closed: c.closed,
        keys: c.keyed ? ('number' as const) : ('none' as const),
        ...(c.minPeriods === null ? {} : { minPeriods: c.minPeriods }),
        ...(c.op === 'quantile' ? { q: 0.25 } : {}),
      };
      const got = await rollingByTime(data.ts, data.v.map(dec), spec, c.keyed ? Uint32Array.from(data.key!) : undefined);
      for (let i = 0; i < got.length; i++) {
        const e = dec(c.expected[i]!);
        if (!close(c.op, e, got[i]!)) {
          failures.push(`${JSON.stringify(spec)} row ${i} (t ${data.ts[i]}): pandas ${fmt(e)}, got ${fmt(got[i]!)}`);
          break;
        }
      }
    }
    expect(failures.slice(0, 5).join('\n')).toBe('');
  });
});

describe('pandas fixtures: tumbling windows', () => {
  const fx = load<{ unkeyed: Data; keyed: Data; cases: { op: TimeOp; size: string; offset: Duration | null; keyed: boolean; bins: { key?: number; start: number; value: Num }[] }[] }>('time-resample.json');

  it(`resample(size, offset) and groupby('key').resample(...): ${fx.cases.length} cases`, async () => {
    const failures: string[] = [];
    for (const c of fx.cases) {
      const data = c.keyed ? fx.keyed : fx.unkeyed;
      const spec = {
        kind: 'tumbling' as const,
        op: c.op,
        size: (c.size === '1min' ? '1m' : c.size) as Duration,
        ...(c.offset === null ? {} : { offset: c.offset }),
        keys: c.keyed ? ('number' as const) : ('none' as const),
        ...(c.op === 'quantile' ? { q: 0.25 } : {}),
      };
      const { windows, late } = await windowsByTime(data.ts, data.v.map(dec), spec, c.keyed ? Uint32Array.from(data.key!) : undefined);
      const got = new Map(windows.map((w) => [`${w.key}/${w.start}`, w]));
      if (late.length > 0) failures.push(`${JSON.stringify(spec)}: ${late.length} late rows from in-order data`);
      if (got.size !== c.bins.length) failures.push(`${JSON.stringify(spec)}: ${got.size} windows, pandas has ${c.bins.length} non-empty bins`);
      for (const b of c.bins) {
        const w = got.get(`${b.key ?? 0}/${b.start}`);
        const e = dec(b.value);
        if (w === undefined) failures.push(`${JSON.stringify(spec)}: no window for key ${b.key ?? 0} at ${b.start}`);
        else if (w.end !== b.start + parseDuration(spec.size, 'size')) failures.push(`${JSON.stringify(spec)}: window at ${b.start} ends at ${w.end}`);
        else if (!close(c.op, e, w.value)) failures.push(`${JSON.stringify(spec)} key ${b.key ?? 0} bin ${b.start}: pandas ${fmt(e)}, got ${fmt(w.value)}`);
        if (failures.length > 5) break;
      }
    }
    expect(failures.slice(0, 5).join('\n')).toBe('');
  });
});
