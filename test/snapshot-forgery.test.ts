// Forged kernel snapshots (issue 17, item 10): state bytes edited and the
// CRC recomputed. The derived fields (block sums, suffix minima, shifted
// moments) must agree with the raw ring they are derived from, or the
// snapshot is refused: an accepted snapshot continues exactly as an
// uninterrupted run over the rows its ring holds. Genuine snapshots, at every
// cut point, are always accepted.
import { describe, expect, it } from 'vitest';
import { crc32 } from '../src/crc32.js';
import { createKernel, restoreKernel, SnapshotError, type Kernel, type RollingSpec } from '../src/index.js';
import { createTimeRolling, restoreTimeRolling } from '../src/time/rolling.js';
import { mulberry32, randInt, type Rng } from './adversarial.js';
import { refStdOf, refVarOf } from './reference.js';

/** Byte offsets in the state region (after the 44-byte snapshot header): the ring position and the ring. */
const STATE_AT = 44;
const LAYOUT: Record<string, { pos: number; ring: number }> = {
  sum: { pos: 32, ring: 64 },
  mean: { pos: 32, ring: 64 },
  count: { pos: 32, ring: 64 },
  min: { pos: 32, ring: 48 },
  max: { pos: 32, ring: 48 },
  var: { pos: 32, ring: 112 },
  std: { pos: 32, ring: 112 },
};

const SPECS: RollingSpec[] = [
  { op: 'sum', window: 6 },
  { op: 'sum', window: 600, minPeriods: 1 }, // several sub-blocks
  { op: 'mean', window: 7, minPeriods: 2 },
  { op: 'count', window: 5, minPeriods: 0 },
  { op: 'min', window: 6, minPeriods: 1 },
  { op: 'max', window: 4 },
  { op: 'var', window: 7, ddof: 0 },
  { op: 'var', window: 150, minPeriods: 1 }, // several sub-blocks
  { op: 'std', window: 5, minPeriods: 1 },
];

const SPECIAL = [0, -0, 1, -1, 2.5, 1e300, -1e300, 1e-310, -5e-324, Infinity, -Infinity, NaN, 1e9 + 0.5, 3];

function values(rng: Rng, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng();
    out[i] = r < 0.15 ? SPECIAL[randInt(rng, 0, SPECIAL.length - 1)]! : r < 0.25 ? NaN : Math.round((rng() - 0.5) * 2000) / 8;
  }
  return out;
}

function resealed(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(copy.length - 4, crc32(copy, 0, copy.length - 4), true);
  return copy;
}

function sameBits(a: Float64Array, b: Float64Array): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}

/**
 * The outputs a kernel of `spec` gives for `next` after the rows its snapshot's
 * ring holds, computed from those rows alone: a fresh kernel is fed a block
 * whose offsets [pos, W) are the ring's previous-block rows (NaN before them),
 * then the current block's rows [0, pos), so every row keeps its offset.
 */
async function continuationFromRing(spec: RollingSpec, bytes: Uint8Array, next: Float64Array): Promise<Float64Array> {
  const layout = LAYOUT[spec.op]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const w = spec.window!;
  const pos = view.getInt32(STATE_AT + layout.pos, true);
  const ring = new Float64Array(w);
  for (let i = 0; i < w; i++) ring[i] = view.getFloat64(STATE_AT + layout.ring + 8 * i, true);
  const fresh = await createKernel(spec);
  const history = new Float64Array(w + pos).fill(NaN);
  history.set(ring.subarray(pos), pos);
  history.set(ring.subarray(0, pos), w);
  fresh.push(history);
  return fresh.push(next);
}

