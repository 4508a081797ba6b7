// Per-worker windows (issue 13): a batch goes out to each worker as soon as
// that worker has room, the rest waiting in the worker's outbox in the
// coordinator. A barrier (checkpoint) or an injected fault posted meanwhile
// must wait behind the batches held there, or a snapshot would miss rows its
// checkpoint's offset covers.
import { describe, expect, it } from 'vitest';
import { arraySource, createJob, makeKeys, makeValues, memorySink, nodeWorkers, prng, reference, sameBytes, type Fault, type WorkerAdapter } from './scheduler-helpers.js';

const SPEC = { op: 'mean', window: 7 } as const;
const BATCH = 500;

/** nodeWorkers() whose second worker's replies come late (so its window stays full and its outbox holds batches), recording what each worker is posted. */
function slowSecondWorker(): { adapter: WorkerAdapter; posted: { t: string; seq?: number; id?: number }[][] } {
  const base = nodeWorkers();
  const posted: { t: string; seq?: number; id?: number }[][] = [];
  let spawned = 0;
  const adapter: WorkerAdapter = {
    ...base,
    spawn() {
      const index = spawned++ % 2;
      const handle = base.spawn();
      const log: { t: string; seq?: number; id?: number }[] = [];
      posted.push(log);
      return {
        ...handle,
        post: (message, transfer) => {
          const { t, seq, id } = message as { t: string; seq?: number; id?: number };
          log.push({ t, seq, id });
          handle.post(message, transfer);
        },
        onMessage: (handler) =>
          handle.onMessage((message) => {
            if (index === 1 && (message as { t: string }).t === 'out') setTimeout(() => handler(message), 3);
            else handler(message);
          }),
      };
    },
  };
  return { adapter, posted };
}

describe('per-worker windows', () => {
  it('a barrier posted while batches wait in a worker\'s outbox goes out behind them: each worker gets every batch its checkpoint covers before it, and none after', async () => {
    const rand = prng(13);
    const n = 40 * BATCH;
    const values = makeValues(rand, n);
    const keys = makeKeys(rand, n, 40);
    const { adapter, posted } = slowSecondWorker();
    const sink = memorySink();
    // Each checkpoint's last batch (its afterSeq): the sink is pre-committed right after that batch's results are written.
    let written = 0;
    const lastBatchOf = new Map<number, number>();
    const write = sink.write.bind(sink);
    sink.write = (b) => {
      written += b.values.length;
      return write(b);
    };
    const preCommit = sink.preCommit.bind(sink);
    sink.preCommit = (id) => {
      lastBatchOf.set(id, written / BATCH - 1);
      return preCommit(id);
    };
    const job = await createJob({ adapter, operator: SPEC, keyed: true, workers: 2, maxInFlight: 1, sink, checkpoints: { everyRows: 2 * BATCH, everyMs: Infinity } });
    await job.run(arraySource(values, { keys, batchRows: BATCH }));
    expect(sameBytes(sink.committed(), await reference(SPEC, values, keys))).toBe(true);
    expect(posted).toHaveLength(2);
    expect(lastBatchOf.size).toBeGreaterThanOrEqual(5);
    for (const log of posted) {
      const barriers = log.filter((m) => m.t === 'barrier');
      expect(barriers.length).toBe(lastBatchOf.size);
      let after: number | undefined;
      for (const m of log) {
        if (m.t === 'barrier') after = lastBatchOf.get(m.id!);
        else if (m.t === 'shared' && after !== undefined) expect(m.seq!, `a batch after the barrier of batch ${after}`).toBeGreaterThan(after);
      }
      for (const b of barriers) {
        const at = log.indexOf(b);
        const last = lastBatchOf.get(b.id!)!;
        for (const m of log.slice(0, at)) if (m.t === 'shared') expect(m.seq!, `barrier ${b.id}`).toBeLessThanOrEqual(last);
        expect(log.slice(0, at).some((m) => m.t === 'shared' && m.seq === last), `barrier ${b.id} after batch ${last}`).toBe(true);
      }
    }
  }, 60_000);

  it('a job whose worker is killed while the other worker\'s outbox holds batches and barriers recovers to the same bytes', async () => {
    const rand = prng(31);
    const n = 60 * BATCH;
    const values = makeValues(rand, n);
    const keys = makeKeys(rand, n, 40);
    const { adapter } = slowSecondWorker();
    const sink = memorySink();
    const faults: Fault[] = [{ afterBatch: 37, worker: 0, kind: 'terminate' }];
    const job = await createJob({
      adapter, operator: SPEC, keyed: true, workers: 2, maxInFlight: 1, sink, faults,
      checkpoints: { everyRows: 3 * BATCH, everyMs: Infinity },
      restart: { initialDelayMs: 1, maxDelayMs: 10 },
    });
    const result = await job.run(arraySource(values, { keys, batchRows: BATCH }));
    expect(result.restarts).toBe(1);
    expect(sameBytes(sink.committed(), await reference(SPEC, values, keys))).toBe(true);
  }, 60_000);
});
