// What the demo plots, as plain functions (no DOM): series per key aligned on
// one x axis for uPlot, a min/max envelope when there are too many points,
// axis labels that do not overlap, and notes on NaN and infinite results.

/** Above this many rows the plot shows a min/max envelope per bucket of rows. */
export const PLOT_FULL = 200_000;
export const BUCKETS = 2000;
/** The most keys plotted (the ones with the most rows); the note says how many there are. */
export const MAX_KEYS = 6;

export const COLORS = { raw: '#9aa5b8', mean: '#2f6fdf', std: '#c2410c', min: '#0f766e', max: '#b91c1c', median: '#7c3aed', ewm: '#ca8a04' };
/** Keys are told apart by dashes; ops by colour. */
export const DASHES = [[], [8, 4], [2, 3], [12, 4, 2, 4], [1, 5], [16, 8]];

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 });
const plain = new Intl.NumberFormat('en-US', { maximumFractionDigits: 4 });

export function group(n) {
  return Math.round(n).toLocaleString('en-US');
}

/** An axis tick: 1.2M, not 1200000 (long labels overlap at millions of rows). */
export function tick(v) {
  return Math.abs(v) >= 10_000 ? compact.format(v) : plain.format(v);
}

/** The keys to plot: the MAX_KEYS with the most rows, in order of first appearance. */
export function shownKeys(keys) {
  if (!keys) return { shown: [null], total: 0 };
  const counts = new Map();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  const top = new Set([...counts].sort((a, b) => b[1] - a[1]).slice(0, MAX_KEYS).map(([k]) => k));
  return { shown: [...counts.keys()].filter((k) => top.has(k)), total: counts.size };
}

/** Rows in order of x (stable), or undefined when x is already in order. */
export function sortedRows(x) {
  for (let i = 1; i < x.length; i++) {
    if (x[i] < x[i - 1]) return Uint32Array.from(x.keys()).sort((a, b) => x[a] - x[b] || a - b);
  }
  return undefined;
}

const finite = (v) => (Number.isFinite(v) ? v : null);

/**
 * uPlot's data: x (in row order of `order`), then each series `{ values, key }`
 * over the rows of its key (`key` null: every row). A row of another key is
 * `undefined` (uPlot draws the line on across it), a non-finite value `null`
 * (a gap). Above `full` rows: a min/max envelope, two points per bucket of rows.
 */
export function alignedData(x, series, keys, order, full = PLOT_FULL) {
  const n = x.length;
  const row = order ? (i) => order[i] : (i) => i;
  const mine = (s, r) => s.key === null || keys[r] === s.key;
  if (n <= full) {
    const xs = new Float64Array(n);
    for (let i = 0; i < n; i++) xs[i] = x[row(i)];
    return [xs, ...series.map((s) => Array.from({ length: n }, (_, i) => (mine(s, row(i)) ? finite(s.values[row(i)]) : undefined)))];
  }
  const size = Math.ceil(n / BUCKETS);
  const xs = [];
  const ys = series.map(() => []);
  for (let start = 0; start < n; start += size) {
    const end = Math.min(n, start + size);
    xs.push(x[row(start)], x[row(start + Math.floor((end - start) / 2))]);
    series.forEach((s, k) => {
      let lo = Infinity;
      let hi = -Infinity;
      let any = false;
      for (let i = start; i < end; i++) {
        const r = row(i);
        if (!mine(s, r)) continue;
        any = true;
        const v = s.values[r];
        if (Number.isFinite(v)) {
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
      if (!any) ys[k].push(undefined, undefined);
      else ys[k].push(lo === Infinity ? null : lo, hi === -Infinity ? null : hi);
    });
  }
  return [xs, ...ys];
}

/** Counts of NaN, +Infinity and -Infinity, with the first row of each. */
export function nonFinite(values) {
  const c = { nan: 0, pos: 0, neg: 0, firstNan: -1, firstPos: -1, firstNeg: -1 };
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) {
      if (c.nan++ === 0) c.firstNan = i;
    } else if (v === Infinity) {
      if (c.pos++ === 0) c.firstPos = i;
    } else if (v === -Infinity) {
      if (c.neg++ === 0) c.firstNeg = i;
    }
  }
  return c;
}

function counted(c) {
  const parts = [];
  if (c.nan) parts.push(`${group(c.nan)} NaN (first at row ${group(c.firstNan)})`);
  if (c.pos) parts.push(`${group(c.pos)} +Infinity (first at row ${group(c.firstPos)})`);
  if (c.neg) parts.push(`${group(c.neg)} -Infinity (first at row ${group(c.firstNeg)})`);
  return parts.join(', ');
}

/** Why an op's result is NaN or infinite, given what the input holds. */
function reasons(op, c, input, minPeriods) {
  const why = [];
  if (c.nan) {
    why.push(`NaN where a window has fewer than ${minPeriods} non-missing value${minPeriods === 1 ? '' : 's'} (min periods: the series start, a key's first rows, runs of missing input)`);
    if ((op === 'std' || op === 'var') && (input.pos || input.neg)) why.push('NaN where the window holds ±Infinity (no finite spread)');
    if ((op === 'sum' || op === 'mean' || op === 'ewm') && input.pos && input.neg) why.push('NaN where the window holds both +Infinity and -Infinity');
  }
  if (c.pos || c.neg) why.push('±Infinity where the window holds an infinite input value (a value, not missing)');
  return why.join('; ');
}

/** One line per series with NaN or infinite values, saying how many, where, and why. */
export function nonFiniteNotes(values, results, minPeriods) {
  const input = nonFinite(values);
  const notes = [];
  if (input.nan || input.pos || input.neg) notes.push(`raw: ${counted(input)}. NaN is a missing value (a gap); ±Infinity is a value, drawn as a gap too.`);
  for (const [name, out] of Object.entries(results)) {
    const c = nonFinite(out);
    if (c.nan || c.pos || c.neg) notes.push(`${name}: ${counted(c)}: ${reasons(name, c, input, minPeriods)}.`);
  }
  return notes;
}

/** uPlot options: axes with compact, spaced labels; x in seconds of time when `time`. */
export function plotOptions(host, xLabel, time, series) {
  return {
    width: host.clientWidth || 1000,
    height: 440,
    scales: { x: { time } },
    axes: [
      { label: xLabel, space: 90, ...(time ? {} : { values: (u, splits) => splits.map(tick) }) },
      { label: 'value', size: 70, values: (u, splits) => splits.map(tick) },
    ],
    series: [{ label: xLabel }, ...series],
  };
}

/** The plotted series: raw and each op, per shown key. */
export function seriesOf(names, values, results, keys) {
  const { shown, total } = shownKeys(keys);
  const series = [];
  shown.forEach((key, k) => {
    const prefix = key === null ? '' : `${key} `;
    const dash = DASHES[k % DASHES.length];
    series.push({ key, values, style: { label: `${prefix}raw`, stroke: COLORS.raw, width: 1, dash } });
    for (const name of names) series.push({ key, values: results[name], style: { label: `${prefix}${name}`, stroke: COLORS[name] ?? '#333', width: 1.5, dash } });
  });
  return { series, shown, total };
}
