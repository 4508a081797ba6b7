// One window's aggregate state, for tumbling, hopping, session and count
// windows: O(1) per row for every op but median/quantile, which keep the
// window's values. Nothing is subtracted: windows only grow until emitted.
//
// - sum/mean: Neumaier's compensated sum (error ≈ 2u·Σ|x| whatever n), NaN
//   skipped, ±Inf propagated (+Inf and −Inf together give NaN);
// - var/std: sums shifted by the window's first finite value (a constant
//   window has variance exactly 0), ±Inf counted (a window holding one: NaN);
// - first/last: the non-NaN value with the least/greatest (timestamp, row);
// - median/quantile: sorted at emission, pandas' linear interpolation.
import type { TimeOp } from '../types.js';
import { type ByteReader, type ByteWriter, expectState } from './snapshot.js';

export class Acc {
  /** Rows, NaN included. */
  rows = 0;
  /** Non-NaN rows. */
  n = 0;
  s = 0;
  c = 0;
  k = 0;
  s1 = 0;
  s2 = 0;
  nf = 0;
  ninf = 0;
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
        if (x - x === 0) {
          if (this.nf === 0) this.k = x;
          const y = x - this.k;
          this.s1 += y;
          this.s2 += y * y;
          this.nf++;
        } else this.ninf++;
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
        this.ninf += o.ninf;
        if (o.nf > 0) {
          if (this.nf === 0) {
            this.k = o.k;
            this.s1 = o.s1;
            this.s2 = o.s2;
          } else {
            const d = o.k - this.k;
            this.s1 = this.s1 + o.s1 + o.nf * d;
            this.s2 = this.s2 + o.s2 + d * (2 * o.s1 + o.nf * d);
          }
          this.nf += o.nf;
        }
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
      case 'std': {
        if (this.ninf > 0 || !(this.nf - ddof > 0)) return NaN;
        let m2 = this.s2 - (this.s1 * this.s1) / this.nf;
        if (!(m2 > 0)) m2 = 0;
        const v = m2 / (this.nf - ddof);
        return op === 'std' ? Math.sqrt(v) : v;
      }
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
    for (const x of [this.rows, this.n, this.s, this.c, this.k, this.s1, this.s2, this.nf, this.ninf, this.m, this.fT, this.fR, this.fV, this.lT, this.lR, this.lV]) w.f64(x);
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
    a.k = r.f64();
    a.s1 = r.f64();
    a.s2 = r.f64();
    a.nf = r.f64();
    a.ninf = r.f64();
    a.m = r.f64();
    a.fT = r.f64();
    a.fR = r.f64();
    a.fV = r.f64();
    a.lT = r.f64();
    a.lR = r.f64();
    a.lV = r.f64();
    const nv = r.count(8, 'window value');
    const vals = Array.from(r.f64s(nv));
    const isCount = (x: number): boolean => Number.isInteger(x) && x >= 0 && x <= 2 ** 53;
    expectState(isCount(a.rows) && isCount(a.n) && isCount(a.nf) && isCount(a.ninf) && a.n <= a.rows, 'window counters out of range');
    if (op === 'var' || op === 'std') expectState(a.nf + a.ninf === a.n, 'window counters disagree');
    if (a.vals !== undefined) {
      expectState(vals.length === a.n && vals.every((v) => v === v), 'window values disagree with its count');
      a.vals = vals;
    } else expectState(nv === 0, 'window values for an op that keeps none');
    if (op === 'min' || op === 'max') expectState(a.n === 0 ? Number.isNaN(a.m) : a.m === a.m, 'window extremum inconsistent with its count');
    return a;
  }
}
