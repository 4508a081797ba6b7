// Window records of epoch-ms times allocate no more than records of small
// times (issue 15): a grid window's record shares its bucket's bounds (tagged
// fields, src/time/record-shape.ts) instead of boxing two doubles of its own.
// Measured in a child process: young-generation bytes per record of each batch
// (a 256 MB young generation, so no scavenge inside a batch; a full GC before
// each), the least over 30 batches, which code not yet optimized only raises.
// Session windows of epoch-ms times (issue 15) boxed their times wherever a
// call that V8 did not inline took or returned one (TimerQueue.push,
// scheduleForget, SessionStore.add and purge, dueTime): the callers now write
// times into the typed arrays themselves. A session's record holds two boxes
// of its own (its bounds come from the slab's Float64Arrays), no more.
// Imports the build (dist/): run `npm run build` first.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const entry = fileURLToPath(new URL('../dist/src/index.js', import.meta.url));
const EPOCH = Date.UTC(2026, 0, 1);

/**
 * The least young-generation bytes per record of a batch of 100 000 rows
 * through push (or pushColumns: per window) (1 000 keys, one row per key and
 * window: one record per row), times from `origin`, over 30 batches.
 * `noPretenuring`: records stay in the young generation (V8 may otherwise
 * move an allocation site's objects to the old one, which this does not see).
 */
function bytesPerRecord(spec: object, origin: number, { columns = false, noPretenuring = false } = {}): number {
  const script = `
    const v8 = await import('node:v8');
    const { createWindows } = await import(${JSON.stringify(entry)});
    const op = await createWindows(${JSON.stringify(spec)});
    const rows = 100000, keys = new Uint32Array(rows), xs = new Float64Array(rows), ts = new Float64Array(rows);
    for (let i = 0; i < rows; i++) { keys[i] = i % 1000; xs[i] = (i * 7) % 13; }
    const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_used_size;
    let next = 0, least = Infinity, records = 0;
    for (let b = 0; b < 30; b++) {
      for (let i = 0; i < rows; i++) ts[i] = ${origin} + (next + Math.floor(i / 1000)) * 1000;
      next += rows / 1000;
      gc();
      const before = young();
      records = ${columns ? 'op.pushColumns(ts, xs, keys).length' : 'op.push(ts, xs, keys).windows.length'};
      least = Math.min(least, (young() - before) / records);
    }
    console.log(JSON.stringify({ least, records }));
  `;
  const child = spawnSync(process.execPath, [...(noPretenuring ? ['--no-allocation-site-pretenuring'] : []), '--expose-gc', '--min-semi-space-size=256', '--max-semi-space-size=256', '--input-type=module', '-e', script], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`child failed: ${child.stderr}`);
  const { least, records } = JSON.parse(child.stdout) as { least: number; records: number };
  expect(records).toBeGreaterThan(90_000);
  return least;
}

/** The median of bytesPerRecord over five child processes: which calls V8 inlines differs from process to process, and so do the boxes. */
function medianBytesPerRecord(spec: object, origin: number, options: { columns?: boolean; noPretenuring?: boolean }): number {
  const runs = Array.from({ length: 5 }, () => bytesPerRecord(spec, origin, options)).sort((a, b) => a - b);
  return runs[2]!;
}

describe('window records of epoch-ms times', () => {
  it('regression: a grid window\'s record of epoch-ms times (above 2^31, no small integer) held start and end as boxes of its own (a double field: 2 heap numbers, 32 B a record); it now shares its bucket\'s, and allocates no more than on small times', () => {
    for (const spec of [
      { kind: 'tumbling', op: 'sum', size: '1s', keys: 'number' },
      { kind: 'hopping', op: 'mean', size: '2s', step: '1s', keys: 'number' },
    ]) {
      const small = bytesPerRecord(spec, 0);
      const epoch = bytesPerRecord(spec, EPOCH);
      // Boxed bounds: 32 B more a record (~129 against ~97).
      expect(epoch, `${spec.kind}: ${small} B a record on small times, ${epoch} on epoch-ms times`).toBeLessThan(small + 16);
    }
  }, 180_000);

  it('regression: a session window of epoch-ms times (above 2^31, no small integer) boxed its times in every call V8 did not inline that took or returned one (timers, new sessions, purged ends: 80-112 B a window by pushColumns, 81-128 B more a record by push, in most processes); now pushColumns allocates about as much as on small times, and a record only its own two bounds more', () => {
    for (const op of ['sum', 'mean']) {
      // Gap 300 ms, one row per key a second: every row is a session of its own, one record.
      const spec = { kind: 'session', op, gap: '300ms', keys: 'number' };
      const options = { noPretenuring: true };
      const small = bytesPerRecord(spec, 0, options);
      const epoch = medianBytesPerRecord(spec, EPOCH, options);
      // Its bounds: 32 B (two heap numbers), now; the old build 81-112 B more in most processes.
      expect(epoch, `session ${op}, push: ${small} B a record on small times, ${epoch} on epoch-ms times`).toBeLessThan(small + 32 + 40);
      const smallColumns = bytesPerRecord(spec, 0, { ...options, columns: true });
      const epochColumns = medianBytesPerRecord(spec, EPOCH, { ...options, columns: true });
      // The old build: 80-112 B more in most processes; now 0, or 16-32 B in some (see docs/TIME-WINDOWS.md).
      expect(epochColumns, `session ${op}, pushColumns: ${smallColumns} B a window on small times, ${epochColumns} on epoch-ms times`).toBeLessThan(smallColumns + 48);
    }
  }, 600_000);
});
