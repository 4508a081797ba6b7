// Slow, obvious references for the time-window layer, and seeded adversarial
// generators. Every window's content is recomputed from scratch as a list of
// rows; values come from test/reference.ts (exact arithmetic for sum/mean/
// var/std, literal definitions for the order statistics).
import type {
  ClosedSide,
  LateRow,
  NormalizedCountWindowSpec,
  NormalizedDurationRollingSpec,
  NormalizedWindowSpec,
  RollingSpec,
  TimeOp,
  WindowResult,
} from '../src/types.js';
import { checkApprox, fmt, refWindowValue, sameValue } from './reference.js';
import { mulberry32, type Rng } from './adversarial.js';

export { mulberry32 };

/** A row: timestamp, value, key, row number. */
export interface Row {
  t: number;
  x: number;
  k: number;
  row: number;
}

/** The value of a window's rows (in event order) for a time op, or a checker for the approximate ops. */
export function expectValue(op: TimeOp, rows: readonly Row[], minPeriods: number, ddof: number, q: number): number {
  const xs = rows.map((r) => r.x);
  const n = xs.filter((x) => x === x).length;
  // minPeriods counts non-NaN rows, for count as for every op.
  if (op === 'count') return n < minPeriods ? NaN : n;
  if (op === 'first' || op === 'last') {
    if (n < minPeriods) return NaN;
    const obs = rows.filter((r) => r.x === r.x);
    if (obs.length === 0) return NaN;
    const sorted = [...obs].sort((a, b) => a.t - b.t || a.row - b.row);
    return op === 'first' ? sorted[0]!.x : sorted[sorted.length - 1]!.x;
  }
  const window = Math.max(1, xs.length);
  const spec: RollingSpec = op === 'var' || op === 'std' ? { op, window, minPeriods, ddof } : op === 'quantile' ? { op, window, minPeriods, q } : { op, window, minPeriods };
  return refWindowValue(xs, spec);
}

/** null when `actual` is right for a window of `rows`; else the reason. */
export function checkValue(op: TimeOp, rows: readonly Row[], minPeriods: number, ddof: number, q: number, actual: number): string | null {
  if (op === 'sum' || op === 'mean' || op === 'var' || op === 'std') {
    const xs = rows.map((r) => r.x);
    const window = Math.max(1, xs.length);
    const spec: RollingSpec = op === 'var' || op === 'std' ? { op, window, minPeriods, ddof } : { op, window, minPeriods };
    return checkApprox(xs, spec, actual);
  }
  const e = expectValue(op, rows, minPeriods, ddof, q);
  if (sameValue(e, actual) || (e === 0 && actual === 0 && op !== 'count')) return null;
  return `expected ${fmt(e)}, got ${fmt(actual)}`;
}

// ---------------------------------------------------------------------------
// Rolling by duration

/**
 * The window of every row: rows are processed per key in (ts, row) order when
 * maxOutOfOrderness > 0 (in arrival order otherwise); the window of row i
 * holds the key's earlier-processed rows j (and i itself when right-closed)
 * with ts_j > t − d (≥ when left-closed). TTL is not modelled (Infinity).
 */
