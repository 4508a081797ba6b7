// Bad specs and bad batches throw with the field named. The engine picks the
// wording, so messages are matched on the field name only.
//
// Every entry point is checked: rolling()/ewm() (a rejected promise or a
// synchronous throw both count) and createKernel().

import { describe, expect, it } from 'vitest';
import { createKernel, ewm, rolling } from '../src/index.js';
import { type Kernel, type KernelSpec, MAX_WINDOW } from '../src/types.js';

type ErrorClass = typeof TypeError | typeof RangeError;

/** The error thrown (synchronously or as a rejection) by f, or a failure if none. */
async function thrown(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, but nothing was thrown');
}

async function expectError(f: () => unknown, classes: ErrorClass | ErrorClass[], field: RegExp, label: string): Promise<void> {
  const e = await thrown(f);
  const allowed = Array.isArray(classes) ? classes : [classes];
  const ok = allowed.some((c) => e instanceof c);
  expect(ok, `${label}: expected ${allowed.map((c) => c.name).join(' or ')}, got ${String(e)}`).toBe(true);
  expect((e as Error).message, `${label}: the message should name the field`).toMatch(field);
}

/** Checks a bad rolling spec on rolling() and createKernel(). */
async function badRolling(spec: unknown, classes: ErrorClass | ErrorClass[], field: RegExp): Promise<void> {
  const label = JSON.stringify(spec, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
  await expectError(() => rolling([1, 2, 3], spec as never), classes, field, `rolling(…, ${label})`);
  await expectError(() => createKernel(spec as KernelSpec), classes, field, `createKernel(${label})`);
}

/** Checks a bad ewm spec on ewm() and createKernel({ op: 'ewm', … }). */
async function badEwm(spec: Record<string, unknown>, classes: ErrorClass | ErrorClass[], field: RegExp): Promise<void> {
  const label = JSON.stringify(spec);
  await expectError(() => ewm([1, 2, 3], spec as never), classes, field, `ewm(…, ${label})`);
  await expectError(() => createKernel({ op: 'ewm', ...spec } as KernelSpec), classes, field, `createKernel(ewm ${label})`);
}

const WINDOW = /\bwindow\b/;
const MIN_PERIODS = /\bminPeriods\b/;
const Q = /\bq\b/;
const OP = /\bop\b/;
const DDOF = /\bddof\b/;

describe('window', () => {
  for (const window of [0, -1, -7, 2.5, NaN, MAX_WINDOW + 1, 2 ** 31, Infinity]) {
    it(`window ${window} → RangeError naming window`, async () => {
      for (const op of ['sum', 'min', 'var', 'median'] as const) await badRolling({ op, window }, RangeError, WINDOW);
      await badRolling({ op: 'quantile', window, q: 0.5 }, RangeError, WINDOW);
    });
  }
  it('window missing or not a number → TypeError or RangeError naming window', async () => {
    await badRolling({ op: 'sum' }, [TypeError, RangeError], WINDOW);
    await badRolling({ op: 'sum', window: '3' }, [TypeError, RangeError], WINDOW);
  });
  it('window 1 and a window longer than the input are fine', async () => {
    expect(Array.from(await rolling([1, 2], { op: 'sum', window: 1 }))).toEqual([1, 2]);
    expect(Array.from(await rolling([1, 2], { op: 'sum', window: 1000, minPeriods: 1 }))).toEqual([1, 3]);
  });
});

describe('minPeriods', () => {
  for (const minPeriods of [4, 100, -1, 1.5, NaN]) {
    it(`minPeriods ${minPeriods} with window 3 → RangeError naming minPeriods`, async () => {
      for (const op of ['sum', 'count', 'max', 'std', 'median'] as const) await badRolling({ op, window: 3, minPeriods }, RangeError, MIN_PERIODS);
      await badRolling({ op: 'quantile', window: 3, minPeriods, q: 0.5 }, RangeError, MIN_PERIODS);
    });
  }
  it('minPeriods = window and minPeriods = 0 are fine', async () => {
    expect(Array.from(await rolling([1, 2, 3], { op: 'sum', window: 3, minPeriods: 3 }))).toEqual([NaN, NaN, 6]);
    expect(Array.from(await rolling([1, 2, 3], { op: 'sum', window: 3, minPeriods: 0 }))).toEqual([1, 3, 6]);
  });
  for (const minPeriods of [-1, 0.5]) {
    it(`ewm minPeriods ${minPeriods} → RangeError naming minPeriods`, async () => {
      await badEwm({ alpha: 0.5, minPeriods }, RangeError, MIN_PERIODS);
    });
  }
});

describe('q', () => {
  for (const q of [-0.1, 1.1, -Infinity, Infinity, NaN]) {
    it(`q ${q} → RangeError naming q`, async () => {
      await badRolling({ op: 'quantile', window: 3, q }, RangeError, Q);
    });
  }
  it('q missing for quantile → TypeError (or RangeError) naming q', async () => {
    await badRolling({ op: 'quantile', window: 3 }, [TypeError, RangeError], Q);
  });
  it('q on an op other than quantile is refused, naming q (types.ts: "not allowed elsewhere")', async () => {
    await badRolling({ op: 'median', window: 3, q: 0.5 }, [TypeError, RangeError], Q);
  });
  it('q 0 and 1 are fine', async () => {
    expect(Array.from(await rolling([3, 1, 2], { op: 'quantile', window: 3, q: 0 }))).toEqual([NaN, NaN, 1]);
    expect(Array.from(await rolling([3, 1, 2], { op: 'quantile', window: 3, q: 1 }))).toEqual([NaN, NaN, 3]);
  });
});

describe('ddof', () => {
  for (const ddof of [-1, 0.5, NaN]) {
    it(`ddof ${ddof} → RangeError naming ddof`, async () => {
      await badRolling({ op: 'var', window: 3, ddof }, RangeError, DDOF);
      await badRolling({ op: 'std', window: 3, ddof }, RangeError, DDOF);
    });
  }
  it('ddof on an op other than var/std is refused, naming ddof (types.ts: "Only for var and std")', async () => {
    await badRolling({ op: 'sum', window: 3, ddof: 1 }, [TypeError, RangeError], DDOF);
  });
});

describe('op', () => {
  for (const op of ['avg', 'SUM', '', 'ewm ', undefined, 3, null]) {
    it(`op ${JSON.stringify(op) ?? 'undefined'} → TypeError naming op`, async () => {
      await badRolling({ op, window: 3 }, TypeError, OP);
    });
  }
  it("rolling() refuses op 'ewm' with a TypeError naming op", async () => {
    await expectError(() => rolling([1, 2], { op: 'ewm', window: 3 } as never), TypeError, OP, 'rolling ewm');
  });
  it('a spec that is not an object → TypeError', async () => {
    for (const spec of [null, undefined, 'sum', 3]) {
      await expectError(() => rolling([1], spec as never), TypeError, /./, `rolling(…, ${String(spec)})`);
      await expectError(() => createKernel(spec as never), TypeError, /./, `createKernel(${String(spec)})`);
    }
  });
});

describe('ewm decay parameters', () => {
  it('none of alpha/span/halflife/com → TypeError', async () => {
    await badEwm({}, TypeError, /alpha|span|halflife|com/);
    await badEwm({ adjust: true, minPeriods: 1 }, TypeError, /alpha|span|halflife|com/);
  });
  const pairs: Record<string, number>[] = [
    { alpha: 0.5, span: 3 },
    { alpha: 0.5, halflife: 2 },
    { alpha: 0.5, com: 1 },
    { span: 3, halflife: 2 },
    { span: 3, com: 1 },
    { halflife: 2, com: 1 },
    { alpha: 0.5, span: 3, halflife: 2, com: 1 },
  ];
  for (const spec of pairs) {
    it(`two or more of them (${Object.keys(spec).join(', ')}) → TypeError`, async () => {
      await badEwm(spec, TypeError, new RegExp(Object.keys(spec).join('|')));
    });
  }
  const outOfRange: [string, number][] = [
    ['alpha', 0],
    ['alpha', -0.5],
    ['alpha', 1.5],
    ['span', 0.5],
    ['span', -1],
    ['halflife', 0],
    ['halflife', -2],
    ['com', -1],
  ];
  for (const [field, v] of outOfRange) {
    it(`${field} ${v} (out of range per types.ts) → RangeError naming ${field}`, async () => {
      await badEwm({ [field]: v }, RangeError, new RegExp(`\\b${field}\\b`));
    });
  }
  it('alpha NaN → error naming alpha', async () => {
    await badEwm({ alpha: NaN }, [TypeError, RangeError], /\balpha\b/);
  });
  it('alpha 1, span 1, com 0 are fine (alpha = 1)', async () => {
    for (const spec of [{ alpha: 1 }, { span: 1 }, { com: 0 }]) {
      expect(Array.from(await ewm([1, NaN, 3], spec)), JSON.stringify(spec)).toEqual([1, 1, 3]);
    }
  });
});

describe('non-numeric batches', () => {
  const bad: [string, unknown][] = [
    ['a string array', ['1', '2']],
    ['an array with a string', [1, '2', 3]],
    ['an array with null', [1, null, 3]],
    ['an array with undefined', [1, undefined]],
    ['an array with an object', [1, {}, 3]],
    ['an array with a boolean', [1, true]],
    ['an array with a bigint', [1, 2n]],
    ['a plain object', { 0: 1, length: 1 }],
    ['a string', '123'],
    ['a number', 5],
    ['null', null],
    ['undefined', undefined],
  ];
  for (const [label, values] of bad) {
    it(`rolling() and ewm() refuse ${label} with a TypeError`, async () => {
      const e1 = await thrown(() => rolling(values as never, { op: 'sum', window: 2 }));
      expect(e1, `rolling: ${String(e1)}`).toBeInstanceOf(TypeError);
      const e2 = await thrown(() => ewm(values as never, { alpha: 0.5 }));
      expect(e2, `ewm: ${String(e2)}`).toBeInstanceOf(TypeError);
    });
    it(`Kernel.push refuses ${label} with a TypeError`, async () => {
      const k: Kernel = await createKernel({ op: 'mean', window: 2 });
      try {
        expect(() => k.push(values as never)).toThrow(TypeError);
        // The kernel is unharmed: it still gives the results of a fresh one.
        expect(Array.from(k.push(Float64Array.of(1, 3)))).toEqual([NaN, 2]);
      } finally {
        k.dispose();
      }
    });
  }
  it('Kernel.push refuses an out array that is too short or not a Float64Array', async () => {
    const k = await createKernel({ op: 'sum', window: 2 });
    try {
      for (const out of [new Float64Array(2), [0, 0, 0]]) {
        const e = await thrown(() => k.push(Float64Array.of(1, 2, 3), out as never));
        expect(e instanceof TypeError || e instanceof RangeError, String(e)).toBe(true);
      }
    } finally {
      k.dispose();
    }
  });
});

describe('normalized spec', () => {
  it('fills in the defaults', async () => {
    const cases: [KernelSpec, Record<string, unknown>][] = [
      [{ op: 'sum', window: 5 }, { op: 'sum', window: 5, minPeriods: 5 }],
      [{ op: 'count', window: 5, minPeriods: 0 }, { op: 'count', window: 5, minPeriods: 0 }],
      [{ op: 'var', window: 5 }, { op: 'var', window: 5, minPeriods: 5, ddof: 1 }],
      [{ op: 'std', window: 5, ddof: 0 }, { op: 'std', window: 5, minPeriods: 5, ddof: 0 }],
      [{ op: 'quantile', window: 5, q: 0.3 }, { op: 'quantile', window: 5, minPeriods: 5, q: 0.3 }],
    ];
    for (const [spec, expected] of cases) {
      const k = await createKernel(spec);
      expect(k.spec, JSON.stringify(spec)).toMatchObject(expected);
      k.dispose();
    }
    const k = await createKernel({ op: 'ewm', span: 3 });
    expect(k.spec).toMatchObject({ op: 'ewm', alpha: 0.5, adjust: true, minPeriods: 0 });
    k.dispose();
  });
});
