// Regressions of the worker data path (issue 13: more workers must mean more
// throughput). The code under test runs on worker threads: imported from
// dist/ (npm test builds first), as in scheduler-helpers.ts.
import { describe, expect, it } from 'vitest';
import { KeyedOps } from '../dist/src/cli/ops.js';
import { parseRun } from '../dist/src/cli/run-args.js';
import { decodeCheckpoint } from '../dist/src/scheduler/checkpoint.js';
import type { RunCommand } from '../src/cli/run-args.js';
import { normalizeOperatorSpec } from '../src/keyed/spec.js';
import type { TaggedWindow } from '../src/keyed/windows.js';
import { packWindows, unpackWindows, type PackedWindows } from '../src/scheduler/records.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('the CLI on workers', () => {
  it("regression: an op on workers took a checkpoint of its own every second (every key's state snapshotted and checksummed)", async () => {
    const cmd = parseRun(['in.csv', '--value', 'v', '--key', 'k', '--op', 'mean', '--window', '3', '--workers', '2']) as RunCommand;
    const ops = await KeyedOps.create(cmd, [{ op: 'mean', window: 3 }], undefined);
    try {
      const values = Float64Array.from({ length: 100 }, (_, i) => i);
      const names = Array.from(values, (v) => `k${v % 7}`);
      await ops.push(undefined, values, names);
      // Longer than the scheduler's default checkpoint period: the next batch would have triggered one.
      await sleep(1100);
      await ops.push(undefined, values, names);
      await ops.push(undefined, values, names);
      await ops.settle();
      const [state] = (await ops.state()).jobs;
      // The checkpoint the run asked for is the job's first: none was taken in between.
      expect(decodeCheckpoint(state!).id).toBe(1);
      expect(decodeCheckpoint(state!).offset).toBe(300);
    } finally {
      ops.dispose();
    }
  });
});

describe('window records between workers and the coordinator', () => {
  it('regression: window records were structured-cloned object by object; a worker now transfers them as columns', async () => {
    const { runWorker } = await import('../src/scheduler/worker.js');
    const posted: { message: Record<string, unknown>; transfer: ArrayBuffer[] }[] = [];
    let handler: (m: unknown) => void = () => undefined;
    runWorker({ post: (message, transfer) => posted.push({ message: message as Record<string, unknown>, transfer }), onMessage: (h) => (handler = h), defer: (fn) => fn(), exit: () => undefined, hang: () => undefined });
    const spec = normalizeOperatorSpec({ kind: 'tumbling', op: 'sum', size: 10 });
    handler({ t: 'init', module: undefined, spec, keyed: true, keyGroups: 4, groups: [0, 4], restore: [], heartbeatMs: 1e9 });
    handler({ t: 'batch', seq: 0, values: Float64Array.of(1, 2, 3), keys: Uint32Array.of(5, 5, 6), times: Float64Array.of(0, 1, 25) });
    // A batch that comes before the operator is made (a window kind's modules load in init) waits for it.
    while (!posted.some((p) => p.message.t === 'out')) await sleep(10);
    const out = posted.find((p) => p.message.t === 'out')!;
    const packed = out.message.packed as PackedWindows;
    expect(out.message.windows).toBeUndefined();
    expect(packed.numbers).toBeInstanceOf(Float64Array);
    expect(out.transfer).toContain(packed.numbers.buffer);
    expect(unpackWindows(packed).windows).toEqual([{ row: 2, phase: 1, window: { key: 5, start: 0, end: 10, value: 3, count: 2, update: false } }]);
    handler({ t: 'stop' });
  });

  it('packs and unpacks every field: phases, updates, session replaces, late rows, NaN and large counts', () => {
    const windows: TaggedWindow[] = [
      { row: 7, phase: 0, window: { key: 3, start: -5, end: 1e12, value: NaN, count: 0, update: false } },
      { row: 7, phase: 2, window: { key: 4294967295, start: 0, end: 2, value: -0, count: 2 ** 40, update: true, replaces: [{ start: 0, end: 1 }] } },
      { row: 9, phase: 1, window: { key: 0, start: 1, end: 3, value: 1.5, count: 3, update: true } },
    ];
    const late = [{ row: 8, key: 3, ts: -7, value: 2, missed: 1 }];
    const p = packWindows({ windows, late })!;
    const back = unpackWindows(p.packed);
    expect(back.windows).toEqual(windows);
    expect(Object.is(back.windows[1]!.window.value, -0)).toBe(true);
    expect(back.windows.map((w) => Object.keys(w.window))).toEqual(windows.map((w) => Object.keys(w.window)));
    expect(back.late).toEqual(late);
    // A key that is not a number is posted as it is.
    expect(packWindows({ windows: [{ row: 0, phase: 0, window: { ...windows[0]!.window, key: 'a' } }], late: [] })).toBeUndefined();
  });
});

describe("the kernel operator's bookkeeping per swap", () => {
  it('reports a key group changed again in every checkpoint period its keys get rows, and marks the group of a new key in a reused slot', async () => {
    const { compiledModule } = await import('../src/engine.js');
    const { normalizeSpec, planFor } = await import('../src/spec.js');
    const { createKernelOperator } = await import('../src/scheduler/operator.js');
    const { keyGroupOf } = await import('../src/scheduler/hash.js');
    const spec = normalizeSpec({ op: 'mean', window: 3 });
    const op = await createKernelOperator(await compiledModule(planFor(spec).module), spec, 64);
    const run = (...keys: number[]): void => op.process(new Float64Array(keys.length).fill(1), Uint32Array.from(keys), new Float64Array(keys.length));
    // Keys a and b in two groups.
    const a = 1;
    const b = [...Array(100).keys()].find((k) => keyGroupOf(k, 64) !== keyGroupOf(a, 64))!;
    run(a, b, a);
    expect(op.changedGroups()).toEqual([keyGroupOf(a, 64), keyGroupOf(b, 64)].sort((x, y) => x - y));
    run(a);
    expect(op.changedGroups()).toEqual([keyGroupOf(a, 64)]);
    run(a);
    run(a);
    expect(op.changedGroups()).toEqual([keyGroupOf(a, 64)]);
    expect(op.changedGroups()).toEqual([]);
    // b gets rows, its group is dropped (its slot freed) and a new key of a third group takes the slot, all in one period: reported.
    run(b);
    op.dropGroup(keyGroupOf(b, 64));
    const c = [...Array(200).keys()].find((k) => keyGroupOf(k, 64) !== keyGroupOf(a, 64) && keyGroupOf(k, 64) !== keyGroupOf(b, 64))!;
    run(c);
    expect(op.changedGroups()).toEqual([keyGroupOf(c, 64)]);
  });
});
