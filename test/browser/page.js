// The page side of test/scheduler-browser.test.ts: the scheduler from dist/
// with Web Workers and IndexedDB, exposed as scenarios on window.scenarios.
// Each scenario computes everything in the page (the job's output and a
// single-thread reference) and returns a JSON summary; output bytes go back
// as base64 so that the test can also compare them with Node's results.
import {
  arraySource,
  CheckpointError,
  createJob,
  decodeCheckpoint,
  latestCheckpoint,
  memorySink,
  parallelRolling,
} from '/dist/src/scheduler/index.js';
import { indexedDBCheckpointStore, webWorkers } from '/dist/src/scheduler/browser.js';
import { createKernel } from '/dist/src/kernel.js';
import { EWM_DECAY_FIELDS, KERNEL_OPS } from '/dist/src/spec.js';
import { OPERATOR_KINDS } from '/dist/src/keyed/spec.js';
import { TIME_OPS } from '/dist/src/time/spec.js';
import { makeData, prng } from './data.js';
import { kindSpecs, matrixSpecs, specLabel } from './matrix.js';

/** The single-thread result in the page: one kernel per key, fed its rows in order. */
async function reference(spec, values, keys) {
  if (keys === undefined) {
    const k = await createKernel(spec);
    const out = k.push(values);
    k.dispose();
    return out;
  }
  const rowsOf = new Map();
  for (let i = 0; i < keys.length; i++) {
    let rows = rowsOf.get(keys[i]);
    if (rows === undefined) rowsOf.set(keys[i], (rows = []));
    rows.push(i);
  }
  const out = new Float64Array(values.length);
  for (const rows of rowsOf.values()) {
    const k = await createKernel(spec);
    const r = k.push(Float64Array.from(rows, (i) => values[i]));
    rows.forEach((row, j) => (out[row] = r[j]));
    k.dispose();
  }
  return out;
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function base64(f64) {
  const bytes = new Uint8Array(f64.buffer, f64.byteOffset, f64.byteLength);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** A sink that records committed batches and checks offsets are contiguous (no gaps, no duplicates). */
function checkedSink() {
  const problems = [];
  let next;
  const sink = memorySink({
    onCommit: (b) => {
      if (next !== undefined && b.offset !== next) problems.push(`committed offset ${b.offset}, expected ${next}`);
      next = b.offset + b.values.length;
    },
  });
  return { sink, problems };
}

/**
 * An adapter that watches its workers: the transfer lists of posted messages
 * (a batch's buffers must be detached after the post: moved, not cloned) and
 * the WebAssembly.Module handed to each worker.
 */
function watchedWorkers() {
  const workers = [];
  const stats = { spawned: 0, batches: 0, clonedBatches: 0, modules: new Set(), inits: 0 };
  const inner = webWorkers({
    onSpawn(worker) {
      workers.push(worker);
      stats.spawned++;
      const post = worker.postMessage.bind(worker);
      worker.postMessage = (message, transfer) => {
        post(message, transfer);
        if (message?.t === 'batch') {
          stats.batches++;
          if (message.values.byteLength !== 0 || (message.keys !== undefined && message.keys.byteLength !== 0)) stats.clonedBatches++;
        }
        if (message?.t === 'init') {
          stats.inits++;
          if (message.module instanceof WebAssembly.Module) stats.modules.add(message.module);
        }
      };
    },
  });
  // Which failure signals the handles delivered (after the job's own generation check they may be ignored).
  stats.events = [];
  const adapter = {
    platform: inner.platform,
    concurrency: inner.concurrency,
    spawn() {
      const handle = inner.spawn();
      return {
        ...handle,
        onError: (h) => handle.onError((e) => { stats.events.push(`error: ${e.message}`); h(e); }),
        onExit: (h) => handle.onExit((code) => { stats.events.push(`exit ${code}`); h(code); }),
      };
    },
  };
  return { adapter, workers, stats };
}

const SPEC = { op: 'median', window: 16 };

async function runKeyed({ seed = 1, n = 30_000, distinct = 40, faults, killAfterBatch, heartbeat, spec = SPEC } = {}) {
  const { values, keys } = makeData(seed, n, distinct);
  const { adapter, workers, stats } = watchedWorkers();
  const { sink, problems } = checkedSink();
  let killed = false;
  const source = arraySource(values, { keys, batchRows: 1000 });
  let reads = 0;
  const killing = {
    replayable: true,
    seek: (offset) => source.seek(offset),
    read() {
      if (killAfterBatch !== undefined && !killed && reads++ === killAfterBatch) {
        killed = true;
        // From outside, on the raw Worker: no event at all; the heartbeat must notice.
        workers[workers.length - 1].terminate();
      }
      return source.read();
    },
  };
  const t0 = performance.now();
  const job = await createJob({
    adapter,
    operator: spec,
    keyed: true,
    workers: 2,
    sink,
    checkpoints: { everyRows: 4000, everyMs: Infinity },
    restart: { maxRestarts: 20, initialDelayMs: 1, maxDelayMs: 20 },
    heartbeat: heartbeat ?? { intervalMs: 50, timeoutMs: 1500 },
    faults,
  });
  const result = await job.run(killing);
  const ms = performance.now() - t0;
  const out = sink.committed();
  const expected = await reference(spec, values, keys);
  return {
    rows: result.rows,
    restarts: result.restarts,
    checkpoints: result.checkpoints,
    equal: sameBytes(out, expected),
    length: out.length,
    problems,
    killed,
    ms: Math.round(ms),
    spawned: stats.spawned,
    batches: stats.batches,
    clonedBatches: stats.clonedBatches,
    modulesPosted: stats.modules.size,
    inits: stats.inits,
    bytes: base64(out),
    events: stats.events,
  };
}

async function clearDatabase(name) {
  await new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error(`deleting ${name} is blocked`));
  });
}

