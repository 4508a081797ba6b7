// Plain-JavaScript rolling loops: what a careful developer writes by hand,
// the yardstick streamkernel is measured against. Same semantics (NaN is
// missing, minPeriods), no attempt at streamkernel's accuracy guarantees.

/** Running sum with add/remove: sum, mean or count. */
export function jsRollingSum(x: Float64Array, w: number, minPeriods: number, op: 'sum' | 'mean' | 'count', out: Float64Array): void {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v === v) {
      sum += v;
      count++;
    }
    if (i >= w) {
      const old = x[i - w]!;
      if (old === old) {
        sum -= old;
        count--;
      }
    }
    const y = op === 'sum' ? sum : op === 'mean' ? sum / count : count;
    out[i] = count >= minPeriods ? y : NaN;
  }
}

/** Welford's online variance with add and remove. */
export function jsRollingVar(x: Float64Array, w: number, minPeriods: number, ddof: number, std: boolean, out: Float64Array): void {
  let n = 0;
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v === v) {
      n++;
      const d = v - mean;
      mean += d / n;
      m2 += d * (v - mean);
    }
    if (i >= w) {
      const old = x[i - w]!;
      if (old === old) {
        n--;
        if (n === 0) {
          mean = 0;
          m2 = 0;
        } else {
          const d = old - mean;
          mean -= d / n;
          m2 -= d * (old - mean);
        }
      }
    }
    const variance = n - ddof > 0 ? Math.max(m2, 0) / (n - ddof) : NaN;
    out[i] = n >= minPeriods ? (std ? Math.sqrt(variance) : variance) : NaN;
  }
}

/** Monotonic deque of indices: amortized O(1) min or max. */
export function jsRollingMinMax(x: Float64Array, w: number, minPeriods: number, isMax: boolean, out: Float64Array): void {
  const deque = new Int32Array(w + 1);
  let head = 0;
  let size = 0;
  let count = 0;
  const cap = w + 1;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v === v) {
      count++;
      while (size > 0) {
        const back = x[deque[(head + size - 1) % cap]!]!;
        if (isMax ? back <= v : back >= v) size--;
        else break;
      }
      deque[(head + size) % cap] = i;
      size++;
    }
    if (i >= w) {
      if (x[i - w]! === x[i - w]!) count--;
      if (size > 0 && deque[head] === i - w) {
        head = (head + 1) % cap;
        size--;
      }
    }
    out[i] = count >= minPeriods && size > 0 ? x[deque[head]!]! : NaN;
  }
}

/**
 * Two heaps with indexed removal, written for speed: a max-heap of the lower
 * part and a min-heap of the upper part, values stored inline, sifting with a
 * hole, and a row that replaces a row in place when both are present.
 * `where[slot]` is the heap index (≥ 0 lower, ≤ −2 upper as −2 − index, −1 none).
 */
export function jsRollingQuantile(x: Float64Array, w: number, minPeriods: number, q: number, median: boolean, out: Float64Array): void {
  const step = jsQuantileStepper(w, minPeriods, q, median);
  for (let i = 0; i < x.length; i++) out[i] = step(x[i]!);
}

