// The reorderer (src/time/reorder.ts) against a plain model: per key, rows
// are held until the key's greatest timestamp minus the bound passes them,
// then released in (timestamp, row) order; a snapshot round trip in between
// changes nothing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Reorderer, type Released } from '../src/time/reorder.js';
import { ByteReader, ByteWriter } from '../src/time/snapshot.js';

interface Held {
  ts: number;
  row: number;
  val: number;
  key: number;
}

/** The model: arrays and a sort, nothing clever. */
class Model {
  readonly max = new Map<number, number>();
  held: Held[] = [];
  constructor(readonly bound: number) {}
  private releaseKey(key: number, out: Held[]): void {
    const until = (this.max.get(key) as number) - this.bound;
    const go = this.held.filter((h) => h.key === key && h.ts <= until).sort((a, b) => a.ts - b.ts || a.row - b.row);
    this.held = this.held.filter((h) => !go.includes(h));
    out.push(...go);
  }
  push(ts: number[], vals: number[], keys: number[], base: number): Held[] {
    const out: Held[] = [];
    ts.forEach((t, i) => {
      const key = keys[i] as number;
      this.max.set(key, Math.max(this.max.get(key) ?? -Infinity, t));
      this.held.push({ ts: t, row: base + i, val: vals[i] as number, key });
      this.releaseKey(key, out);
    });
    return out;
  }
  advance(ms: number): Held[] {
    const out: Held[] = [];
    for (const [key, m] of this.max) {
      this.max.set(key, m + ms);
      this.releaseKey(key, out);
    }
    return out;
  }
  flush(): Held[] {
    const out = [...this.held].sort((a, b) => a.ts - b.ts || a.row - b.row);
    this.held = [];
    return out;
  }
}

const rowsOf = (r: Released): Held[] => Array.from(r.ts, (ts, i) => ({ ts, row: r.row[i] as number, val: r.val[i] as number, key: r.key[i] as number }));

/** A copy of `r` through its snapshot bytes. */
function roundTrip(r: Reorderer, rowsSeen: number): Reorderer {
  const w = new ByteWriter();
  r.write(w);
  const copy = new Reorderer(r.bound);
  copy.install(copy.read(new ByteReader(w.bytes()), rowsSeen, () => undefined));
  return copy;
}

type Step = { kind: 'batch'; rows: { key: number; dt: number; val: number }[] } | { kind: 'advance'; ms: number } | { kind: 'snapshot' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('batch' as const), rows: fc.array(fc.record({ key: fc.constantFrom(0, 1, 2, 3, 65_535, 65_536, 2 ** 32 - 1), dt: fc.integer({ min: -6, max: 3 }), val: fc.double({ noNaN: false }) }), { maxLength: 60 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(8) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const) }) },
);

