// The demo's live mode: rows of three generated sensors arrive at a chosen
// rate; a worker keeps the chosen ops' state (count windows per key, rolling
// by duration, tumbling windows) and computes each batch as it comes; the
// plot shows the last seconds per key against time, with the rows/s and the
// latency from a row's arrival to its result on screen.
import uPlot from 'uplot';
import { alignedData, group, plotOptions, seriesOf } from '/web/plot.js';
import { ask, say } from '/web/ui.js';

const KEYS = ['sensor-a', 'sensor-b', 'sensor-c'];
const TICK_MS = 50;
/** The plot shows the last SHOWN_MS, at most SHOWN_ROWS rows (an envelope above PLOT_ROWS). */
const SHOWN_MS = 20_000;
const SHOWN_ROWS = 100_000;
const PLOT_ROWS = 4000;

let run = null;
let plot = null;
/** What the live mode did, for the page's tests. */
window.__live = null;

/** A generated reading: a slow sine per key, noise, and now and then a missing value. */
function reading(k, t, random) {
  if (random() < 0.002) return NaN;
  return 10 * (k + 1) + 3 * Math.sin((2 * Math.PI * t) / (8000 + 3000 * k)) + (random() - 0.5);
}

function mulberry(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startLive({ ops, kind, duration, rate, host, info, note, onError, onStop }) {
  stopLive();
  plot?.destroy();
  plot = null;
  const worker = new Worker('/web/worker.js', { type: 'module' });
  const names = ops.map((o) => o.name);
  const rows = { t: [], key: [], v: [], res: ops.map(() => []) };
  const stats = { rowsIn: 0, rowsComputed: 0, frames: 0, latencies: [], computed: [], plotData: null, rows };
  window.__live = stats;
  run = { worker, timer: 0, frame: 0, queue: [], busy: false, owed: 0, last: performance.now(), lastT: -Infinity, seq: 0, random: mulberry(7), arrivals: [], onStop };
  const r = run;
  const failed = (error) => {
    if (run !== r) return;
    stopLive();
    onError(`Live feed stopped: ${error.message}`);
  };
  say(info, 'Starting…');
  try {
    await ask(worker, { live: 'start', ops, kind, duration });
  } catch (error) {
    return failed(error);
  }
  if (run !== r) return;

  const arrive = () => {
    const now = performance.now();
    r.owed += (rate * (now - r.last)) / 1000;
    r.last = now;
    const n = Math.floor(r.owed);
    if (n === 0) return;
    r.owed -= n;
    const wall = performance.timeOrigin + now;
    const ts = new Float64Array(n);
    const values = new Float64Array(n);
    const keys = [];
    for (let i = 0; i < n; i++) {
      // Spread over the last tick, never before the previous row.
      r.lastT = ts[i] = Math.max(r.lastT, wall - ((n - 1 - i) * TICK_MS) / n);
      const k = r.seq++ % KEYS.length;
      keys.push(KEYS[k]);
      values[i] = reading(k, ts[i], r.random);
    }
    stats.rowsIn += n;
    r.queue.push({ arrival: now, ts, values, keys });
    pump();
  };

  /** Sends what arrived (one message while the worker is busy: rows queue meanwhile) and takes the results in. */
  const pump = async () => {
    if (r.busy || r.queue.length === 0 || run !== r) return;
    r.busy = true;
    const batches = r.queue.splice(0);
    const ts = Float64Array.from(batches.flatMap((b) => [...b.ts]));
    const values = Float64Array.from(batches.flatMap((b) => [...b.values]));
    const keys = batches.flatMap((b) => b.keys);
    try {
      const { results } = await ask(worker, { live: 'batch', ts, values, keys });
      if (run !== r) return;
      take(ts, values, keys, results);
      r.arrivals.push(...batches.map((b) => b.arrival));
      stats.rowsComputed += ts.length;
      stats.computed.push([performance.now(), ts.length]);
      r.frame ||= requestAnimationFrame(frame);
    } catch (error) {
      return failed(error);
    } finally {
      r.busy = false;
    }
    pump();
  };

  const take = (ts, values, keys, results) => {
    for (let i = 0; i < ts.length; i++) {
      rows.t.push(ts[i]);
      rows.v.push(values[i]);
      rows.key.push(keys[i]);
    }
    results.forEach((res, j) => {
      const out = rows.res[j];
      if (res.values) for (const v of res.values) out.push(v);
      else {
        // Tumbling: rows wait as NaN until their window closes, then all show its value.
        for (let i = 0; i < ts.length; i++) out.push(NaN);
        for (const w of res.windows) {
          for (let i = rows.t.length - 1; i >= 0 && rows.t[i] >= w.start; i--) if (rows.key[i] === w.key && rows.t[i] < w.end) out[i] = w.value;
        }
      }
    });
    const newest = rows.t[rows.t.length - 1];
    let drop = 0;
    while (drop < rows.t.length && (rows.t[drop] < newest - SHOWN_MS || rows.t.length - drop > SHOWN_ROWS)) drop++;
    if (drop > 0) for (const a of [rows.t, rows.v, rows.key, ...rows.res]) a.splice(0, drop);
  };

  const frame = () => {
    r.frame = 0;
    if (run !== r) return;
    const x = rows.t.map((t) => t / 1000);
    const { series } = seriesOf(names, rows.v, Object.fromEntries(names.map((name, j) => [name, rows.res[j]])), rows.key);
    stats.plotData = alignedData(x, series, rows.key, undefined, PLOT_ROWS);
    if (plot === null) plot = new uPlot(plotOptions(host, 'time', true, series.map((s) => s.style)), stats.plotData, host);
    else plot.setData(stats.plotData);
    stats.frames++;
    const now = performance.now();
    for (const a of r.arrivals.splice(0)) stats.latencies.push(now - a);
    stats.latencies.splice(0, Math.max(0, stats.latencies.length - 200));
    stats.computed = stats.computed.filter(([t]) => t > now - 1000);
    show(now);
  };

  const show = (now) => {
    const lat = [...stats.latencies].sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(0);
    const perSecond = stats.computed.reduce((s, [, n]) => s + n, 0) / Math.min(1, (now - r.started) / 1000);
    say(
      info,
      `${group(perSecond)} rows/s computed (feed: ${group(rate)} rows/s, ${KEYS.length} keys) · latency from arrival to plotted result: median ${q(0.5)} ms, p95 ${q(0.95)} ms · ${group(rows.t.length)} rows shown`,
      'ok',
    );
    say(note, `Live: the last ${SHOWN_MS / 1000} s of the feed per key (line style), ${kind === 'count' ? 'count windows' : `${kind === 'rolling' ? 'rolling' : 'tumbling'} windows of ${duration}`}; NaN readings are gaps${kind === 'tumbling' ? '; a tumbling window shows once it closes' : ''}.`);
  };

  r.started = performance.now();
  r.last = r.started;
  r.timer = setInterval(arrive, TICK_MS);
}

/** Stops the feed (the plot stays); `clear` also removes the plot. */
export function stopLive(clear = false) {
  if (clear) {
    plot?.destroy();
    plot = null;
  }
  if (run === null) return;
  const r = run;
  run = null;
  clearInterval(r.timer);
  cancelAnimationFrame(r.frame);
  r.worker.terminate();
  r.onStop();
}