/** {@link jsRollingQuantile} one row at a time: returns the result of each row. */
export function jsQuantileStepper(w: number, minPeriods: number, q: number, median: boolean): (v: number) => number {
  const lo = new Float64Array(w);
  const loSlot = new Int32Array(w);
  const hi = new Float64Array(w);
  const hiSlot = new Int32Array(w);
  const where = new Int32Array(w).fill(-1);
  const ring = new Float64Array(w).fill(NaN);
  let nl = 0;
  let nh = 0;
  let pos = 0;
  const upLo = (i: number, v: number, s: number): void => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (lo[p]! >= v) break;
      lo[i] = lo[p]!;
      loSlot[i] = loSlot[p]!;
      where[loSlot[i]!] = i;
      i = p;
    }
    lo[i] = v;
    loSlot[i] = s;
    where[s] = i;
  };
  const downLo = (i: number, v: number, s: number): void => {
    for (;;) {
      let c = 2 * i + 1;
      if (c >= nl) break;
      if (c + 1 < nl && lo[c + 1]! > lo[c]!) c++;
      if (lo[c]! <= v) break;
      lo[i] = lo[c]!;
      loSlot[i] = loSlot[c]!;
      where[loSlot[i]!] = i;
      i = c;
    }
    lo[i] = v;
    loSlot[i] = s;
    where[s] = i;
  };
  const upHi = (i: number, v: number, s: number): void => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (hi[p]! <= v) break;
      hi[i] = hi[p]!;
      hiSlot[i] = hiSlot[p]!;
      where[hiSlot[i]!] = -2 - i;
      i = p;
    }
    hi[i] = v;
    hiSlot[i] = s;
    where[s] = -2 - i;
  };
  const downHi = (i: number, v: number, s: number): void => {
    for (;;) {
      let c = 2 * i + 1;
      if (c >= nh) break;
      if (c + 1 < nh && hi[c + 1]! < hi[c]!) c++;
      if (hi[c]! >= v) break;
      hi[i] = hi[c]!;
      hiSlot[i] = hiSlot[c]!;
      where[hiSlot[i]!] = -2 - i;
      i = c;
    }
    hi[i] = v;
    hiSlot[i] = s;
    where[s] = -2 - i;
  };
  /** Restores lo[0] ≤ hi[0] after a replacement. */
  const fixTops = (): void => {
    if (nl > 0 && nh > 0 && lo[0]! > hi[0]!) {
      const a = lo[0]!;
      const as = loSlot[0]!;
      const b = hi[0]!;
      const bs = hiSlot[0]!;
      downLo(0, b, bs);
      downHi(0, a, as);
    }
  };
  return (v: number): number => {
    const slot = pos;
    const old = ring[slot]!;
    ring[slot] = v;
    pos = pos + 1 === w ? 0 : pos + 1;
    if (old === old && v === v) {
      const p = where[slot]!;
      if (p >= 0) {
        if (v > lo[p]!) upLo(p, v, slot);
        else downLo(p, v, slot);
      } else {
        const j = -2 - p;
        if (v < hi[j]!) upHi(j, v, slot);
        else downHi(j, v, slot);
      }
      fixTops();
    } else {
      if (old === old) {
        const p = where[slot]!;
        where[slot] = -1;
        if (p >= 0) {
          const removed = lo[p]!;
          nl--;
          if (p < nl) {
            if (lo[nl]! > removed) upLo(p, lo[nl]!, loSlot[nl]!);
            else downLo(p, lo[nl]!, loSlot[nl]!);
          }
        } else {
          const j = -2 - p;
          const removed = hi[j]!;
          nh--;
          if (j < nh) {
            if (hi[nh]! < removed) upHi(j, hi[nh]!, hiSlot[nh]!);
            else downHi(j, hi[nh]!, hiSlot[nh]!);
          }
        }
      }
      if (v === v) {
        if (nl === 0 || v <= lo[0]!) upLo(nl++, v, slot);
        else upHi(nh++, v, slot);
      }
      const n = nl + nh;
      const target = n === 0 ? 0 : median ? (n + 1) >> 1 : Math.floor(q * (n - 1)) + 1;
      while (nl > target) {
        const top = lo[0]!;
        const topSlot = loSlot[0]!;
        nl--;
        if (nl > 0) downLo(0, lo[nl]!, loSlot[nl]!);
        upHi(nh++, top, topSlot);
      }
      while (nl < target) {
        const top = hi[0]!;
        const topSlot = hiSlot[0]!;
        nh--;
        if (nh > 0) downHi(0, hi[nh]!, hiSlot[nh]!);
        upLo(nl++, top, topSlot);
      }
    }
    const n = nl + nh;
    let y = 0 / 0;
    if (n > 0 && n >= minPeriods) {
      const low = lo[0]!;
      if (median) {
        y = n % 2 === 1 ? low : (low + hi[0]!) / 2;
      } else {
        const idx = q * (n - 1);
        const k = Math.floor(idx);
        y = idx === k ? low : low + (hi[0]! - low) * (idx - k);
      }
    }
    return y;
  };
}

/** pandas' ewm mean recurrence (adjust, ignore_na=False). */
export function jsEwmMean(x: Float64Array, alpha: number, adjust: boolean, minPeriods: number, out: Float64Array): void {
  const oldWtFactor = 1 - alpha;
  const newWt = adjust ? 1 : alpha;
  let weighted = NaN;
  let oldWt = 1;
  let nobs = 0;
  for (let i = 0; i < x.length; i++) {
    const cur = x[i]!;
    const isObservation = cur === cur;
    if (isObservation) nobs++;
    if (weighted === weighted) {
      oldWt *= oldWtFactor;
      if (isObservation) {
        if (weighted !== cur) weighted = (oldWt * weighted + newWt * cur) / (oldWt + newWt);
        oldWt = adjust ? oldWt + newWt : 1;
      }
    } else if (isObservation) {
      weighted = cur;
    }
    out[i] = nobs >= minPeriods ? weighted : NaN;
  }
}

