// The demo page: load a CSV (streamed through streamkernel's CSV source) with
// its value, key and time columns, or generate a series; compute count
// windows, rolling-by-duration or tumbling windows in Web Workers with the
// WASM kernels; plot per key against time (or row) with uPlot. A live mode
// (live.js) feeds generated rows at a chosen rate through the same ops.
import uPlot from 'uplot';
import { csvSource, UnknownColumnError } from '/dist/src/connectors/index.js';
import { generateSeries } from '/web/data.js';
import { startLive, stopLive } from '/web/live.js';
import { alignedData, BUCKETS, group, nonFiniteNotes, PLOT_FULL, plotOptions, seriesOf, sortedRows } from '/web/plot.js';
import { ask, say } from '/web/ui.js';

const $ = (id) => document.getElementById(id);
const NONE = '';

const state = { values: null, times: null, keys: null, label: '', file: null, results: null, plot: null, plotData: null, status: 'idle', workers: [] };
window.__demo = state;

function setStatus(s) {
  state.status = s;
  document.body.dataset.status = s;
}


function fail(el, text) {
  say(el, text, 'error');
  setStatus('error');
}

/** A load failed: the previous data is gone too, so nothing is computed on it by mistake. */
function failLoad(text) {
  Object.assign(state, { values: null, times: null, keys: null, results: null });
  $('compute').disabled = true;
  say($('throughput'), '');
  draw([]);
  fail($('data-info'), text);
}

function setValues(values, label, { times = null, keys = null } = {}) {
  Object.assign(state, { values, times, keys, label, results: null });
  say($('data-info'), label);
  $('compute').disabled = false;
  say($('throughput'), '');
  draw([]);
}

// ---- Data ----------------------------------------------------------------