describe('Reorderer', () => {
  it('property: releases exactly the model\'s rows in the model\'s order (push, advance, flush, snapshot round trips), many rows held per key', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(step, { maxLength: 12 }), (bound, steps) => {
        let r = new Reorderer(bound);
        const model = new Model(bound);
        const clock = new Map<number, number>();
        let seen = 0;
        for (const s of steps) {
          if (s.kind === 'advance') {
            for (const [k, t] of clock) clock.set(k, t + s.ms);
            expect(rowsOf(r.advance(s.ms))).toEqual(model.advance(s.ms));
          } else if (s.kind === 'snapshot') {
            r = roundTrip(r, seen);
          } else {
            // Times within the bound of the key's greatest: the reorderer's contract (tooLate refuses the rest).
            const ts = s.rows.map(({ key, dt }) => {
              const m = clock.get(key) ?? 0;
              const t = Math.max(m - bound, m + dt);
              clock.set(key, Math.max(m, t));
              return t;
            });
            const vals = s.rows.map((x) => x.val);
            const keys = s.rows.map((x) => x.key);
            expect(r.tooLate(Float64Array.from(ts), Uint32Array.from(keys))).toBeUndefined();
            expect(rowsOf(r.push(Float64Array.from(ts), Float64Array.from(vals), Uint32Array.from(keys), seen))).toEqual(model.push(ts, vals, keys, seen));
            seen += ts.length;
          }
        }
        expect(rowsOf(r.flush())).toEqual(model.flush());
      }),
      { numRuns: 300 },
    );
  });

  it('keeps released columns apart between calls (each call returns fresh arrays)', () => {
    const r = new Reorderer(1);
    const a = r.push(Float64Array.of(0, 5), Float64Array.of(1, 2), Uint32Array.of(0, 0), 0);
    const b = r.push(Float64Array.of(9), Float64Array.of(3), Uint32Array.of(0), 2);
    expect([...a.ts, ...a.val, ...a.row]).toEqual([0, 1, 0]);
    expect([...b.ts, ...b.val, ...b.row]).toEqual([5, 2, 1]);
  });

  it('releases thousands of rows in one call, in order, beyond its columns\' first size', () => {
    const n = 5000;
    const ts = Float64Array.from({ length: n }, (_, i) => n - i); // all within a bound of n, newest first
    const r = new Reorderer(n);
    expect(r.push(ts, ts, Uint32Array.from(ts, (t) => t % 3), 0).ts.length).toBe(0);
    const out = r.advance(2 * n);
    // Keys in order of their first row (5000 % 3 = 2, then 1, then 0), each in time order.
    expect(Array.from(out.ts)).toEqual(Array.from({ length: n }, (_, i) => i + 1).sort((a, b) => (b % 3) - (a % 3) || a - b));
    expect(Array.from(out.row, (row) => ts[row])).toEqual(Array.from(out.ts));
  });

  it('property: a snapshot lists each key\'s held rows in the order of a binary heap sifted by swaps (the order snapshots always had)', () => {
    /** The classic heap: append and swap up, move the last to the root and swap down. */
    class SwapHeap {
      e: Held[] = [];
      private less = (a: Held, b: Held): boolean => a.ts < b.ts || (a.ts === b.ts && a.row < b.row);
      push(h: Held): void {
        const e = this.e;
        e.push(h);
        for (let i = e.length - 1; i > 0; ) {
          const p = (i - 1) >> 1;
          if (!this.less(e[i] as Held, e[p] as Held)) break;
          [e[i], e[p]] = [e[p] as Held, e[i] as Held];
          i = p;
        }
      }
      pop(): void {
        const e = this.e;
        const last = e.pop() as Held;
        if (e.length === 0) return;
        e[0] = last;
        for (let i = 0; ; ) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < e.length && this.less(e[l] as Held, e[m] as Held)) m = l;
          if (r < e.length && this.less(e[r] as Held, e[m] as Held)) m = r;
          if (m === i) break;
          [e[i], e[m]] = [e[m] as Held, e[i] as Held];
          i = m;
        }
      }
    }
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.record({ key: fc.nat(3), step: fc.nat(4), back: fc.nat(40) }), { maxLength: 300 }),
        (bound, rows) => {
          const r = new Reorderer(bound);
          const heaps = new Map<number, SwapHeap>();
          const max = new Map<number, number>();
          const clock = new Map<number, number>();
          rows.forEach(({ key, step, back }, row) => {
            const c = (clock.get(key) ?? 0) + step;
            clock.set(key, c);
            const t = c - (back % bound);
            r.push(Float64Array.of(t), Float64Array.of(row / 2), Uint32Array.of(key), row);
            const m = Math.max(max.get(key) ?? -Infinity, t);
            max.set(key, m);
            let h = heaps.get(key);
            if (h === undefined) heaps.set(key, (h = new SwapHeap()));
            h.push({ ts: t, row, val: row / 2, key });
            while (h.e.length > 0 && (h.e[0] as Held).ts <= m - bound) h.pop();
          });
          const w = new ByteWriter();
          r.write(w);
          const rd = new ByteReader(w.bytes());
          rd.count(12, 'key maximum');
          for (let i = 0; i < max.size; i++) {
            rd.u32();
            rd.f64();
          }
          const listed: Held[] = [];
          const n = rd.count(28, 'held row');
          for (let i = 0; i < n; i++) {
            const key = rd.u32();
            const row = rd.f64();
            const ts = rd.f64();
            listed.push({ key, row, ts, val: rd.f64() });
          }
          // Keys in the order they began to hold rows; within a key, its heap's array order.
          const byKey = (key: number): Held[] => listed.filter((h) => h.key === key);
          for (const [key, h] of heaps) expect(byKey(key)).toEqual(h.e);
        },
      ),
      { numRuns: 300 },
    );
  });
});