export function refRollingWindows(rows: readonly Row[], spec: Pick<NormalizedDurationRollingSpec, 'window' | 'closed' | 'maxOutOfOrderness'>): Map<number, Row[]> {
  const byKey = new Map<number, Row[]>();
  for (const r of rows) {
    let list = byKey.get(r.k);
    if (list === undefined) byKey.set(r.k, (list = []));
    list.push(r);
  }
  const out = new Map<number, Row[]>();
  const leftClosed = spec.closed === 'left' || spec.closed === 'both';
  const rightClosed = spec.closed === 'right' || spec.closed === 'both';
  for (const list of byKey.values()) {
    const order = spec.maxOutOfOrderness > 0 ? [...list].sort((a, b) => a.t - b.t || a.row - b.row) : list;
    for (let i = 0; i < order.length; i++) {
      const cur = order[i]!;
      const bound = cur.t - spec.window;
      const win: Row[] = [];
      for (let j = 0; j <= i; j++) {
        if (j === i && !rightClosed) continue;
        const r = order[j]!;
        if (leftClosed ? r.t >= bound : r.t > bound) win.push(r);
      }
      out.set(cur.row, win);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Event-time windows

export interface RefEmission {
  key: number;
  start: number;
  end: number;
  update: boolean;
  rows: Row[];
  replaces?: { start: number; end: number }[];
}

/** Tumbling/hopping: a row reaches window w iff w.end + allowedLateness > the watermark before the row. */
export function refGridWindows(rows: readonly Row[], spec: NormalizedWindowSpec): { emissions: RefEmission[]; late: LateRow[] } {
  const { size, step, offset, maxOutOfOrderness: ooo, allowedLateness: al } = spec;
  const wins = new Map<string, { key: number; start: number; end: number; rows: Row[]; emitted: boolean }>();
  const emissions: RefEmission[] = [];
  const late: LateRow[] = [];
  let maxTs = -Infinity;
  const snap = (w: { key: number; start: number; end: number; rows: Row[] }, update: boolean): RefEmission => ({ key: w.key, start: w.start, end: w.end, update, rows: [...w.rows] });
  for (const r of rows) {
    const W = maxTs - ooo;
    let missed = 0;
    // Every window [j·step + offset, … + size) that holds t, by brute force over j.
    const jFirst = Math.floor((r.t - offset - size) / step) - 2;
    const jLast = Math.floor((r.t - offset) / step) + 2;
    for (let j = jFirst; j <= jLast; j++) {
      const start = j * step + offset;
      const end = start + size;
      if (!(start <= r.t && r.t < end)) continue;
      const id = `${r.k}/${start}`;
      let w = wins.get(id);
      if (w !== undefined && w.end + al <= W) w = undefined; // purged
      if (w === undefined) {
        if (end + al <= W) {
          missed++;
          continue;
        }
        w = { key: r.k, start, end, rows: [], emitted: false };
        wins.set(id, w);
      }
      w.rows.push(r);
      if (end <= W) {
        emissions.push(snap(w, w.emitted));
        w.emitted = true;
      }
    }
    if (missed > 0) late.push({ row: r.row, key: r.k, ts: r.t, value: r.x, missed });
    if (r.t > maxTs) {
      maxTs = r.t;
      const W2 = maxTs - ooo;
      const due = [...wins.values()].filter((w) => w.end > W && w.end <= W2 && w.end + al > W).sort((a, b) => a.end - b.end || a.key - b.key || a.start - b.start);
      for (const w of due) {
        emissions.push(snap(w, false));
        w.emitted = true;
      }
      for (const [id, w] of wins) if (w.end + al <= W2) wins.delete(id);
    }
  }
  const W = maxTs - ooo;
  const rest = [...wins.values()].filter((w) => w.end > W).sort((a, b) => a.end - b.end || a.key - b.key || a.start - b.start);
  for (const w of rest) emissions.push(snap(w, false));
  return { emissions, late };
}

/** Sessions, simulated naively: lists of rows, rescanned after every row. */
export function refSessionWindows(rows: readonly Row[], spec: NormalizedWindowSpec): { emissions: RefEmission[]; late: LateRow[] } {
  const { gap, maxOutOfOrderness: ooo, allowedLateness: al } = spec;
  interface S {
    key: number;
    start: number;
    end: number;
    rows: Row[];
    emitted?: { start: number; end: number };
    merged: { start: number; end: number }[];
    pending: boolean;
  }
  let sessions: S[] = [];
  const purgedEnd = new Map<number, number>();
  const emissions: RefEmission[] = [];
  const late: LateRow[] = [];
  let maxTs = -Infinity;
  const emit = (s: S): void => {
    const replaces = [...s.merged];
    if (s.emitted && (s.emitted.start !== s.start || s.emitted.end !== s.end)) replaces.unshift(s.emitted);
    const e: RefEmission = { key: s.key, start: s.start, end: s.end, update: s.emitted !== undefined || s.merged.length > 0, rows: [...s.rows] };
    if (replaces.length > 0) e.replaces = replaces;
    emissions.push(e);
    s.emitted = { start: s.start, end: s.end };
    s.merged = [];
  };
  for (const r of rows) {
    const W = maxTs - ooo;
    if (r.t + gap + al <= W || r.t < (purgedEnd.get(r.k) ?? -Infinity)) {
      late.push({ row: r.row, key: r.k, ts: r.t, value: r.x, missed: 1 });
    } else {
      const mine = sessions.filter((s) => s.key === r.k).sort((a, b) => a.start - b.start);
      const hit = mine.filter((s) => s.start < r.t + gap && r.t < s.end);
      let target: S;
      if (hit.length === 0) {
        target = { key: r.k, start: r.t, end: r.t + gap, rows: [], merged: [], pending: r.t + gap > W };
        sessions.push(target);
      } else {
        target = hit[0]!;
        const before = [target.start, target.end];
        for (const o of hit.slice(1)) {
          target.rows.push(...o.rows);
          if (o.emitted) target.merged.push(o.emitted);
          target.merged.push(...o.merged);
          target.end = Math.max(target.end, o.end);
        }
        sessions = sessions.filter((s) => !hit.slice(1).includes(s));
        target.start = Math.min(target.start, r.t);
        target.end = Math.max(target.end, r.t + gap);
        if (target.start !== before[0] || target.end !== before[1] || hit.length > 1) target.pending = target.end > W;
      }
      target.rows.push(r);
      if (target.end <= W) emit(target);
    }
    if (r.t > maxTs) {
      maxTs = r.t;
      const W2 = maxTs - ooo;
      const due = sessions.filter((s) => s.pending && s.end <= W2).sort((a, b) => a.end - b.end || a.key - b.key || a.start - b.start);
      for (const s of due) {
        s.pending = false;
        emit(s);
      }
      for (const s of sessions.filter((s) => s.end + al <= W2)) purgedEnd.set(s.key, Math.max(purgedEnd.get(s.key) ?? -Infinity, s.end));
      sessions = sessions.filter((s) => s.end + al > W2);
    }
  }
  for (const s of sessions.filter((s) => s.pending).sort((a, b) => a.end - b.end || a.key - b.key || a.start - b.start)) emit(s);
  return { emissions, late };
}

/** Count windows: window j of a key holds its rows [j·step, j·step + size). */
export function refCountWindows(rows: readonly Row[], spec: NormalizedCountWindowSpec): RefEmission[] {
  const { size, step } = spec;
  const byKey = new Map<number, Row[]>();
  const out: RefEmission[] = [];
  for (const r of rows) {
    let list = byKey.get(r.k);
    if (list === undefined) byKey.set(r.k, (list = []));
    list.push(r);
    const p = list.length - 1;
    // The window completed by row p starts at p + 1 − size, if that is a multiple of step.
    const start = p + 1 - size;
    if (start >= 0 && start % step === 0) out.push({ key: r.k, start, end: p + 1, update: false, rows: list.slice(start, p + 1) });
  }
  for (const k of [...byKey.keys()].sort((a, b) => a - b)) {
    const list = byKey.get(k)!;
    const n = list.length;
    for (let start = 0; start < n; start += step) if (start + size > n) out.push({ key: k, start, end: n, update: false, rows: list.slice(start, n) });
  }
  return out;
}

/** Compares emitted windows with reference emissions; returns the first problems. */
export function compareEmissions(
  actual: readonly WindowResult[],
  expected: readonly RefEmission[],
  spec: { op: TimeOp; minPeriods: number; ddof?: number; q?: number },
): string[] {
  const problems: string[] = [];
  if (actual.length !== expected.length) problems.push(`emitted ${actual.length} windows, expected ${expected.length}`);
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n && problems.length < 5; i++) {
    const a = actual[i]!, e = expected[i]!;
    const head = `window #${i} (key ${e.key} [${e.start}, ${e.end}))`;
    if (a.key !== e.key || a.start !== e.start || a.end !== e.end) {
      problems.push(`${head}: got key ${a.key} [${a.start}, ${a.end})`);
      continue;
    }
    if (a.update !== e.update) problems.push(`${head}: update ${a.update}, expected ${e.update}`);
    const count = e.rows.filter((r) => r.x === r.x).length;
    if (a.count !== count) problems.push(`${head}: count ${a.count}, expected ${count}`);
    if (JSON.stringify(a.replaces) !== JSON.stringify(e.replaces)) problems.push(`${head}: replaces ${JSON.stringify(a.replaces)}, expected ${JSON.stringify(e.replaces)}`);
    const why = checkValue(spec.op, e.rows, spec.minPeriods, spec.ddof ?? 1, spec.q ?? 0, a.value);
    if (why !== null) problems.push(`${head}: value — ${why}; rows ${JSON.stringify(e.rows.map((r) => [r.t, fmt(r.x)]))}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------
// Generators

export interface StreamCase {
  name: string;
  rows: Row[];
}

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)]!;
}

/** A value: mostly moderate numbers, with NaN, ±Inf, zeros of both signs, duplicates, large offsets. */
function value(rng: Rng, style: number): number {
  const u = rng();
  if (u < 0.08) return NaN;
  if (style === 1 && u < 0.12) return pick(rng, [Infinity, -Infinity]);
  if (u < 0.16) return pick(rng, [0, -0, 1, 1, 2]);
  if (style === 2) return 1e9 + Math.round((rng() - 0.5) * 1000) / 8;
  return Math.round((rng() - 0.5) * 2000) / 16;
}

/**
 * Seeded streams: duplicate timestamps, gaps longer than windows, disorder
 * within `disorder` ms (and, with `beyond`, further), NaN/±Inf values,
 * one key or many.
 */
export function makeStream(seed: number, opts: { n?: number; keys?: number; disorder?: number; beyond?: boolean; spread?: number } = {}): StreamCase {
  const rng = mulberry32(seed);
  const n = opts.n ?? 40 + Math.floor(rng() * 120);
  const nKeys = opts.keys ?? pick(rng, [1, 1, 2, 3, 7, 40]);
  const style = Math.floor(rng() * 3);
  const spread = opts.spread ?? pick(rng, [1, 10, 100, 1000]);
  const rows: Row[] = [];
  let t = Math.floor(rng() * 5) * spread;
  for (let i = 0; i < n; i++) {
    const u = rng();
    if (u < 0.25) t += 0; // duplicate timestamp
    else if (u < 0.9) t += Math.floor(rng() * spread) + 1;
    else t += spread * (5 + Math.floor(rng() * 20)); // gap longer than most windows
    let ts = t;
    if (opts.disorder !== undefined && opts.disorder > 0 && rng() < 0.3) ts = t - Math.floor(rng() * (opts.disorder + 1));
    if (opts.beyond === true && rng() < 0.05) ts = t - opts.disorder! - 1 - Math.floor(rng() * spread * 10);
    rows.push({ t: ts, x: value(rng, style), k: Math.floor(rng() * nKeys), row: i });
  }
  return { name: `seed ${seed} (n ${n}, keys ${nKeys}, style ${style}, spread ${spread}${opts.disorder ? `, disorder ${opts.disorder}${opts.beyond ? ' and beyond' : ''}` : ''})`, rows };
}

/** Random cut points of n rows into batches (empty batches included). */
export function randomSplit(rng: Rng, n: number): number[] {
  const cuts: number[] = [0];
  let at = 0;
  while (at < n) {
    const u = rng();
    const len = u < 0.15 ? 0 : u < 0.5 ? 1 + Math.floor(rng() * 3) : Math.floor(rng() * (n - at + 1));
    at = Math.min(n, at + len);
    cuts.push(at);
  }
  return cuts;
}

/** The columns of rows[from, to). */
export function columns(rows: readonly Row[], from = 0, to = rows.length): { ts: Float64Array; xs: Float64Array; keys: Uint32Array } {
  const part = rows.slice(from, to);
  return { ts: Float64Array.from(part, (r) => r.t), xs: Float64Array.from(part, (r) => r.x), keys: Uint32Array.from(part, (r) => r.k) };
}

/** A repro line for a failure message. */
export function repro(rows: readonly Row[]): string {
  return `rows (t, x, key): ${JSON.stringify(rows.map((r) => [r.t, fmt(r.x), r.k]))}`;
}

export const ALL_TIME_OPS: readonly TimeOp[] = ['sum', 'mean', 'count', 'min', 'max', 'var', 'std', 'median', 'quantile', 'first', 'last'];
export const ALL_CLOSED: readonly ClosedSide[] = ['right', 'left', 'both', 'neither'];
