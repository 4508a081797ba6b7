// The WASM double formatter (assembly/kernels/dtoa.ts, issue 13) against
// String(x): byte for byte, on any double.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatNumbers, numberRows, ROWS_PER_CALL } from '../src/connectors/number-rows.js';

const bits = new BigUint64Array(1);
const asDouble = new Float64Array(bits.buffer);

function fromBits(b: bigint): number {
  bits[0] = b;
  return asDouble[0]!;
}

function toBits(x: number): bigint {
  asDouble[0] = x;
  return bits[0]!;
}

/** The doubles just below and above x (same sign side), and x. */
function around(x: number): number[] {
  const b = toBits(x);
  return [fromBits(b - 1n), x, fromBits(b + 1n)].filter((y) => !Number.isNaN(y));
}

function expectLikeString(values: readonly number[]): void {
  const got = formatNumbers(Float64Array.from(values));
  expect(got).toBeDefined();
  // Compare as one text, then name the first difference.
  if (got!.join('\n') !== values.map(String).join('\n')) {
    const i = values.findIndex((x, j) => got![j] !== String(x));
    expect(`${got![i]} (bits ${toBits(values[i]!).toString(16)})`).toBe(`${String(values[i])} (bits ${toBits(values[i]!).toString(16)})`);
  }
}

/** Edge cases: powers of 2 and 10 with their neighbours, subnormals, the extremes, integers near 2^53, the notation boundaries. */
function adversarial(): number[] {
  const xs: number[] = [0, -0, NaN, Infinity, -Infinity, 5e-324, -5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE];
  for (let e = -1074; e <= 1023; e++) xs.push(...around(2 ** e));
  for (let e = -323; e <= 308; e++) xs.push(...around(Number(`1e${e}`)), ...around(Number(`5e${e}`)), ...around(Number(`9.999999999999999e${e}`)));
  // Subnormals: the smallest ones one by one (their shortest text has 1 to 3 digits), the largest, and the smallest normal.
  for (let t = 1n; t <= 2000n; t++) xs.push(fromBits(t));
  xs.push(...around(fromBits((1n << 52n) - 1n)), ...around(2.2250738585072014e-308));
  for (let k = -100; k <= 100; k++) xs.push(2 ** 53 + k, -(2 ** 53) + k, 2 ** 54 + 2 * k, 2 ** 31 + k, 2 ** 32 + k);
  for (const b of [1e-7, 1e-6, 1e21, 1e20, 1.5e-7, 9.99999999999999e-8, 999999999999999900000]) xs.push(...around(b), ...around(-b));
  // Halfway and tie-prone values: short decimals, k + 0.5, 2^-n, the classic hard cases.
  for (let k = 0; k < 200; k++) xs.push(k + 0.5, k / 8, 1 / (k + 1), (k + 1) / 3, 0.1 * k, k * 1e-7);
  xs.push(1e23, 9007199254740993, 0.1 + 0.2, 2 / 3, 5e-310, 4.35e-322, 1.7976931348623157e308, 123456789012345680000, 9.5367431640625e-7);
  return xs;
}

describe('WASM double formatter (dtoa)', () => {
  it('is available in Node', () => {
    expect(numberRows()).toBeDefined();
  });

  it('property: any double (every bit pattern) is written as String(x)', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(fromBits), { minLength: 1, maxLength: 64 }), (values) => {
        expectLikeString(values);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.array(fc.double(), { minLength: 1, maxLength: 64 }), (values) => {
        expectLikeString(values);
      }),
      { numRuns: 2000 },
    );
  });

  it('writes the adversarial values (powers of 2 and 10, subnormals, extremes, 2^53, notation boundaries, ties) as String(x)', () => {
    expectLikeString(adversarial());
  });

  it('regression: a subnormal whose shortest text has one digit (5e-324, 5e-323) gets no second digit (Java renders 4.9E-324)', () => {
    expectLikeString([5e-324, 1e-323, 5e-323, -5e-323, 4e-323, 1.5e-323]);
    expect(formatNumbers(Float64Array.of(5e-323))).toEqual(['5e-323']);
  });

  it('a seeded sweep of 3 million doubles: random bit patterns, rolling-mean-like values and short decimals, as String(x)', () => {
    const n = 1 << 20;
    const values = new Float64Array(n);
    const words = new Uint32Array(values.buffer);
    let s = 0x2545f491;
    const next = (): number => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return s >>> 0;
    };
    const rows = numberRows()!;
    const decoder = new TextDecoder();
    for (const kind of ['bits', 'means', 'decimals'] as const) {
      for (let i = 0; i < n; i++) {
        if (kind === 'bits') {
          words[2 * i] = next();
          words[2 * i + 1] = next();
        } else if (kind === 'means') {
          values[i] = (next() / 2 ** 32) * 1000 + next() / 2 ** 52; // full 17-digit doubles
        } else {
          values[i] = (next() % 2_000_000) / 1000 - 1000; // 3 decimals, as read from a CSV
        }
      }
      rows.layout(['', '\n'], false);
      for (let from = 0; from < n; from += ROWS_PER_CALL) {
        const { text, ends } = rows.format([values], from, ROWS_PER_CALL);
        let expected = '';
        for (let i = from; i < from + ROWS_PER_CALL; i++) expected += `${String(values[i])}\n`;
        const got = decoder.decode(text.subarray(0, ends[ROWS_PER_CALL - 1]));
        if (got !== expected) expectLikeString(Array.from(values.subarray(from, from + ROWS_PER_CALL)));
      }
    }
  });

  it('writes short decimals (at most 6 digits after the point, below 2^30: written without Schubfach) and their neighbours as String(x)', () => {
    const xs: number[] = [];
    let s = 0x9e3779b9;
    const next = (): number => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return s >>> 0;
    };
    // 1 to 7 digits after the point (7: never a short decimal), integer parts up to and past 2^30.
    for (let d = 1; d <= 7; d++) {
      for (let i = 0; i < 3000; i++) {
        const ip = [0, next() % 10, next() % 100_000, next() % 2 ** 30, 2 ** 30 - 1 - (next() % 3), 2 ** 30 + (next() % 3), next() * 4][i % 7]!;
        const x = ip + (next() % 10 ** d) / 10 ** d;
        xs.push(...around(x), ...around(-x));
      }
    }
    // Next to integers and to the 10^-6 grid, the smallest ones, sums and means that are not short.
    for (let k = 0; k < 300; k++) xs.push(...around(k + 0.999999), ...around(k + 1e-6), ...around(k + 0.9999995), ...around(k * 1e-6), ...around(k * 1e-7), k + 0.1 + 0.2, (k + 1) / 7);
    xs.push(...around(2 ** 30 - 1e-6), ...around(2 ** 30 - 0.5), ...around(2 ** 29 + 0.123456), ...around(1073741823.999999), 463.42744000000005, 0.000001, 0.0000015);
    expectLikeString(xs);
  });

  it('writes NaN as null and infinities as strings in JSON mode, between the separators given', () => {
    const rows = numberRows()!;
    rows.layout(['{"a":', ',"b":', '}\n'], true);
    const { text, ends } = rows.format([Float64Array.of(NaN, 1.5, -0), Float64Array.of(Infinity, -Infinity, 1e21)], 0, 3);
    expect(new TextDecoder().decode(text.subarray(0, ends[2]))).toBe(
      '{"a":null,"b":"Infinity"}\n{"a":1.5,"b":"-Infinity"}\n{"a":0,"b":1e+21}\n',
    );
  });
});