/** pandas' ewm var recurrence (ewmcov of x with itself, bias=False, ignore_na=False); `std` takes its zsqrt. */
export function jsEwmVar(x: Float64Array, alpha: number, adjust: boolean, minPeriods: number, std: boolean, out: Float64Array): void {
  const oldWtFactor = 1 - alpha;
  const newWt = adjust ? 1 : alpha;
  let mean = NaN;
  let cov = 0;
  let sumWt = 1;
  let sumWt2 = 1;
  let oldWt = 1;
  let nobs = 0;
  for (let i = 0; i < x.length; i++) {
    const cur = x[i]!;
    const isObservation = cur === cur;
    if (isObservation) nobs++;
    if (mean === mean) {
      sumWt *= oldWtFactor;
      sumWt2 *= oldWtFactor * oldWtFactor;
      oldWt *= oldWtFactor;
      if (isObservation) {
        const oldMean = mean;
        if (mean !== cur) mean = (oldWt * oldMean + newWt * cur) / (oldWt + newWt);
        const d = oldMean - mean;
        const e = cur - mean;
        cov = (oldWt * (cov + d * d) + newWt * (e * e)) / (oldWt + newWt);
        sumWt += newWt;
        sumWt2 += newWt * newWt;
        oldWt += newWt;
        if (!adjust) {
          sumWt /= oldWt;
          sumWt2 /= oldWt * oldWt;
          oldWt = 1;
        }
      }
    } else if (isObservation) {
      mean = cur;
    }
    out[i] = ewmVarResult(nobs >= minPeriods, sumWt, sumWt2, cov, std);
  }
}

/** pandas' bias=False scaling of cov (NaN without effective degrees of freedom), and zsqrt for std. */
function ewmVarResult(enough: boolean, sumWt: number, sumWt2: number, cov: number, std: boolean): number {
  let y = 0 / 0;
  if (enough) {
    const numerator = sumWt * sumWt;
    const denominator = numerator - sumWt2;
    if (denominator > 0) y = (numerator / denominator) * cov;
  }
  return std ? (y < 0 ? 0 : Math.sqrt(y)) : y;
}

// One row at a time: what a careful developer writes for rows that arrive
// singly: a class whose fields carry the state (a ring of the window's rows
// instead of looking back into an array). Not closures over mutable doubles:
// V8 boxes those on every store, which measured 4× slower for the ewm loop.
// A missing result is `0 / 0`, not the global `NaN`: where a double meets
// `NaN` in a conditional, V8 (Node 20) boxes the result, a heap number per
// row (issue 20: sum 10.7 → 8.2 ns a row, mean 12.6 → 9.1, var, std, min,
// max and ewm ~10 % faster; median, quantile, ewm var/std unchanged). The
// faster form is the yardstick: the best plain JS a user would write.

/** Running sum with add/remove over a ring: sum, mean or count. */
export class JsSumStepper {
  private readonly ring: Float64Array;
  private pos = 0;
  private sum = 0;
  private count = 0;
  constructor(private readonly w: number, private readonly minPeriods: number, private readonly op: 'sum' | 'mean' | 'count') {
    this.ring = new Float64Array(w).fill(NaN);
  }
  push(v: number): number {
    const old = this.ring[this.pos]!;
    this.ring[this.pos] = v;
    this.pos = this.pos + 1 === this.w ? 0 : this.pos + 1;
    if (v === v) {
      this.sum += v;
      this.count++;
    }
    if (old === old) {
      this.sum -= old;
      this.count--;
    }
    const y = this.op === 'sum' ? this.sum : this.op === 'mean' ? this.sum / this.count : this.count;
    return this.count >= this.minPeriods ? y : 0 / 0;
  }
}

/** Welford's online variance with add and remove, over a ring. */
export class JsVarStepper {
  private readonly ring: Float64Array;
  private pos = 0;
  private n = 0;
  private mean = 0;
  private m2 = 0;
  constructor(private readonly w: number, private readonly minPeriods: number, private readonly ddof: number, private readonly std: boolean) {
    this.ring = new Float64Array(w).fill(NaN);
  }
  push(v: number): number {
    const old = this.ring[this.pos]!;
    this.ring[this.pos] = v;
    this.pos = this.pos + 1 === this.w ? 0 : this.pos + 1;
    if (v === v) {
      this.n++;
      const d = v - this.mean;
      this.mean += d / this.n;
      this.m2 += d * (v - this.mean);
    }
    if (old === old) {
      this.n--;
      if (this.n === 0) {
        this.mean = 0;
        this.m2 = 0;
      } else {
        const d = old - this.mean;
        this.mean -= d / this.n;
        this.m2 -= d * (old - this.mean);
      }
    }
    const n = this.n;
    const variance = n - this.ddof > 0 ? Math.max(this.m2, 0) / (n - this.ddof) : 0 / 0;
    return n >= this.minPeriods ? (this.std ? Math.sqrt(variance) : variance) : 0 / 0;
  }
}

