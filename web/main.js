// The demo page: load a CSV (streamed through streamkernel's CSV source) or
// generate a series, compute window ops in Web Workers with the WASM kernels,
// and plot raw and windowed series with uPlot.
import uPlot from 'uplot';
import { csvSource, UnknownColumnError } from '/dist/src/connectors/index.js';
import { generateSeries } from '/web/data.js';

const $ = (id) => document.getElementById(id);
const COLORS = { raw: '#9aa5b8', mean: '#2f6fdf', std: '#c2410c', min: '#0f766e', max: '#b91c1c', median: '#7c3aed', ewm: '#ca8a04' };
/** Above this many points the plot shows a min/max envelope per pixel column. */
const PLOT_FULL = 200_000;
const BUCKETS = 2000;

const state = { values: null, label: '', file: null, results: null, plot: null, plotData: null, status: 'idle', workers: [] };
window.__demo = state;

function setStatus(s) {
  state.status = s;
  document.body.dataset.status = s;
}

function group(n) {
  return Math.round(n).toLocaleString('en-US');
}

function setValues(values, label) {
  state.values = values;
  state.label = label;
  state.results = null;
  $('data-info').textContent = `${label}: ${group(values.length)} points.`;
  $('compute').disabled = false;
  $('throughput').textContent = '';
  draw([]);
}

// ---- Data ----------------------------------------------------------------

$('generate').addEventListener('click', () => {
  const n = Number($('gen-rows').value);
  const t0 = performance.now();
  setValues(generateSeries(n), `Generated series (noisy sine, drift, NaN gap, spikes, one +Infinity) in ${(performance.now() - t0).toFixed(0)} ms`);
  setStatus('loaded');
});

async function columnsOf(file) {
  // The library reads the header and names the columns when asked for one that is not there.
  try {
    for await (const _ of csvSource(file.slice(0, 1 << 16).stream(), { value: '\u0000' })) break;
  } catch (error) {
    if (error instanceof UnknownColumnError) return error.available;
    throw error;
  }
  return [];
}

async function pickFile(file) {
  state.file = file;
  setStatus('reading-header');
  try {
    const columns = await columnsOf(file);
    const select = $('column');
    select.replaceChildren(...columns.map((c) => new Option(c, c)));
    select.value = columns.includes('value') ? 'value' : (columns.at(-1) ?? '');
    $('column-row').hidden = false;
    $('data-info').textContent = `${file.name}: ${group(file.size)} bytes, columns ${columns.join(', ')}. Pick the value column.`;
    setStatus('header');
  } catch (error) {
    $('data-info').textContent = `Cannot read ${file.name}: ${error.message}`;
    setStatus('error');
  }
}

async function loadColumn() {
  const file = state.file;
  const column = $('column').value;
  setStatus('parsing');
  const t0 = performance.now();
  let values = new Float64Array(1 << 16);
  let n = 0;
  let skipped = 0;
  try {
    for await (const batch of csvSource(file.stream(), { value: column, onError: 'skip' })) {
      if (n + batch.length > values.length) {
        const bigger = new Float64Array(Math.max(values.length * 2, n + batch.length));
        bigger.set(values.subarray(0, n));
        values = bigger;
      }
      values.set(batch.values, n);
      n += batch.length;
      skipped += batch.skipped;
      $('data-info').textContent = `Parsing ${file.name}: ${group(n)} rows…`;
    }
  } catch (error) {
    $('data-info').textContent = `Cannot parse ${file.name}: ${error.message}`;
    setStatus('error');
    return;
  }
  const ms = performance.now() - t0;
  setValues(values.slice(0, n), `${file.name}, column ${column} (parsed in ${ms.toFixed(0)} ms${skipped ? `, ${group(skipped)} malformed rows skipped` : ''})`);
  setStatus('loaded');
}

$('file').addEventListener('change', (e) => {
  const file = e.target.files?.[0];
  if (file) pickFile(file);
});
$('load').addEventListener('click', loadColumn);
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const file = e.dataTransfer?.files?.[0];
  if (file) pickFile(file);
});

// ---- Compute -------------------------------------------------------------

function selectedOps() {
  const rows = Number($('window').value);
  const minPeriods = Number($('min-periods').value);
  return [...$('ops').querySelectorAll('input:checked')].map((input) => {
    const op = input.value;
    if (op === 'ewm') return { name: 'ewm', spec: { op: 'ewm', span: rows, minPeriods: Math.min(minPeriods, rows) } };
    return { name: op, spec: { op, window: rows, minPeriods: Math.min(minPeriods, rows) } };
  });
}

