// A compute worker: runs window ops with streamkernel's WASM kernels (the
// built ESM; its WASM bytes are embedded, nothing else loads). Two kinds of
// message: a whole series ({ id, values, ... }: count windows, per key or
// not, rolling by duration, tumbling windows) and a live feed ({ live: ... }:
// operators that keep their state from batch to batch).
import { createKernel, createTimeRolling, createWindows, parseDuration, rollingByTime, windowsByTime } from '/dist/src/index.js';

const BATCH = 1 << 16;

/** Count windows over one series, streamed through in batches as a feed would arrive. */
async function countWindows(spec, values) {
  const kernel = await createKernel(spec);
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i += BATCH) {
    const end = Math.min(values.length, i + BATCH);
    kernel.push(values.subarray(i, end), out.subarray(i, end));
  }
  kernel.dispose();
  return out;
}

/**
 * Count windows per key: each key's rows form their own series, run by
 * `run(key, values)` (a fresh kernel for a whole series, a kept one live).
 */
async function perKey(values, keys, run) {
  const rowsOf = new Map();
  keys.forEach((k, i) => {
    let rows = rowsOf.get(k);
    if (rows === undefined) rowsOf.set(k, (rows = []));
    rows.push(i);
  });
  const out = new Float64Array(values.length);
  for (const [key, rows] of rowsOf) {
    const got = await run(key, Float64Array.from(rows, (r) => values[r]));
    rows.forEach((r, j) => (out[r] = got[j]));
  }
  return out;
}

/** Row order sorted by time (stable: each key keeps its order), so keys may come one after another in the file. */
function byTime(times) {
  return Uint32Array.from(times.keys()).sort((a, b) => times[a] - times[b] || a - b);
}

function gather(array, order) {
  return array instanceof Float64Array ? Float64Array.from(order, (r) => array[r]) : Array.from(order, (r) => array[r]);
}

/** Tumbling windows, as a step per row: each row gets its window's aggregate. */
function stepPerRow(windows, times, keys, size) {
  const value = new Map(windows.map((w) => [`${w.key}\u0000${w.start}`, w.value]));
  return Float64Array.from(times, (t, i) => value.get(`${keys ? keys[i] : 0}\u0000${Math.floor(t / size) * size}`) ?? NaN);
}

async function compute({ spec }, { values, times, keys, kind, duration }) {
  if (kind === 'count') return keys ? perKey(values, keys, (_, v) => countWindows(spec, v)) : countWindows(spec, values);
  const order = byTime(times);
  const ts = gather(times, order);
  const vs = gather(values, order);
  const ks = keys && gather(keys, order);
  const { op, minPeriods } = spec;
  const keyMode = keys ? 'string' : 'none';
  const sorted =
    kind === 'rolling'
      ? await rollingByTime(ts, vs, { op, window: duration, minPeriods, keys: keyMode }, ks)
      : stepPerRow((await windowsByTime(ts, vs, { kind: 'tumbling', op, size: duration, minPeriods, keys: keyMode }, ks)).windows, ts, ks, parseDuration(duration, 'size'));
  const out = new Float64Array(values.length);
  order.forEach((r, j) => (out[r] = sorted[j]));
  return out;
}

// ---- Live feed -------------------------------------------------------------

let live = null;

/** Streaming operators for a live feed: one per op (time windows, keyed by string) or per op and key (count windows). */
async function startLive({ ops, kind, duration }) {
  const operators = [];
  for (const { name, spec } of ops) {
    const { op, minPeriods } = spec;
    if (kind === 'count') operators.push({ name, kernels: new Map(), spec });
    else if (kind === 'rolling') operators.push({ name, op: await createTimeRolling({ op, window: duration, minPeriods, keys: 'string' }) });
    else operators.push({ name, op: await createWindows({ kind: 'tumbling', op, size: duration, minPeriods, keys: 'string' }) });
  }
  live = { kind, operators };
}

async function liveBatch({ ts, values, keys }) {
  const results = [];
  for (const o of live.operators) {
    if (live.kind === 'count') {
      const run = async (key, v) => {
        if (!o.kernels.has(key)) o.kernels.set(key, await createKernel(o.spec));
        return o.kernels.get(key).push(v);
      };
      results.push({ name: o.name, values: await perKey(values, keys, run) });
    } else if (live.kind === 'rolling') {
      results.push({ name: o.name, values: o.op.push(ts, values, keys).values });
    } else {
      results.push({ name: o.name, windows: o.op.push(ts, values, keys).windows });
    }
  }
  return results;
}

self.onmessage = async (event) => {
  const { id } = event.data;
  try {
    if (event.data.live === 'start') {
      await startLive(event.data);
      self.postMessage({ id, results: [] });
      return;
    }
    if (event.data.live === 'batch') {
      self.postMessage({ id, results: await liveBatch(event.data) });
      return;
    }
    const results = [];
    const started = performance.now();
    for (const op of event.data.ops) results.push({ name: op.name, values: await compute(op, event.data) });
    const ms = performance.now() - started;
    self.postMessage({ id, results, ms }, results.map((r) => r.values.buffer));
  } catch (error) {
    self.postMessage({ id, error: String(error && error.message ? error.message : error) });
  }
};
