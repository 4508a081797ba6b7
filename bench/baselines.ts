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
 * Two heaps with indexed removal: a max-heap of the lower half and a min-heap
 * of the upper half, each entry a ring slot; `where[slot]` is its heap
 * position (+1, negative for the upper heap).
 */
export function jsRollingQuantile(x: Float64Array, w: number, minPeriods: number, q: number, median: boolean, out: Float64Array): void {
  const lower = new Int32Array(w);
  const upper = new Int32Array(w);
  const where = new Int32Array(w);
  const ring = new Float64Array(w).fill(NaN);
  let nl = 0;
  let nu = 0;
  const lessL = (a: number, b: number): boolean => ring[lower[a]!]! > ring[lower[b]!]!; // max-heap
  const lessU = (a: number, b: number): boolean => ring[upper[a]!]! < ring[upper[b]!]!; // min-heap
  const swapL = (a: number, b: number): void => {
    const t = lower[a]!;
    lower[a] = lower[b]!;
    lower[b] = t;
    where[lower[a]!] = a + 1;
    where[lower[b]!] = b + 1;
  };
  const swapU = (a: number, b: number): void => {
    const t = upper[a]!;
    upper[a] = upper[b]!;
    upper[b] = t;
    where[upper[a]!] = -(a + 1);
    where[upper[b]!] = -(b + 1);
  };
  const siftL = (i: number): void => {
    while (i > 0 && lessL(i, (i - 1) >> 1)) {
      swapL(i, (i - 1) >> 1);
      i = (i - 1) >> 1;
    }
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < nl && lessL(l, m)) m = l;
      if (r < nl && lessL(r, m)) m = r;
      if (m === i) return;
      swapL(i, m);
      i = m;
    }
  };
  const siftU = (i: number): void => {
    while (i > 0 && lessU(i, (i - 1) >> 1)) {
      swapU(i, (i - 1) >> 1);
      i = (i - 1) >> 1;
    }
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < nu && lessU(l, m)) m = l;
      if (r < nu && lessU(r, m)) m = r;
      if (m === i) return;
      swapU(i, m);
      i = m;
    }
  };
  const removeL = (i: number): number => {
    const slot = lower[i]!;
    nl--;
    if (i !== nl) {
      lower[i] = lower[nl]!;
      where[lower[i]!] = i + 1;
      siftL(i);
    }
    return slot;
  };
  const removeU = (i: number): number => {
    const slot = upper[i]!;
    nu--;
    if (i !== nu) {
      upper[i] = upper[nu]!;
      where[upper[i]!] = -(i + 1);
      siftU(i);
    }
    return slot;
  };
  const pushL = (slot: number): void => {
    lower[nl] = slot;
    where[slot] = nl + 1;
    nl++;
    siftL(nl - 1);
  };
  const pushU = (slot: number): void => {
    upper[nu] = slot;
    where[slot] = -(nu + 1);
    nu++;
    siftU(nu - 1);
  };
  for (let i = 0; i < x.length; i++) {
    const slot = i % w;
    if (ring[slot]! === ring[slot]!) {
      const at = where[slot]!;
      if (at > 0) removeL(at - 1);
      else removeU(-at - 1);
    }
    const v = x[i]!;
    ring[slot] = v;
    if (v === v) {
      if (nl > 0 && v <= ring[lower[0]!]!) pushL(slot);
      else pushU(slot);
    }
    const n = nl + nu;
    const lo = Math.floor(q * (n - 1));
    const wantL = n === 0 ? 0 : lo + 1;
    while (nl > wantL) pushU(removeL(0));
    while (nl < wantL) pushL(removeU(0));
    let y = NaN;
    if (n > 0 && n >= minPeriods) {
      const vlow = ring[lower[0]!]!;
      if (median) {
        y = n % 2 === 1 ? vlow : (vlow + ring[upper[0]!]!) / 2;
      } else {
        const idx = q * (n - 1);
        y = idx === lo ? vlow : vlow + (ring[upper[0]!]! - vlow) * (idx - lo);
      }
    }
    out[i] = y;
  }
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