/** Monotonic deque of (row, value) over a ring: amortized O(1) min or max. */
export class JsMinMaxStepper {
  private readonly cap: number;
  private readonly dqRow: Float64Array;
  private readonly dqVal: Float64Array;
  private readonly ring: Float64Array;
  private head = 0;
  private size = 0;
  private count = 0;
  private row = 0;
  constructor(private readonly w: number, private readonly minPeriods: number, private readonly isMax: boolean) {
    this.cap = w + 1;
    this.dqRow = new Float64Array(this.cap);
    this.dqVal = new Float64Array(this.cap);
    this.ring = new Float64Array(w).fill(NaN);
  }
  push(v: number): number {
    const { cap, dqRow, dqVal, w } = this;
    const slot = this.row % w;
    const old = this.ring[slot]!;
    this.ring[slot] = v;
    if (old === old) this.count--;
    if (this.size > 0 && dqRow[this.head] === this.row - w) {
      this.head = this.head + 1 === cap ? 0 : this.head + 1;
      this.size--;
    }
    if (v === v) {
      this.count++;
      while (this.size > 0) {
        const back = dqVal[(this.head + this.size - 1) % cap]!;
        if (this.isMax ? back <= v : back >= v) this.size--;
        else break;
      }
      const at = (this.head + this.size) % cap;
      dqRow[at] = this.row;
      dqVal[at] = v;
      this.size++;
    }
    this.row++;
    return this.count >= this.minPeriods && this.size > 0 ? dqVal[this.head]! : 0 / 0;
  }
}

/** pandas' ewm mean recurrence, one row at a time. */
export class JsEwmMeanStepper {
  private readonly oldWtFactor: number;
  private readonly newWt: number;
  private weighted = NaN;
  private oldWt = 1;
  private nobs = 0;
  constructor(alpha: number, private readonly adjust: boolean, private readonly minPeriods: number) {
    this.oldWtFactor = 1 - alpha;
    this.newWt = adjust ? 1 : alpha;
  }
  push(cur: number): number {
    const isObservation = cur === cur;
    if (isObservation) this.nobs++;
    if (this.weighted === this.weighted) {
      this.oldWt *= this.oldWtFactor;
      if (isObservation) {
        if (this.weighted !== cur) this.weighted = (this.oldWt * this.weighted + this.newWt * cur) / (this.oldWt + this.newWt);
        this.oldWt = this.adjust ? this.oldWt + this.newWt : 1;
      }
    } else if (isObservation) {
      this.weighted = cur;
    }
    return this.nobs >= this.minPeriods ? this.weighted : 0 / 0;
  }
}

/** pandas' ewm var recurrence, one row at a time. */
export class JsEwmVarStepper {
  private readonly oldWtFactor: number;
  private readonly newWt: number;
  private mean = NaN;
  private cov = 0;
  private sumWt = 1;
  private sumWt2 = 1;
  private oldWt = 1;
  private nobs = 0;
  constructor(alpha: number, private readonly adjust: boolean, private readonly minPeriods: number, private readonly std: boolean) {
    this.oldWtFactor = 1 - alpha;
    this.newWt = adjust ? 1 : alpha;
  }
  push(cur: number): number {
    const { oldWtFactor, newWt } = this;
    const isObservation = cur === cur;
    if (isObservation) this.nobs++;
    if (this.mean === this.mean) {
      this.sumWt *= oldWtFactor;
      this.sumWt2 *= oldWtFactor * oldWtFactor;
      this.oldWt *= oldWtFactor;
      if (isObservation) {
        const oldMean = this.mean;
        const oldWt = this.oldWt;
        if (oldMean !== cur) this.mean = (oldWt * oldMean + newWt * cur) / (oldWt + newWt);
        const d = oldMean - this.mean;
        const e = cur - this.mean;
        this.cov = (oldWt * (this.cov + d * d) + newWt * (e * e)) / (oldWt + newWt);
        this.sumWt += newWt;
        this.sumWt2 += newWt * newWt;
        this.oldWt += newWt;
        if (!this.adjust) {
          this.sumWt /= this.oldWt;
          this.sumWt2 /= this.oldWt * this.oldWt;
          this.oldWt = 1;
        }
      }
    } else if (isObservation) {
      this.mean = cur;
    }
    return ewmVarResult(this.nobs >= this.minPeriods, this.sumWt, this.sumWt2, this.cov, this.std);
  }
}
