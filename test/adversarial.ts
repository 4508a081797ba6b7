// Seeded generator of adversarial input series for the rolling kernels.
//
// Every case is named, deterministic (own PRNG, no Math.random) and short
// enough (≤ 240 rows) that the slow reference stays fast. Magnitudes are
// capped at about 1e300 so that no window sum of a finite input overflows:
// an overflow would be a legitimate ±Infinity, and the contract says nothing
// about it.

/** mulberry32: a small, fast, seeded 32-bit PRNG. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rng = () => number;

/** A standard normal deviate (Box–Muller). */
export function gaussian(rng: Rng): number {
  let u = rng();
  while (u === 0) u = rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}

function series(n: number, f: (i: number) => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f(i);
  return out;
}

function setRange(a: Float64Array, from: number, to: number, f: (i: number) => number): void {
  for (let i = from; i < to && i < a.length; i++) a[i] = f(i);
}

export interface AdversarialCase {
  name: string;
  values: Float64Array;
  /** The case holds −0 next to +0; the contract does not fix which zero min/max/median/quantile return. */
  signedZeros?: boolean;
}

/** Values that stress something: every kind of special double. */
export const SPECIAL_VALUES: readonly number[] = [
  NaN,
  Infinity,
  -Infinity,
  0,
  1,
  -1,
  0.1,
  1 / 3,
  1e300,
  -1e300,
  1e-300,
  -1e-300,
  1e15,
  -1e15,
  1e15 + 1,
  2 ** 53,
  2 ** 53 - 1,
  -(2 ** 53),
  Number.MIN_VALUE, // 5e-324, the smallest subnormal
  -Number.MIN_VALUE,
  2.2250738585072014e-308, // smallest normal
  2.225073858507201e-308, // largest subnormal
  1e9,
  1e9 + 0.5,
];

/** Every adversarial case, deterministically from `seed`. */
export function adversarialCases(seed = 20240601): AdversarialCase[] {
  const rng = mulberry32(seed);
  const g = (): number => gaussian(rng);
  const cases: AdversarialCase[] = [];
  const add = (name: string, values: Float64Array, extra: Partial<AdversarialCase> = {}): void => {
    cases.push({ name, values, ...extra });
  };

  add('empty', new Float64Array(0));
  add('single value', Float64Array.of(2.5));
  add('short (5 rows, shorter than most windows)', Float64Array.of(3, NaN, -1, 4, 4));

  add('normal N(0,1)', series(200, g));

  {
    const a = series(240, g);
    setRange(a, 10, 13, () => NaN);
    setRange(a, 30, 31, () => NaN);
    setRange(a, 50, 120, () => NaN); // 70 rows: longer than the 64-row window
    setRange(a, 150, 152, () => NaN);
    setRange(a, 235, 240, () => NaN);
    add('NaN runs (one longer than the window)', a);
  }
  add('all NaN', series(80, () => NaN));
  add('leading NaN run then values', series(150, (i) => (i < 90 ? NaN : g())));
  add('isolated values among NaN', series(200, (i) => (i % 9 === 0 ? g() : NaN)));

  {
    const a = series(200, g);
    for (const i of [20, 21, 100, 199]) a[i] = Infinity;
    add('+Inf among values', a);
  }
  {
    const a = series(220, g);
    a[30] = Infinity;
    a[32] = -Infinity; // same window as 30 for window ≥ 3
    a[100] = -Infinity;
    a[101] = Infinity; // adjacent
    a[105] = Infinity;
    a[170] = -Infinity; // alone
    add('+Inf and -Inf in the same window', a);
  }
  {
    const a = series(200, g);
    setRange(a, 10, 15, () => Infinity);
    setRange(a, 40, 45, () => -Infinity);
    setRange(a, 80, 90, (i) => (i % 2 === 0 ? Infinity : NaN));
    setRange(a, 120, 130, (i) => (i % 3 === 0 ? -Infinity : i % 3 === 1 ? NaN : Infinity));
    add('Inf runs, Inf interleaved with NaN', a);
  }
  add('only ±Inf and NaN', series(150, () => pick(rng, [Infinity, -Infinity, NaN])));

  add('huge: N(0,1)·1e300', series(200, () => g() * 1e300));
  add('huge and unit magnitudes mixed', series(200, () => (rng() < 0.3 ? pick(rng, [1e300, -1e300]) * (1 + rng()) : g())));
  {
    const a = series(220, g);
    setRange(a, 60, 72, () => (rng() < 0.5 ? -1e15 : 1e15) * (1 + rng()));
    setRange(a, 140, 220, () => 0.3);
    add('±1e15 burst, then N(0,1), then a constant', a);
  }
  {
    const a = series(200, () => 1 / 3);
    setRange(a, 0, 20, () => (rng() < 0.5 ? -1e15 : 1e15) + g());
    add('±1e15 burst then constant 1/3', a);
  }
  add('alternating ±1e15 and small values', series(200, (i) => (i % 2 === 0 ? (i % 4 === 0 ? 1e15 : -1e15) : g())));
  add('tiny: N(0,1)·1e-300', series(200, () => g() * 1e-300));
  add(
    'subnormals',
    series(200, (i) => {
      if (i % 17 === 0) return Number.MIN_VALUE;
      if (i % 23 === 0) return 2.225073858507201e-308;
      return (rng() < 0.5 ? -1 : 1) * randInt(rng, 1, 2 ** 30) * Number.MIN_VALUE;
    }),
  );
  add(
    'tiny and subnormal mixed with 1e-300',
    series(200, () => (rng() < 0.5 ? g() * 1e-300 : randInt(rng, -1000, 1000) * Number.MIN_VALUE)),
  );
  add('constant 0.1', series(200, () => 0.1));
  add('constant 7.25 with NaN holes', series(200, (i) => (i % 7 === 3 || (i > 100 && i < 110) ? NaN : 7.25)));
  add('constant 1e9 + 0.1', series(150, () => 1e9 + 0.1));
  add('ties: small integers with NaN', series(220, () => (rng() < 0.1 ? NaN : randInt(rng, 0, 3))));
  add('ties with ±Inf', series(200, () => pick(rng, [-Infinity, 1, 2, 2, Infinity, NaN])));
  add('offset: 1e9 + N(0,1)', series(200, () => 1e9 + g()));
  add(
    'offset: level shifts between 1e9 + N(0,1), -1e9 + N(0,1), N(0,1)',
    series(240, (i) => [1e9, -1e9, 0][Math.floor(i / 50) % 3]! + g()),
  );
  add('integers near 2^53', series(200, () => 2 ** 53 - randInt(rng, 0, 1000)));
  add('monotone increasing', series(200, (i) => i * 0.5));
  add('monotone decreasing', series(200, (i) => 100 - i));
  add('sawtooth', series(200, (i) => i % 10));
  add('mixture of special values', series(240, () => pick(rng, SPECIAL_VALUES)));
  add('signed zeros', series(200, () => pick(rng, [0, -0, 0, -0, 1, -1, NaN])), { signedZeros: true });

  return cases;
}
