// One window's aggregate state, for tumbling, hopping, session and count
// windows: O(1) per row for every op but median/quantile, which keep the
// window's values. Nothing is subtracted: windows only grow until emitted.
//
// - sum/mean: Neumaier's compensated sum (error ≈ 2u·Σ|x| whatever n), NaN
//   skipped, ±Inf propagated (+Inf and −Inf together give NaN);
// - var/std: sums shifted by the window's first finite value (a constant
//   window has variance exactly 0) and scaled by a power of two when values
//   are huge or tiny (src/time/moments.ts), ±Inf counted (a window holding
//   one: NaN);
// - first/last: the non-NaN value with the least/greatest (timestamp, row);
// - median/quantile: sorted at emission, pandas' linear interpolation.
import type { TimeOp } from '../types.js';
import { momentsAdd, momentsMerge, momentsValid, momentsValue, MOMENTS } from './moments.js';
import { type ByteReader, type ByteWriter, expectState } from './snapshot.js';

export class Acc {
  /** Rows, NaN included. */
  rows = 0;
  /** Non-NaN rows. */
  n = 0;
  s = 0;
  c = 0;
  /** var/std: k, s1, s2, nf, ninf, e, mx (src/time/moments.ts). */
  mo = new Float64Array(MOMENTS);
  m = NaN;
  fT = Infinity;
  fR = Infinity;
  fV = NaN;
  lT = -Infinity;
  lR = -Infinity;
  lV = NaN;
  vals: number[] | undefined;

  constructor(op: TimeOp) {
    if (op === 'median' || op === 'quantile') this.vals = [];
  }

  /** Adds a value of row `row` at time `t` (NaN is missing). */
  add(op: TimeOp, x: number, t: number, row: number): void {
    this.rows++;
    if (x !== x) return;
    this.n++;
    switch (op) {
      case 'sum':
      case 'mean':
        this.addSum(x);
        break;
      case 'var':
      case 'std':
        momentsAdd(this.mo, 0, x);
        break;
      case 'min':
        if (!(this.m <= x)) this.m = x; // NaN m: first value
        else if (x === 0 && this.m === 0 && Object.is(x, -0)) this.m = x;
        break;
      case 'max':
        if (!(this.m >= x)) this.m = x;
        else if (x === 0 && this.m === 0 && Object.is(this.m, -0)) this.m = x;
        break;
      case 'first':
        if (t < this.fT || (t === this.fT && row < this.fR)) {
          this.fT = t;
          this.fR = row;
          this.fV = x;
        }
        break;
      case 'last':
        if (t > this.lT || (t === this.lT && row > this.lR)) {
          this.lT = t;
          this.lR = row;
          this.lV = x;
        }
        break;
      case 'median':
      case 'quantile':
        this.vals!.push(x);
        break;
      case 'count':
        break;
    }
  }

  private addSum(x: number): void {
    const s = this.s;
    const t = s + x;
    if (Math.abs(s) >= Math.abs(x)) this.c += s - t + x;
    else this.c += x - t + s;
    this.s = t;
  }

  /** Merges another window's state into this one (session merges). */
  merge(op: TimeOp, o: Acc): void {
    switch (op) {
      case 'sum':
      case 'mean':
        this.addSum(o.s);
        if (Number.isFinite(o.s)) this.addSum(o.c);
        break;
      case 'var':
      case 'std':
        momentsMerge(this.mo, 0, o.mo, 0);
        break;
      case 'min':
      case 'max':
        if (o.n > 0) {
          if (this.n === 0) this.m = o.m;
          else if (op === 'min' ? o.m < this.m || (o.m === this.m && Object.is(o.m, -0)) : o.m > this.m || (o.m === this.m && Object.is(this.m, -0))) this.m = o.m;
        }
        break;
      case 'first':
        if (o.fT < this.fT || (o.fT === this.fT && o.fR < this.fR)) {
          this.fT = o.fT;
          this.fR = o.fR;
          this.fV = o.fV;
        }
        break;
      case 'last':
        if (o.lT > this.lT || (o.lT === this.lT && o.lR > this.lR)) {
          this.lT = o.lT;
          this.lR = o.lR;
          this.lV = o.lV;
        }
        break;
      case 'median':
      case 'quantile':
        for (const v of o.vals!) this.vals!.push(v);
        break;
      case 'count':
        break;
    }
    this.n += o.n;
    this.rows += o.rows;
  }

