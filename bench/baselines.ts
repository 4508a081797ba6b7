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
    let y = NaN;
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
  const step = jsEwmMeanStepper(alpha, adjust, minPeriods);
  for (let i = 0; i < x.length; i++) out[i] = step(x[i]!);
}

/** pandas' ewm var recurrence (ewmcov of x with itself, bias=False, ignore_na=False); `std` takes its zsqrt. */
export function jsEwmVar(x: Float64Array, alpha: number, adjust: boolean, minPeriods: number, std: boolean, out: Float64Array): void {
  const step = jsEwmVarStepper(alpha, adjust, minPeriods, std);
  for (let i = 0; i < x.length; i++) out[i] = step(x[i]!);
}

// One row at a time: what a careful developer writes for rows that arrive
// singly (a ring of the window's rows instead of looking back into an array).

/** Running sum with add/remove over a ring: sum, mean or count. */
export function jsSumStepper(w: number, minPeriods: number, op: 'sum' | 'mean' | 'count'): (v: number) => number {
  const ring = new Float64Array(w).fill(NaN);
  let pos = 0;
  let sum = 0;
  let count = 0;
  return (v: number): number => {
    const old = ring[pos]!;
    ring[pos] = v;
    pos = pos + 1 === w ? 0 : pos + 1;
    if (v === v) {
      sum += v;
      count++;
    }
    if (old === old) {
      sum -= old;
      count--;
    }
    const y = op === 'sum' ? sum : op === 'mean' ? sum / count : count;
    return count >= minPeriods ? y : NaN;
  };
}

/** Welford's online variance with add and remove, over a ring. */
export function jsVarStepper(w: number, minPeriods: number, ddof: number, std: boolean): (v: number) => number {
  const ring = new Float64Array(w).fill(NaN);
  let pos = 0;
  let n = 0;
  let mean = 0;
  let m2 = 0;
  return (v: number): number => {
    const old = ring[pos]!;
    ring[pos] = v;
    pos = pos + 1 === w ? 0 : pos + 1;
    if (v === v) {
      n++;
      const d = v - mean;
      mean += d / n;
      m2 += d * (v - mean);
    }
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
    const variance = n - ddof > 0 ? Math.max(m2, 0) / (n - ddof) : NaN;
    return n >= minPeriods ? (std ? Math.sqrt(variance) : variance) : NaN;
  };
}

/** Monotonic deque of (row, value) over a ring: amortized O(1) min or max. */
export function jsMinMaxStepper(w: number, minPeriods: number, isMax: boolean): (v: number) => number {
  const cap = w + 1;
  const dqRow = new Float64Array(cap);
  const dqVal = new Float64Array(cap);
  const ring = new Float64Array(w).fill(NaN);
  let head = 0;
  let size = 0;
  let count = 0;
  let row = 0;
  return (v: number): number => {
    const slot = row % w;
    const old = ring[slot]!;
    ring[slot] = v;
    if (old === old) count--;
    if (size > 0 && dqRow[head] === row - w) {
      head = head + 1 === cap ? 0 : head + 1;
      size--;
    }
    if (v === v) {
      count++;
      while (size > 0) {
        const back = dqVal[(head + size - 1) % cap]!;
        if (isMax ? back <= v : back >= v) size--;
        else break;
      }
      const at = (head + size) % cap;
      dqRow[at] = row;
      dqVal[at] = v;
      size++;
    }
    row++;
    return count >= minPeriods && size > 0 ? dqVal[head]! : NaN;
  };
}

/** pandas' ewm mean recurrence, one row at a time. */
export function jsEwmMeanStepper(alpha: number, adjust: boolean, minPeriods: number): (v: number) => number {
  const oldWtFactor = 1 - alpha;
  const newWt = adjust ? 1 : alpha;
  let weighted = NaN;
  let oldWt = 1;
  let nobs = 0;
  return (cur: number): number => {
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
    return nobs >= minPeriods ? weighted : NaN;
  };
}

/** pandas' ewm var recurrence, one row at a time. */
export function jsEwmVarStepper(alpha: number, adjust: boolean, minPeriods: number, std: boolean): (v: number) => number {
  const oldWtFactor = 1 - alpha;
  const newWt = adjust ? 1 : alpha;
  let mean = NaN;
  let cov = 0;
  let sumWt = 1;
  let sumWt2 = 1;
  let oldWt = 1;
  let nobs = 0;
  return (cur: number): number => {
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
    let y = NaN;
    if (nobs >= minPeriods) {
      const numerator = sumWt * sumWt;
      const denominator = numerator - sumWt2;
      if (denominator > 0) y = (numerator / denominator) * cov;
    }
    return std ? (y < 0 ? 0 : Math.sqrt(y)) : y;
  };
}
