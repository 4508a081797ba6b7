// Shared helpers for the scheduler tests. The scheduler is imported from
// dist/ (npm test builds first): its worker script is dist/src/scheduler/worker-node.js,
// which Node can run directly, while vitest runs the tests from TypeScript.
import { createKernel } from '../src/index.js';
import type { KernelSpec } from '../src/types.js';

export * from '../dist/src/scheduler/index.js';
export { fileCheckpointStore, fileSink, nodeWorkers } from '../dist/src/scheduler/node.js';

/** A small deterministic generator (mulberry32), shared with the kernel tests. */
export { mulberry32 as prng } from './adversarial.js';

export function int(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

export function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

/** Values with NaN, ±Infinity, repeats and large offsets mixed in. */
export function makeValues(rand: () => number, n: number, specials = true): Float64Array {
  const values = new Float64Array(n);
  const base = rand() < 0.3 ? 1e9 : 0;
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (specials && r < 0.05) values[i] = NaN;
    else if (specials && r < 0.06) values[i] = rand() < 0.5 ? Infinity : -Infinity;
    else if (r < 0.1) values[i] = 3;
    else values[i] = base + Math.round((rand() - 0.5) * 2000) / 8;
  }
  return values;
}

export function makeKeys(rand: () => number, n: number, distinct: number): Uint32Array {
  const keys = new Uint32Array(n);
  const ids = Array.from({ length: distinct }, () => Math.floor(rand() * 0xffffffff));
  for (let i = 0; i < n; i++) keys[i] = ids[Math.floor(rand() * distinct)]!;
  return keys;
}

/** The single-threaded result: one kernel per key, each fed its rows in order. */
export async function reference(spec: KernelSpec, values: Float64Array, keys?: Uint32Array): Promise<Float64Array> {
  if (keys === undefined) {
    const k = await createKernel(spec);
    const out = k.push(values);
    k.dispose();
    return out;
  }
  const rowsOf = new Map<number, number[]>();
  for (let i = 0; i < keys.length; i++) {
    let rows = rowsOf.get(keys[i]!);
    if (rows === undefined) rowsOf.set(keys[i]!, (rows = []));
    rows.push(i);
  }
  const out = new Float64Array(values.length);
  for (const rows of rowsOf.values()) {
    const k = await createKernel(spec);
    const r = k.push(Float64Array.from(rows, (i) => values[i]!));
    rows.forEach((row, j) => (out[row] = r[j]!));
    k.dispose();
  }
  return out;
}

export function sameBytes(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Index of the first row whose bytes differ, or -1. */
export function firstDifference(a: Float64Array, b: Float64Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (!Object.is(a[i], b[i])) return i;
  return a.length === b.length ? -1 : n;
}

export function randomSpec(rand: () => number): KernelSpec {
  const op = pick(rand, ['sum', 'mean', 'var', 'std', 'min', 'max', 'count', 'median', 'quantile', 'ewm'] as const);
  if (op === 'ewm') return { op, alpha: pick(rand, [0.1, 0.3, 0.5]), adjust: rand() < 0.5, minPeriods: int(rand, 0, 3) };
  const window = pick(rand, [1, 2, 3, 7, 16, 50, 64, 100]);
  const minPeriods = int(rand, 0, window);
  // The draws stay in this order (window, minPeriods, then q or ddof): seeds reproduce their specs.
  if (op === 'quantile') return { op, window, minPeriods, q: pick(rand, [0, 0.25, 0.9, 1]) };
  if (op === 'var' || op === 'std') return { op, window, minPeriods, ddof: int(rand, 0, 1) };
  return { op, window, minPeriods };
}