$('generate').addEventListener('click', () => {
  const n = Number($('gen-rows').value);
  const t0 = performance.now();
  const values = generateSeries(n);
  setValues(values, `Generated series (noisy sine, drift, NaN gap, spikes, one +Infinity) in ${(performance.now() - t0).toFixed(0)} ms: ${group(values.length)} points.`);
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

/** Whether the file's first 64 KiB hold more rows with a number in `column` than without. */
async function isNumeric(file, column) {
  let rows = 0;
  let skipped = 0;
  for await (const batch of csvSource(file.slice(0, 1 << 16).stream(), { value: column, onError: 'skip' })) {
    rows += batch.length;
    skipped += batch.skipped;
  }
  return rows > skipped;
}

function fillSelect(select, columns, value, none) {
  select.replaceChildren(...(none ? [new Option('none', NONE)] : []), ...columns.map((c) => new Option(c, c)));
  select.value = value;
}

async function pickFile(file) {
  state.file = file;
  setStatus('reading-header');
  try {
    const columns = await columnsOf(file);
    const numeric = [];
    for (const c of columns) if (await isNumeric(file, c)) numeric.push(c);
    // 'value' when there is one, else the first numeric column.
    const value = columns.includes('value') ? 'value' : (numeric[0] ?? columns[0] ?? '');
    fillSelect($('column'), columns, value, false);
    fillSelect($('key-column'), columns, NONE, true);
    fillSelect($('time-column'), columns, NONE, true);
    $('column-row').hidden = false;
    const text = numeric.length === 0 ? ' No column holds numbers.' : '';
    say($('data-info'), `${file.name}: ${group(file.size)} bytes, columns ${columns.join(', ')} (numeric: ${numeric.join(', ') || 'none'}).${text} Pick the value column, and a key and a time column to plot per key against time.`, numeric.length === 0 ? 'error' : undefined);
    setStatus('header');
  } catch (error) {
    fail($('data-info'), `Cannot read ${file.name}: ${error.message}`);
  }
}

/** Appends a batch's column to a growing Float64Array. */
function append(into, n, part) {
  if (n + part.length > into.length) {
    const bigger = new Float64Array(Math.max(into.length * 2, n + part.length));
    bigger.set(into.subarray(0, n));
    into = bigger;
  }
  into.set(part, n);
  return into;
}

/** The value column and, when asked, the key and time columns: one pass of the library's CSV source. */
async function readColumns(file, { value, key, time }) {
  let values = new Float64Array(1 << 16);
  let times = time ? new Float64Array(1 << 16) : null;
  const keys = key ? [] : null;
  let n = 0;
  let skipped = 0;
  for await (const batch of csvSource(file.stream(), { value, onError: 'skip', ...(key && { key }), ...(time && { time }) })) {
    values = append(values, n, batch.values);
    if (times) times = append(times, n, batch.timestamps);
    if (keys) for (const k of batch.keys) keys.push(k);
    n += batch.length;
    skipped += batch.skipped;
    say($('data-info'), `Parsing ${file.name}: ${group(n)} rows…`);
  }
  return { values: values.slice(0, n), times: times?.slice(0, n) ?? null, keys, n, skipped };
}

/** A date text the library does not read (it takes ms or ISO 8601 only), such as 'Jan 1 2000', read by the browser as UTC. */
function browserDate(text) {
  const d = new Date(text);
  return d.getTime() - d.getTimezoneOffset() * 60_000;
}

/**
 * The columns, with a time column of other date texts read by the browser:
 * when most rows are refused for their time, the time column is read again
 * as text (as a key column: no row is refused for it) and parsed here.
 */
async function readColumnsLeniently(file, columns) {
  const strict = await readColumns(file, columns);
  if (!columns.time || strict.n >= strict.skipped) return { ...strict, note: '' };
  const asText = await readColumns(file, { value: columns.value, key: columns.time });
  const times = Float64Array.from(asText.keys, browserDate);
  if (asText.n === 0 || times.some(Number.isNaN)) return { ...strict, note: '' };
  const keys = columns.key ? (await readColumns(file, { value: columns.value, key: columns.key })).keys : null;
  return { ...asText, times, keys, note: ` (dates in ${columns.time} are not ISO 8601: read by the browser, as UTC)` };
}

async function loadColumn() {
  const file = state.file;
  const column = $('column').value;
  const key = $('key-column').value;
  const time = $('time-column').value;
  setStatus('parsing');
  const t0 = performance.now();
  let read;
  try {
    read = await readColumnsLeniently(file, { value: column, key, time });
  } catch (error) {
    failLoad(`Cannot parse ${file.name}: ${error.message}`);
    return;
  }
  const { values, times, keys, n, skipped, note } = read;
  if (n === 0) {
    const what = [column, key, time].filter(Boolean).map((c) => `"${c}"`).join(', ');
    failLoad(`${file.name}: no rows loaded: ${skipped ? `all ${group(skipped)} rows were skipped as malformed (${what}: a value must be a number, a time a number of ms or an ISO date)` : 'the file has no rows'}. Pick another column.`);
    return;
  }
  const ms = performance.now() - t0;
  const nKeys = keys ? new Set(keys).size : 0;
  const parts = [`column ${column}`, key && `key ${key} (${group(nKeys)} keys)`, time && `time ${time}${note}`].filter(Boolean).join(', ');
  setValues(values, `${file.name}, ${parts}: ${group(n)} points (parsed in ${ms.toFixed(0)} ms${skipped ? `, ${group(skipped)} malformed rows skipped` : ''}).`, { times, keys });
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

$('window-kind').addEventListener('change', () => {
  const time = $('window-kind').value !== 'count';
  document.querySelector('[data-kind=count]').hidden = time;
  document.querySelector('[data-kind=time]').hidden = !time;
});

/** The ops and windows chosen in step 2, or an error message. */
function chosenWindows() {
  const kind = $('window-kind').value;
  const rows = Number($('window').value);
  const minPeriods = Number($('min-periods').value);
  const duration = $('duration').value.trim();
  const ops = [...$('ops').querySelectorAll('input:checked')].map((input) => {
    const op = input.value;
    // min periods is at most the window in rows; a duration window takes it as it is.
    const min = kind === 'count' ? Math.min(minPeriods, rows) : minPeriods;
    if (op === 'ewm') return { name: 'ewm', spec: { op: 'ewm', span: rows, minPeriods: min } };
    return { name: op, spec: { op, window: rows, minPeriods: min } };
  });
  if (kind !== 'count' && ops.some((o) => o.name === 'ewm')) return { error: 'ewm mean has no time windows: untick it, or pick count windows.' };
  return { kind, ops, duration: /^\d+(\.\d+)?$/.test(duration) ? Number(duration) : duration, minPeriods };
}

function worker(i) {
  state.workers[i] ??= new Worker('/web/worker.js', { type: 'module' });
  return state.workers[i];
}


$('compute').addEventListener('click', async () => {
  const { values, times, keys } = state;
  const chosen = chosenWindows();
  if (chosen.error) return fail($('throughput'), chosen.error);
  const { ops, kind, duration } = chosen;
  if (!values || ops.length === 0) return;
  if (kind !== 'count' && !times) return fail($('throughput'), 'Time windows need a time column: pick one in step 1 and load the columns again.');
  setStatus('computing');
  $('compute').disabled = true;
  say($('throughput'), 'Computing…');
  const nWorkers = Math.max(1, Math.min(ops.length, navigator.hardwareConcurrency || 2));
  const shares = Array.from({ length: nWorkers }, () => []);
  ops.forEach((op, i) => shares[i % nWorkers].push(op));
  try {
    const t0 = performance.now();
    // Each worker gets its own copy of the columns (structured clone).
    const replies = await Promise.all(shares.map((share, i) => ask(worker(i), { values, times, keys, kind, duration, ops: share })));
    const ms = performance.now() - t0;
    const byName = new Map(replies.flatMap((r) => r.results.map((x) => [x.name, x.values])));
    state.results = Object.fromEntries(ops.map((op) => [op.name, byName.get(op.name)]));
    const kernelMs = Math.max(...replies.map((r) => r.ms));
    const work = values.length * ops.length;
    say(
      $('throughput'),
      `${group(values.length)} rows × ${ops.length} op${ops.length > 1 ? 's' : ''}: ` +
        `kernels ${(work / (kernelMs / 1000) / 1e6).toFixed(1)} M rows/s (${(kernelMs / 1000).toFixed(3)} s on ${nWorkers} worker${nWorkers > 1 ? 's' : ''}); ` +
        `end to end ${(ms / 1000).toFixed(3)} s, ${(work / (ms / 1000) / 1e6).toFixed(1)} M rows/s, with copying to and from the workers`,
      'ok',
    );
    draw(ops.map((o) => o.name), chosen.minPeriods);
    setStatus('done');
  } catch (error) {
    fail($('throughput'), `Failed: ${error.message}`);
  } finally {
    $('compute').disabled = false;
  }
});

// ---- Plot ----------------------------------------------------------------



function draw(names, minPeriods = 1) {
  stopLive(true);
  const host = $('plot');
  state.plot?.destroy();
  state.plot = null;
  $('nonfinite-note').replaceChildren();
  if (!state.values) return;
  const { values, times, keys } = state;
  const n = values.length;
  // Time in seconds for uPlot's time axis.
  const x = times ? Float64Array.from(times, (t) => t / 1000) : Float64Array.from({ length: n }, (_, i) => i);
  const { series, shown, total } = seriesOf(names, values, state.results ?? {}, keys);
  state.plotData = alignedData(x, series, keys, times ? sortedRows(x) : undefined);
  const per = keys ? `, one line style per key${total > shown.length ? ` (the ${shown.length} keys with the most rows of ${group(total)})` : ''}` : '';
  say(
    $('plot-note'),
    (n > PLOT_FULL ? `Showing a min/max envelope of ${group(n)} points in ${BUCKETS} columns` : `Showing all ${group(n)} points`) +
      `${times ? ' against time' : ''}${per}; non-finite values (NaN, ±Infinity) are gaps.`,
  );
  $('nonfinite-note').replaceChildren(...nonFiniteNotes(values, state.results ?? {}, minPeriods).map((t) => Object.assign(document.createElement('li'), { textContent: t })));
  state.plot = new uPlot(plotOptions(host, times ? 'time' : 'row', Boolean(times), series.map((s) => s.style)), state.plotData, host);
}

window.addEventListener('resize', () => state.plot?.setSize({ width: $('plot').clientWidth, height: 440 }));

// ---- Live ----------------------------------------------------------------

$('live-start').addEventListener('click', () => {
  const chosen = chosenWindows();
  if (chosen.error || chosen.ops.length === 0) return fail($('live-info'), chosen.error ?? 'Pick at least one op in step 2.');
  state.plot?.destroy();
  state.plot = null;
  $('nonfinite-note').replaceChildren();
  $('live-start').disabled = true;
  $('live-stop').disabled = false;
  setStatus('live');
  startLive({ ...chosen, rate: Number($('live-rate').value), host: $('plot'), info: $('live-info'), note: $('plot-note'), onError: (message) => fail($('live-info'), message), onStop: () => {
    $('live-start').disabled = false;
    $('live-stop').disabled = true;
  } });
});
$('live-stop').addEventListener('click', () => {
  stopLive();
  setStatus('stopped');
});


setStatus('ready');