async function tryRestore(bytes: Uint8Array): Promise<Kernel | undefined> {
  try {
    return await restoreKernel(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(SnapshotError);
    expect((error as SnapshotError).code).not.toBe(undefined);
    return undefined;
  }
}

/** Edits one field of the state: a byte flipped, or an f64 slot overwritten with a telling value. */
function forge(rng: Rng, genuine: Uint8Array): Uint8Array {
  const bytes = genuine.slice();
  const view = new DataView(bytes.buffer);
  const stateEnd = bytes.length - 4;
  const edits = randInt(rng, 1, 3);
  for (let e = 0; e < edits; e++) {
    const kind = rng();
    if (kind < 0.3) {
      const at = randInt(rng, STATE_AT + 32, stateEnd - 1);
      bytes[at] = bytes[at]! ^ (1 << randInt(rng, 0, 7));
    } else {
      const slot = STATE_AT + 8 * randInt(rng, 4, (stateEnd - STATE_AT) / 8 - 1);
      const old = view.getFloat64(slot, true);
      const choices = [0, -0, -old, old + 1, old * 2, old - 1e-9, 1e300, -1e300, Infinity, -Infinity, NaN, SPECIAL[randInt(rng, 0, SPECIAL.length - 1)]!];
      view.setFloat64(slot, choices[randInt(rng, 0, choices.length - 1)]!, true);
    }
  }
  return resealed(bytes);
}

describe('forged kernel snapshots', () => {
  it('every genuine snapshot, at every cut point, is accepted and continues bit-identically', async () => {
    const rng = mulberry32(17);
    for (const spec of SPECS) {
      const stream = values(rng, 3 * spec.window! + 40);
      const whole = await createKernel(spec);
      const expected = whole.push(stream);
      const live = await createKernel(spec);
      // Any batching gives the same state at a cut (batch invariance): one row at a time visits every cut point.
      for (let at = 1; at <= stream.length; at++) {
        live.push(stream.subarray(at - 1, at));
        const restored = await restoreKernel(live.snapshot());
        const rest = stream.subarray(at);
        expect(sameBits(restored.push(rest), expected.subarray(at)), `${JSON.stringify(spec)} cut at row ${at}`).toBe(true);
      }
    }
  });

  it('a genuine snapshot of a window larger than the IO buffers (validate() grows its scratch space) restores and continues bit-identically', async () => {
    const rng = mulberry32(5);
    for (const spec of [{ op: 'var', window: 20_000 }, { op: 'sum', window: 40_000 }] as RollingSpec[]) {
      const stream = values(rng, 50_000);
      const expected = (await createKernel(spec)).push(stream);
      const live = await createKernel(spec);
      live.push(stream.subarray(0, 45_001));
      const restored = await restoreKernel(live.snapshot());
      expect(sameBits(restored.push(stream.subarray(45_001)), expected.subarray(45_001))).toBe(true);
    }
  });

  it('regression: forged derived state (block sums, suffix minima, moments) with a recomputed CRC is refused; an accepted forgery continues exactly as its ring implies', async () => {
    const rng = mulberry32(2026);
    let accepted = 0, refused = 0;
    for (const spec of SPECS) {
      for (let round = 0; round < 12; round++) {
        const kernel = await createKernel(spec);
        kernel.push(values(rng, randInt(rng, 1, 3 * spec.window!)));
        const genuine = kernel.snapshot();
        for (let t = 0; t < (spec.window! > 100 ? 10 : 60); t++) {
          const forged = forge(rng, genuine);
          const restored = await tryRestore(forged);
          if (restored === undefined) {
            refused++;
            continue;
          }
          accepted++;
          const next = values(rng, 2 * spec.window! + 3);
          const want = await continuationFromRing(restored.spec as RollingSpec, forged, next);
          const got = restored.push(next);
          expect(sameBits(got, want), `${JSON.stringify(spec)}: forged snapshot accepted but continues differently`).toBe(true);
        }
      }
    }
    // Both outcomes occur: ring edits that keep the counts are accepted only with matching derived fields.
    expect(refused).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0);
  });

  it('regression: a min kernel snapshot whose suffix minimum is forged below every value in the window is refused', async () => {
    const kernel = await createKernel({ op: 'min', window: 4 });
    kernel.push(new Float64Array([5, 6, 7, 8, 9]));
    const bytes = kernel.snapshot();
    // pos = 1: the live suffix minima are at offsets 2..4 (of rows 7, 8).
    new DataView(bytes.buffer).setFloat64(STATE_AT + 48 + 8 * 4 + 8 * 2, -100, true);
    await expect(restoreKernel(resealed(bytes))).rejects.toMatchObject({
      code: 'BAD_STATE',
      message: 'snapshot state is inconsistent: an index, count, header or derived field disagrees with its rows',
    });
  });

  it('regression: a var kernel snapshot whose prefix moments are forged to zero on differing values is refused', async () => {
    const kernel = await createKernel({ op: 'var', window: 4 });
    kernel.push(new Float64Array([1, 2, 3, 4, 10, 20]));
    const bytes = kernel.snapshot();
    const view = new DataView(bytes.buffer);
    for (const field of [72, 80, 88, 96]) view.setFloat64(STATE_AT + field, 0, true); // S_SUB1, S_BLOCK1, S_SUB2, S_BLOCK2
    await expect(restoreKernel(resealed(bytes))).rejects.toMatchObject({ code: 'BAD_STATE' });
  });

  it('regression: a sum kernel snapshot whose running block sum is forged is refused', async () => {
    const kernel = await createKernel({ op: 'sum', window: 8 });
    kernel.push(new Float64Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]));
    const bytes = kernel.snapshot();
    new DataView(bytes.buffer).setFloat64(STATE_AT + 48, 1000, true); // S_ACC_SUB
    await expect(restoreKernel(resealed(bytes))).rejects.toMatchObject({ code: 'BAD_STATE' });
  });
});