  /** The window's value. */
  value(op: TimeOp, minPeriods: number, ddof: number, q: number): number {
    const n = this.n;
    // minPeriods counts non-NaN rows, for count too (as the core kernels; pandas 1.5 counted NaN rows).
    if (n < minPeriods) return NaN;
    if (op === 'count') return n;
    switch (op) {
      case 'sum':
        return Number.isFinite(this.s) ? this.s + this.c : this.s;
      case 'mean':
        if (n === 0) return NaN;
        return (Number.isFinite(this.s) ? this.s + this.c : this.s) / n;
      case 'var':
      case 'std':
        return momentsValue(this.mo, 0, op === 'std', ddof);
      case 'min':
      case 'max':
        return n === 0 ? NaN : this.m;
      case 'first':
        return this.fV;
      case 'last':
        return this.lV;
      case 'median':
      case 'quantile': {
        if (n === 0) return NaN;
        const v = Float64Array.from(this.vals!).sort();
        if (op === 'median') return n % 2 === 1 ? v[(n - 1) / 2]! : (v[n / 2 - 1]! + v[n / 2]!) / 2;
        const idx = q * (n - 1);
        const lo = Math.floor(idx);
        if (idx === lo) return v[lo]!;
        return v[lo]! + (v[lo + 1]! - v[lo]!) * (idx - lo);
      }
    }
  }

  write(w: ByteWriter): void {
    const mo = this.mo;
    for (const x of [this.rows, this.n, this.s, this.c, mo[0]!, mo[1]!, mo[2]!, mo[3]!, mo[4]!, this.m, this.fT, this.fR, this.fV, this.lT, this.lR, this.lV, mo[5]!, mo[6]!]) w.f64(x);
    const vals = this.vals ?? [];
    w.u32(vals.length);
    for (const v of vals) w.f64(v);
  }

  static read(op: TimeOp, r: ByteReader): Acc {
    const a = new Acc(op);
    a.rows = r.f64();
    a.n = r.f64();
    a.s = r.f64();
    a.c = r.f64();
    const mo = a.mo;
    for (let f = 0; f < 5; f++) mo[f] = r.f64();
    a.m = r.f64();
    a.fT = r.f64();
    a.fR = r.f64();
    a.fV = r.f64();
    a.lT = r.f64();
    a.lR = r.f64();
    a.lV = r.f64();
    mo[5] = r.f64();
    mo[6] = r.f64();
    const nv = r.count(8, 'window value');
    const vals = Array.from(r.f64s(nv));
    const isCount = (x: number): boolean => Number.isInteger(x) && x >= 0 && x <= 2 ** 53;
    expectState(isCount(a.rows) && isCount(a.n) && isCount(mo[3]!) && isCount(mo[4]!) && a.n <= a.rows, 'window counters out of range');
    if (op === 'var' || op === 'std') {
      expectState(mo[3]! + mo[4]! === a.n, 'window counters disagree');
      expectState(momentsValid(mo, 0), 'window moments out of range');
    }
    if (a.vals !== undefined) {
      expectState(vals.length === a.n && vals.every((v) => v === v), 'window values disagree with its count');
      a.vals = vals;
    } else expectState(nv === 0, 'window values for an op that keeps none');
    if (op === 'min' || op === 'max') expectState(a.n === 0 ? Number.isNaN(a.m) : a.m === a.m, 'window extremum inconsistent with its count');
    return a;
  }
}