/** Raw access to a record of the store, bypassing the library (to corrupt it). */
async function rawRecord(name, id, change) {
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  try {
    await new Promise((resolve, reject) => {
      const tx = db.transaction('checkpoints', 'readwrite');
      const s = tx.objectStore('checkpoints');
      const get = s.get(id);
      get.onsuccess = () => s.put(change(get.result), id);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

const IDB_SPEC = { op: 'mean', window: 50 };
const IDB_DATA = { seed: 7, n: 24_000, distinct: 25 };

/** Pushes rows [from, to) of `data` (its columns: values, keys, maybe times) in batches of 100. */
async function pushRows(job, data, from, to) {
  for (let a = from; a < to; a += 100) {
    const end = Math.min(a + 100, to);
    await job.push(Object.fromEntries(Object.entries(data).map(([column, array]) => [column, array.slice(a, end)])));
  }
}

/** A copy of an IndexedDB store's checkpoints in a fresh database: one per resumed job. */
async function copyStore(saved, name) {
  await clearDatabase(name);
  const store = indexedDBCheckpointStore(name, { keep: 3 });
  for (const [id, bytes] of [...saved].reverse()) await store.save(id, bytes.slice());
  return store;
}

const MATRIX = { seed: 11, rows: 1200, distinct: 11, checkpointAt: 500, stopAt: 800 };
const ONLY_EXPLICIT = { everyRows: Infinity, everyMs: Infinity };
const sourceOf = ({ values, ...columns }) => arraySource(values, { ...columns, batchRows: 100 });

/**
 * One cell of the checkpoint matrix: a job of `spec` on `before` workers,
 * checkpointed at MATRIX.checkpointAt into IndexedDB, stopped (aborted) with
 * rows written up to MATRIX.stopAt; a new job on `after` workers resumes from
 * a copy of the database and runs to the end. Returns both jobs' sinks.
 */
async function stopAndResume(adapter, spec, data, before, after) {
  const name = 'sk-matrix';
  await clearDatabase(name);
  const store = indexedDBCheckpointStore(name, { keep: 3 });
  const head = memorySink();
  const stopped = await createJob({ adapter, operator: spec, keyed: true, workers: before, sink: head, checkpoints: { store, ...ONLY_EXPLICIT } });
  await pushRows(stopped, data, 0, MATRIX.checkpointAt);
  await stopped.checkpoint();
  await pushRows(stopped, data, MATRIX.checkpointAt, MATRIX.stopAt);
  await stopped.abort();
  const saved = [];
  for (const id of await store.list()) saved.push([id, await store.read(id)]);
  store.close();
  const copy = await copyStore(saved, `${name}-resume`);
  const tail = memorySink();
  const job = await createJob({ adapter, operator: spec, keyed: true, workers: after, sink: tail, checkpoints: { store: copy, ...ONLY_EXPLICIT }, resume: true });
  const offset = job.offset;
  const refused = job.refused.map((r) => r.error.message);
  await job.run(sourceOf(data));
  copy.close();
  return { head, tail, offset, refused };
}

/** `head`'s committed results followed by `tail`'s: one per row. */
function joinedRows(head, tail) {
  const out = new Float64Array(head.committed().length + tail.committed().length);
  out.set(head.committed());
  out.set(tail.committed(), head.committed().length);
  return out;
}

/** `head`'s committed window records and late rows followed by `tail`'s. */
function joinedWindows(head, tail) {
  const [a, b] = [head.committedWindows(), tail.committedWindows()];
  return { windows: [...a.windows, ...b.windows], late: [...a.late, ...b.late] };
}

/** Where two window outputs first differ ('windows.3.value: 1 ≠ 2'), or undefined; numbers as toEqual compares them (Object.is: -0 ≠ 0, NaN = NaN). */
function difference(a, b, at = '') {
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b) ? undefined : `${at}: ${a} ≠ ${b}`;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b ? undefined : `${at}: ${String(a)} ≠ ${String(b)}`;
  if (Array.isArray(a) && a.length !== b.length) return `${at}.length: ${a.length} ≠ ${b.length}`;
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = difference(a[k], b[k], at === '' ? k : `${at}.${k}`);
    if (d !== undefined) return d;
  }
  return undefined;
}

/** Event times in ms for the operator kinds: in order, 0–3 ms apart (ties included), as in checkpoint-matrix.test.ts. */
function eventTimes(seed, n) {
  const rand = prng(seed);
  const times = new Float64Array(n);
  for (let i = 1; i < n; i++) times[i] = times[i - 1] + Math.floor(rand() * 4);
  return times;
}

/** Whether an operator's rows carry times (every kind but count windows), and whether it emits window records (every kind but rolling). */
const timed = (spec) => spec.kind !== 'count';
const windowed = (spec) => spec.kind !== 'rolling';

/** The failure-free run of `spec` on one worker: rows, or window records and late rows. */
async function singleWorkerRun(adapter, spec, data) {
  const sink = memorySink();
  const job = await createJob({ adapter, operator: spec, keyed: true, workers: 1, sink });
  await job.run(sourceOf(data));
  return windowed(spec) ? sink.committedWindows() : sink.committed();
}

window.scenarios = {
  /**
   * The checkpoint matrix on IndexedDB: every spec of the matrix (generated
   * from the op list) × workers 1–4 when checkpointed, each resumed on another
   * count (1→2, 2→3, 3→4, 4→1). The job stops after rows past its checkpoint;
   * the resumed output, after the rows committed before the stop, must be the
   * single-thread result.
   */
  async matrix() {
    const data = makeData(MATRIX.seed, MATRIX.rows, MATRIX.distinct);
    const adapter = webWorkers();
    const cells = [];
    for (const spec of matrixSpecs(KERNEL_OPS, EWM_DECAY_FIELDS)) {
      const expected = await reference(spec, data.values, data.keys);
      for (const before of [1, 2, 3, 4]) {
        const after = (before % 4) + 1;
        const { head, tail, offset, refused } = await stopAndResume(adapter, spec, data, before, after);
        const out = joinedRows(head, tail);
        cells.push({ spec: specLabel(spec), before, after, offset, refused, equal: out.length === MATRIX.rows && sameBytes(out, expected) });
      }
    }
    return cells;
  },

  /**
   * The checkpoint matrix of the scheduler's operator kinds on IndexedDB:
   * every kind of OPERATOR_KINDS × every op of TIME_OPS (from dist/), rows
   * with event times (count windows take none), each spec on the next pair
   * of `rotation` (workers when checkpointed → on resume) and, to keep the
   * browser time down, every spec but each `skip`th (kinds × ops in order,
   * so each kind drops different ops). Rolling is compared byte for byte,
   * the window kinds' records and late rows as values; both against a
   * failure-free single-worker run in the page.
   */
  async kindMatrix(rotation, skip) {
    const { values, keys } = makeData(MATRIX.seed, MATRIX.rows, MATRIX.distinct);
    const times = eventTimes(MATRIX.seed, MATRIX.rows);
    const adapter = webWorkers();
    const cells = [];
    for (const [i, spec] of kindSpecs(OPERATOR_KINDS, TIME_OPS).entries()) {
      if (i % skip === skip - 1) continue;
      const [before, after] = rotation[i % rotation.length];
      const data = timed(spec) ? { values, keys, times } : { values, keys };
      const expected = await singleWorkerRun(adapter, spec, data);
      const { head, tail, offset, refused } = await stopAndResume(adapter, spec, data, before, after);
      const cell = { spec: specLabel(spec), before, after, offset, refused };
      if (windowed(spec)) {
        // A comparison of nothing passes: the count of windows is checked too.
        cells.push({ ...cell, windows: expected.windows.length, difference: difference(joinedWindows(head, tail), expected) ?? null });
      } else {
        const out = joinedRows(head, tail);
        cells.push({ ...cell, windows: null, difference: out.length === MATRIX.rows && sameBytes(out, expected) ? null : 'rows differ' });
      }
    }
    return cells;
  },

  /** A keyed job on 2 Web Workers vs the single-thread result, and parallelRolling. */
  async keyed() {
    const summary = await runKeyed({ seed: 1 });
    const { values } = makeData(2, 50_000, 1);
    const spec = { op: 'std', window: 100 };
    const par = await parallelRolling(values, spec, { adapter: webWorkers(), workers: 2, chunkRows: 12_000 });
    summary.parallelEqual = sameBytes(par, await reference(spec, values));
    summary.hardwareConcurrency = webWorkers().concurrency;
    return summary;
  },

  /** One injected fault (`kind`), or a raw terminate() from outside (`kind: 'kill'`). */
  async fault(kind, afterBatch) {
    if (kind === 'kill') return runKeyed({ seed: 1, killAfterBatch: afterBatch, heartbeat: { intervalMs: 50, timeoutMs: 800 } });
    return runKeyed({ seed: 1, faults: [{ afterBatch, worker: 1, kind }], heartbeat: { intervalMs: 50, timeoutMs: kind === 'hang' ? 800 : 1500 } });
  },

  /** The IndexedDB store: keep-K, one-transaction saves, corrupt/truncated newest refused with fallback. */
  async idbStore() {
    const name = 'sk-test-store';
    await clearDatabase(name);
    const store = indexedDBCheckpointStore(name, { keep: 3 });
    const { values, keys } = makeData(IDB_DATA.seed, IDB_DATA.n, IDB_DATA.distinct);
    const { sink } = checkedSink();
    const job = await createJob({
      adapter: webWorkers(),
      operator: IDB_SPEC,
      keyed: true,
      workers: 2,
      sink,
      checkpoints: { store, everyRows: 5000, everyMs: Infinity },
    });
    const result = await job.run(arraySource(values, { keys, batchRows: 1000 }));
    const ids = await store.list();
    const newest = ids[0];
    const offsets = [];
    for (const id of ids) offsets.push(decodeCheckpoint(await store.read(id)).offset);
    const pristine = (await store.read(newest)).slice();
    const codes = {};
    const fallbacks = {};
    const corruptions = {
      flip: (b) => { const c = b.slice(); c[Math.floor(c.length / 2)] ^= 0x10; return c; },
      flipHeader: (b) => { const c = b.slice(); c[20] ^= 0x01; return c; },
      flipCrc: (b) => { const c = b.slice(); c[c.length - 1] ^= 0x80; return c; },
      truncate: (b) => b.slice(0, b.length - 9),
      truncateHeader: (b) => b.slice(0, 30),
      empty: () => new Uint8Array(0),
      magic: (b) => { const c = b.slice(); c[0] = 0x58; return c; },
      notBytes: () => 'not a checkpoint',
    };
    for (const [what, change] of Object.entries(corruptions)) {
      await rawRecord(name, newest, change);
      const { checkpoint, refused } = await latestCheckpoint(store);
      codes[what] = refused.map((r) => `${r.id}:${r.error instanceof CheckpointError ? r.error.code : r.error.name}`);
      fallbacks[what] = checkpoint?.id;
      await rawRecord(name, newest, () => pristine);
    }
    const restored = await latestCheckpoint(store);
    store.close();
    return {
      rows: result.rows,
      checkpoints: result.checkpoints,
      lastCheckpointId: result.lastCheckpointId,
      ids,
      offsets,
      codes,
      fallbacks,
      restoredId: restored.checkpoint?.id,
      restoredRefused: restored.refused.length,
    };
  },

  /** Phase 1 of resume across a page reload: run the first `rows` rows with checkpoints in IndexedDB. */
  async idbPhase1(rows) {
    const name = 'sk-test-resume';
    await clearDatabase(name);
    const store = indexedDBCheckpointStore(name, { keep: 3 });
    const { values, keys } = makeData(IDB_DATA.seed, IDB_DATA.n, IDB_DATA.distinct);
    const { sink } = checkedSink();
    const job = await createJob({
      adapter: webWorkers(),
      operator: IDB_SPEC,
      keyed: true,
      workers: 2,
      sink,
      checkpoints: { store, everyRows: 5000, everyMs: Infinity },
    });
    const result = await job.run(arraySource(values.slice(0, rows), { keys: keys.slice(0, rows), batchRows: 1000 }));
    const ids = await store.list();
    const offsets = [];
    for (const id of ids) offsets.push(decodeCheckpoint(await store.read(id)).offset);
    store.close();
    return { rows: result.rows, lastCheckpointId: result.lastCheckpointId, ids, offsets };
  },

  /**
   * Phase 2, after a reload: flip a byte of the newest checkpoint, resume on
   * 3 workers (the store falls back to the previous one) and run to the end.
   */
  async idbPhase2() {
    const name = 'sk-test-resume';
    const store = indexedDBCheckpointStore(name, { keep: 3 });
    const before = await store.list();
    await rawRecord(name, before[0], (b) => { const c = b.slice(); c[60] ^= 0x04; return c; });
    const { values, keys } = makeData(IDB_DATA.seed, IDB_DATA.n, IDB_DATA.distinct);
    const { sink, problems } = checkedSink();
    const job = await createJob({
      adapter: webWorkers(),
      operator: IDB_SPEC,
      keyed: true,
      workers: 3,
      sink,
      checkpoints: { store, everyRows: 5000, everyMs: Infinity },
      resume: true,
    });
    const resumedAt = job.offset;
    const refused = job.refused.map((r) => ({ id: r.id, code: r.error instanceof CheckpointError ? r.error.code : r.error.name, message: r.error.message }));
    const result = await job.run(arraySource(values, { keys, batchRows: 1000 }));
    const expected = await reference(IDB_SPEC, values, keys);
    const out = sink.committed();
    const after = await store.list();
    store.close();
    return {
      before,
      after,
      resumedAt,
      refused,
      rows: result.rows,
      firstOffset: sink.firstOffset,
      equal: sameBytes(out, expected.subarray(resumedAt)),
      problems,
      bytes: base64(out),
    };
  },
};

document.body.dataset.status = 'ready';
