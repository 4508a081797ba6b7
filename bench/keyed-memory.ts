// Memory of keyed state (node dist/bench/keyed-memory.js): the state size of
// the keyed operators, not RSS (which timing and the garbage collector skew).
//
// - rolling by duration: 100 000 keys, mean over a window holding 100 rows
//   of each key (rows interleaved across keys, as a real stream): the WASM
//   memory of the one timeroll instance, and its live state bytes;
// - session windows: a burst of 1 000 000 distinct keys whose sessions all
//   close: the snapshot before and after the burst.
//
// Flags: --keys N (default 100 000), --session-keys N (default 1 000 000).
import { WindowsGroupOperator } from '../src/keyed/index.js';
import { createDurationRolling } from '../src/time/rolling.js';
import { normalizeDurationRolling, normalizeWindowSpec } from '../src/time/spec.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
};
const KEYS = flag('--keys', 100_000);
const SESSION_KEYS = flag('--session-keys', 1_000_000);
const MB = 1e6;

async function durationRolling(): Promise<void> {
  // Each key gets a row every 10 ms; the window is 1 s: 100 rows of window per key.
  const op = await createDurationRolling(normalizeDurationRolling({ op: 'mean', window: 1000, keys: 'number' }));
  const batch = 1 << 16;
  const rowsPerKey = 120;
  const n = KEYS * rowsPerKey;
  const ts = new Float64Array(batch);
  const vals = new Float64Array(batch);
  const ids = new Uint32Array(batch);
  const out = new Float64Array(batch);
  for (let from = 0; from < n; from += batch) {
    const m = Math.min(batch, n - from);
    for (let j = 0; j < m; j++) {
      const i = from + j;
      ids[j] = i % KEYS;
      ts[j] = Math.floor(i / KEYS) * 10;
      vals[j] = (i * 7919) % 1000;
    }
    op.pushIds(ts.subarray(0, m), vals.subarray(0, m), ids.subarray(0, m), out.subarray(0, m));
  }
  const wasm = op.memoryBytes;
  const live = op.stateBytes;
  console.log(`rolling by duration, mean, ${KEYS} keys × 100 rows of window: WASM memory ${(wasm / MB).toFixed(1)} MB (${Math.round(wasm / KEYS)} B per key), live state ${(live / MB).toFixed(1)} MB (${Math.round(live / KEYS)} B per key)`);
}

function sessionBurst(): void {
  const op = new WindowsGroupOperator(normalizeWindowSpec({ kind: 'session', gap: 100, op: 'sum', keys: 'number' }), 128);
  const push = (t0: number, keys: number, first: number): void => {
    const batch = 1 << 16;
    for (let from = 0; from < keys; from += batch) {
      const m = Math.min(batch, keys - from);
      const ts = new Float64Array(m).fill(t0);
      const ids = new Uint32Array(m);
      for (let j = 0; j < m; j++) ids[j] = first + from + j;
      op.processRows(ts, new Float64Array(m).fill(1), ids);
    }
  };
  const size = (): number => {
    let bytes = 0;
    for (let g = 0; g < 128; g++) bytes += op.snapshotGroup(g)?.length ?? 0;
    return bytes;
  };
  push(0, 1000, 0);
  const before = size();
  push(1000, SESSION_KEYS, 1000);
  const during = size();
  push(100_000, 1000, 0); // closes every session of the burst
  push(200_000, 1000, 0);
  const after = size();
  console.log(`session burst of ${SESSION_KEYS} keys: checkpoint ${(before / MB).toFixed(3)} MB before, ${(during / MB).toFixed(1)} MB during, ${(after / MB).toFixed(3)} MB after (${((after / before - 1) * 100).toFixed(1)} %)`);
}

await durationRolling();
sessionBurst();