/** The window rows (timestamps, values) of an unkeyed duration-rolling snapshot (layout: src/time/rolling.ts). */
function rollingRows(bytes: Uint8Array): { ts: Float64Array; val: Float64Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 24 + view.getUint32(16, true) + 24; // framing, spec, then rowsSeen, maxTs, lastSweep
  expect(view.getUint32(at, true)).toBe(0); // no key names
  const slots = view.getUint32(at + 4, true);
  if (slots === 0) return { ts: new Float64Array(0), val: new Float64Array(0) };
  at += 8 + 4 + 8; // slot count, key, last timestamp
  const len = view.getUint32(at, true);
  at += 8; // len, front
  const read = (from: number): Float64Array => Float64Array.from({ length: len }, (_, i) => view.getFloat64(from + 8 * i, true));
  return { ts: read(at), val: read(at + 8 * len) };
}

/** Equal, or both NaN, or within 1e-9 relative of the exact value. */
function close(a: number, b: number): boolean {
  if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  // Subnormal results carry few bits: a few units of 2⁻¹⁰⁷⁴ apart is as close as they get.
  return Math.abs(a - b) <= Math.max(1e-9 * Math.max(Math.abs(a), Math.abs(b)), 2e-323);
}

describe('forged duration-rolling snapshots', () => {
  it('regression: an accepted forged time-rolling var/std snapshot continues as its window rows imply (no var 0 of differing values)', async () => {
    const rng = mulberry32(99);
    let accepted = 0;
    for (const op of ['var', 'std'] as const) {
      for (let round = 0; round < 6; round++) {
        const spec = { op, window: 8, ddof: round % 2 };
        const live = await createTimeRolling(spec);
        const n = randInt(rng, 3, 30);
        live.push(Float64Array.from({ length: n }, (_, i) => i), values(rng, n));
        const genuine = live.snapshot();
        const len = rollingRows(genuine).val.length;
        // The slot's values end before the key-maximum and held-row counts (u32 each) and the CRC.
        const valuesAt = genuine.length - 12 - 8 * len;
        for (let t = 0; t < 40; t++) {
          const bytes = genuine.slice();
          const view = new DataView(bytes.buffer);
          if (len > 0 && rng() < 0.7) {
            view.setFloat64(valuesAt + 8 * randInt(rng, 0, len - 1), SPECIAL[randInt(rng, 0, SPECIAL.length - 1)]!, true);
          } else {
            const at = randInt(rng, 24, bytes.length - 5);
            bytes[at] = bytes[at]! ^ (1 << randInt(rng, 0, 7));
          }
          const forged = resealed(bytes);
          let restored;
          try {
            restored = await restoreTimeRolling(forged, spec); // a forged spec is refused against the expected one
          } catch (error) {
            expect(error).toBeInstanceOf(SnapshotError);
            continue;
          }
          accepted++;
          // The exact var/std of each continuation row's window: the forged window rows and the new rows in (t − 8, t].
          const rows = rollingRows(forged);
          const nextTs = Float64Array.from({ length: 12 }, (_, i) => n + i);
          const next = values(rng, 12);
          const allTs = [...rows.ts, ...nextTs];
          const allVal = [...rows.val, ...next];
          const got = restored.push(nextTs, next).values;
          for (let i = 0; i < got.length; i++) {
            const window = allVal.filter((_, j) => allTs[j]! > nextTs[i]! - 8 && allTs[j]! <= nextTs[i]!);
            const want = op === 'var' ? refVarOf(window, 1, spec.ddof) : refStdOf(window, 1, spec.ddof);
            expect(close(got[i]!, want), `${op}: row ${i}: ${got[i]} vs exact ${want} of [${window.join(', ')}]`).toBe(true);
          }
        }
      }
    }
    expect(accepted).toBeGreaterThan(0);
  });
});