function worker(i) {
  state.workers[i] ??= new Worker('/web/worker.js', { type: 'module' });
  return state.workers[i];
}

let nextId = 0;
function runOn(w, values, ops) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const onMessage = (event) => {
      if (event.data.id !== id) return;
      w.removeEventListener('message', onMessage);
      if (event.data.error) reject(new Error(event.data.error));
      else resolve(event.data);
    };
    w.addEventListener('message', onMessage);
    w.addEventListener('error', (e) => reject(new Error(e.message)), { once: true });
    w.postMessage({ id, values, ops });
  });
}

$('compute').addEventListener('click', async () => {
  const values = state.values;
  const ops = selectedOps();
  if (!values || ops.length === 0) return;
  setStatus('computing');
  $('compute').disabled = true;
  $('throughput').textContent = 'Computing…';
  const nWorkers = Math.max(1, Math.min(ops.length, navigator.hardwareConcurrency || 2));
  const shares = Array.from({ length: nWorkers }, () => []);
  ops.forEach((op, i) => shares[i % nWorkers].push(op));
  try {
    const t0 = performance.now();
    // Each worker gets its own copy of the series (structured clone).
    const replies = await Promise.all(shares.map((share, i) => runOn(worker(i), values, share)));
    const ms = performance.now() - t0;
    const byName = new Map(replies.flatMap((r) => r.results.map((x) => [x.name, x.values])));
    state.results = Object.fromEntries(ops.map((op) => [op.name, byName.get(op.name)]));
    const kernelMs = Math.max(...replies.map((r) => r.ms));
    const work = values.length * ops.length;
    $('throughput').textContent =
      `${group(values.length)} rows × ${ops.length} op${ops.length > 1 ? 's' : ''}: ` +
      `kernels ${(work / (kernelMs / 1000) / 1e6).toFixed(1)} M rows/s (${(kernelMs / 1000).toFixed(3)} s on ${nWorkers} worker${nWorkers > 1 ? 's' : ''}); ` +
      `end to end ${(ms / 1000).toFixed(3)} s, ${(work / (ms / 1000) / 1e6).toFixed(1)} M rows/s, with copying to and from the workers`;
    draw(ops.map((o) => o.name));
    setStatus('done');
  } catch (error) {
    $('throughput').textContent = `Failed: ${error.message}`;
    setStatus('error');
  } finally {
    $('compute').disabled = false;
  }
});

// ---- Plot ----------------------------------------------------------------

const finite = (x) => (Number.isFinite(x) ? x : null);

/** x and each series, full or as a min/max envelope of BUCKETS columns. */
function plotData(series) {
  const n = state.values.length;
  if (n <= PLOT_FULL) {
    const x = Float64Array.from({ length: n }, (_, i) => i);
    return [x, ...series.map((s) => Array.from(s, finite))];
  }
  const size = Math.ceil(n / BUCKETS);
  const x = [];
  const ys = series.map(() => []);
  for (let start = 0; start < n; start += size) {
    const end = Math.min(n, start + size);
    x.push(start, start + Math.floor((end - start) / 2));
    series.forEach((s, k) => {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = start; i < end; i++) {
        const v = s[i];
        if (Number.isFinite(v)) {
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
      ys[k].push(lo === Infinity ? null : lo, hi === -Infinity ? null : hi);
    });
  }
  return [x, ...ys];
}

function draw(names) {
  const host = $('plot');
  state.plot?.destroy();
  state.plot = null;
  if (!state.values) return;
  const series = [state.values, ...names.map((n) => state.results[n])];
  const data = plotData(series);
  state.plotData = data;
  const n = state.values.length;
  $('plot-note').textContent =
    n > PLOT_FULL
      ? `Showing a min/max envelope of ${group(n)} points in ${BUCKETS} columns; non-finite values (NaN, ±Infinity) are gaps.`
      : `Showing all ${group(n)} points; non-finite values (NaN, ±Infinity) are gaps.`;
  state.plot = new uPlot(
    {
      width: host.clientWidth || 1000,
      height: 440,
      scales: { x: { time: false } },
      axes: [{ label: 'row' }, { label: 'value' }],
      series: [
        { label: 'row' },
        { label: 'raw', stroke: COLORS.raw, width: 1 },
        ...names.map((name) => ({ label: name, stroke: COLORS[name] ?? '#333', width: 1.5 })),
      ],
    },
    data,
    host,
  );
}

window.addEventListener('resize', () => state.plot?.setSize({ width: $('plot').clientWidth, height: 440 }));
setStatus('ready');
