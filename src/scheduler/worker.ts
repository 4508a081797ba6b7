// The worker side of the scheduler, platform-neutral. worker-node.ts and
// worker-browser.ts bind it to worker_threads' parentPort and to a Web
// Worker's global scope.
//
// Messages in (from the coordinator), in order:
//   init    { t, module, spec, keyed, keyGroups, groups: [start, end], restore: [group, bytes][], heartbeatMs }
//   batch   { t, seq, values, keys? }     → out  { t, seq, values }   (results written over the input buffer and transferred back)
//   shared  { t, seq, buffer, rows }      → out  { t, seq }           (keyed, shared memory: buffer = values f64 × rows |
//                                          results f64 × rows | keys u32 × rows; the worker runs the rows of its own key
//                                          groups, in order, and writes their results in place)
//   barrier { t, id }                     → snap { t, id, groups: [group, bytes][] }
//   fault   { t, kind }                   testing: fail during the next batch
//   chunk   { t, id, module, spec, values, skip } → chunk { t, id, values }   (parallelRolling)
//   stop    { t }
// Out, besides the replies: hb { t } every heartbeatMs; fatal { t, code, message } when a restore is refused.
import type { NormalizedSpec } from '../types.js';
import { CheckpointError } from './errors.js';
import { createKernelOperator, type GroupOperator } from './operator.js';

/** What a platform gives the worker core. */
export interface WorkerPort {
  /** Runs `fn` in a later task, after the messages already received (Node: setImmediate). @default setTimeout(fn, 0) */
  defer?(fn: () => void): void;
  post(message: unknown, transfer: ArrayBuffer[]): void;
  onMessage(handler: (message: unknown) => void): void;
  /** Ends the worker from inside (Node: process.exit(1); browsers: self.close()). */
  exit(): void;
  /** Blocks the worker forever (testing). */
  hang(): void;
}

interface InitMessage {
  t: 'init';
  module: WebAssembly.Module;
  spec: NormalizedSpec;
  keyed: boolean;
  keyGroups: number;
  groups: [number, number];
  restore: [number, Uint8Array][];
  heartbeatMs: number;
}

type Message =
  | InitMessage
  | { t: 'batch'; seq: number; values: Float64Array; keys?: Uint32Array }
  | { t: 'shared'; seq: number; buffer: SharedArrayBuffer; rows: number }
  | { t: 'barrier'; id: number }
  | { t: 'fault'; kind: 'exit' | 'throw' | 'trap' | 'hang' }
  | { t: 'chunk'; id: number; module: WebAssembly.Module; spec: NormalizedSpec; values: Float64Array; skip: number }
  | { t: 'stop' };

/**
 * Gathers the rows whose key falls in this worker's key groups: positions
 * into `mine` from `at` on, values and keys alongside; returns how many. keyGroupOf(key) =
 * floor(keyHash(key) · G / 2³²) is in [g0, g1) exactly when keyHash(key) is
 * in [ceil(g0 · 2³² / G), ceil(g1 · 2³² / G)) (exact in doubles: a quotient
 * below 2³² that is not an integer is at least 1/G ≥ 2⁻¹⁵ away from one).
 */
function selectRows(keys: Uint32Array, values: Float64Array, rows: number, low: number, high: number, mine: Int32Array, mineValues: Float64Array, mineKeys: Uint32Array, at: number): number {
  // Branch-free: the test is a coin toss per row, which a branch would mispredict half the time.
  const span = high - low;
  let m = at;
  for (let i = 0; i < rows; i++) {
    const key = keys[i]!;
    // keyHash (hash.ts), inlined.
    let h = key ^ (key >>> 16);
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    mine[m] = i;
    // (keyHash − low) mod 2³² < span ⇔ low ≤ keyHash < high.
    m += +(((h - low) >>> 0) - span < 0);
  }
  for (let j = at; j < m; j++) {
    const i = mine[j]!;
    mineValues[j] = values[i]!;
    mineKeys[j] = keys[i]!;
  }
  return m - at;
}

/** Most rows the worker runs in one go when it coalesces queued batches (see runWorker). */
const COALESCE_ROWS = 1 << 20;

const rowsOf = (message: Message): number => (message.t === 'shared' ? message.rows : message.t === 'batch' ? message.values.length : 0);

/** Runs the scheduler's worker protocol on a port. */
export function runWorker(port: WorkerPort): void {
  let operator: GroupOperator | undefined;
  let groups: [number, number] = [0, 0];
  // This worker's key groups [g0, g1) as a range of key hashes [hashLow, hashHigh) (see selectRows).
  let hashLow = 0;
  let hashHigh = 0;
  // Scratch for shared batches: this worker's rows (positions, values, keys) and their results.
  let mine = new Int32Array(0);
  let mineValues = new Float64Array(0);
  let mineKeys = new Uint32Array(0);
  let mineOut = new Float64Array(0);
  let fault: 'exit' | 'throw' | 'trap' | 'hang' | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  const queue: Message[] = [];

  const scratch = (rows: number): void => {
    if (mine.length >= rows + 1) return;
    const size = Math.max(rows + 1, Math.min(2 * mine.length, COALESCE_ROWS + 1));
    mine = new Int32Array(size); // + 1: selectRows writes one past the last row it keeps
    mineValues = new Float64Array(size);
    mineKeys = new Uint32Array(size);
    mineOut = new Float64Array(size);
  };

  const fail = (): void => {
    const kind = fault;
    fault = undefined;
    if (kind === 'exit') port.exit();
    if (kind === 'hang') port.hang();
    if (kind === 'trap') operator!.trap();
    if (kind === 'throw') throw new Error('injected fault: an error thrown inside the kernel call');
  };

  const handle = (message: Message): void => {
    switch (message.t) {
      case 'batch': {
        const { values, keys, seq } = message;
        if (fault !== undefined) {
          // Process half the batch, then fail in the middle of the work.
          const half = values.length >> 1;
          operator!.process(values.subarray(0, half), keys?.subarray(0, half), values.subarray(0, half));
          fail();
        }
        operator!.process(values, keys, values);
        port.post({ t: 'out', seq, values }, [values.buffer as ArrayBuffer]);
        break;
      }
      case 'shared': {
        const { seq, buffer, rows } = message;
        const values = new Float64Array(buffer, 0, rows);
        const out = new Float64Array(buffer, rows * 8, rows);
        const keys = new Uint32Array(buffer, rows * 16, rows);
        scratch(rows);
        const m = selectRows(keys, values, rows, hashLow, hashHigh, mine, mineValues, mineKeys, 0);
        if (fault !== undefined) {
          const half = m >> 1;
          operator!.process(mineValues.subarray(0, half), mineKeys.subarray(0, half), mineOut.subarray(0, half));
          fail();
        }
        operator!.process(mineValues.subarray(0, m), mineKeys.subarray(0, m), mineOut.subarray(0, m));
        for (let j = 0; j < m; j++) out[mine[j]!] = mineOut[j]!;
        port.post({ t: 'out', seq }, []);
        break;
      }
      case 'barrier': {
        const snaps: [number, Uint8Array][] = [];
        for (let g = groups[0]; g < groups[1]; g++) {
          const bytes = operator!.snapshotGroup(g);
          if (bytes !== undefined) snaps.push([g, bytes]);
        }
        port.post({ t: 'snap', id: message.id, groups: snaps }, snaps.map(([, b]) => b.buffer as ArrayBuffer));
        break;
      }
      case 'fault':
        fault = message.kind;
        break;
      case 'stop':
        if (heartbeat !== undefined) clearInterval(heartbeat);
        port.exit();
        break;
      default:
        break;
    }
  };

  /**
   * Runs consecutive data batches (all 'batch' or all 'shared', no barrier or
   * fault between them) as one: one grouping by key and one state swap per
   * key for all of them, instead of one per batch. Each key still sees its
   * rows in stream order, so the results are the same bits; each batch gets
   * its own reply, in order.
   */
  const handleRun = (run: Message[], rows: number): void => {
    scratch(rows);
    if (run[0]!.t === 'shared') {
      const parts: number[] = [];
      let m = 0;
      for (const message of run) {
        const { buffer, rows: n } = message as Extract<Message, { t: 'shared' }>;
        const got = selectRows(new Uint32Array(buffer, n * 16, n), new Float64Array(buffer, 0, n), n, hashLow, hashHigh, mine, mineValues, mineKeys, m);
        parts.push(got);
        m += got;
      }
      operator!.process(mineValues.subarray(0, m), mineKeys.subarray(0, m), mineOut.subarray(0, m));
      let j = 0;
      for (let b = 0; b < run.length; b++) {
        const { seq, buffer, rows: n } = run[b] as Extract<Message, { t: 'shared' }>;
        const out = new Float64Array(buffer, n * 8, n);
        for (const end = j + parts[b]!; j < end; j++) out[mine[j]!] = mineOut[j]!;
        port.post({ t: 'out', seq }, []);
      }
      return;
    }
    const keyed = (run[0] as Extract<Message, { t: 'batch' }>).keys !== undefined;
    let at = 0;
    for (const message of run) {
      const { values, keys } = message as Extract<Message, { t: 'batch' }>;
      mineValues.set(values, at);
      if (keyed) mineKeys.set(keys!, at);
      at += values.length;
    }
    operator!.process(mineValues.subarray(0, at), keyed ? mineKeys.subarray(0, at) : undefined, mineOut.subarray(0, at));
    at = 0;
    for (const message of run) {
      const { seq, values } = message as Extract<Message, { t: 'batch' }>;
      values.set(mineOut.subarray(at, at + values.length));
      at += values.length;
      port.post({ t: 'out', seq, values }, [values.buffer as ArrayBuffer]);
    }
  };

  /** Handles the queue; data batches queued back to back run together (handleRun). */
  let scheduled = false;
  const drain = (): void => {
    scheduled = false;
    while (queue.length > 0) {
      const first = queue[0]!;
      let k = 1;
      let rows = rowsOf(first);
      if (rows > 0 && fault === undefined) {
        const keyed = first.t === 'batch' && first.keys !== undefined;
        for (; k < queue.length; k++) {
          const next = queue[k]!;
          const n = rowsOf(next);
          if (next.t !== first.t || n === 0 || rows + n > COALESCE_ROWS) break;
          if (next.t === 'batch' && (next.keys !== undefined) !== keyed) break;
          rows += n;
        }
      }
      if (k === 1) handle(queue.shift()!);
      else handleRun(queue.splice(0, k), rows);
    }
  };
  const defer = port.defer ?? ((fn: () => void) => void setTimeout(fn, 0));
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    defer(drain);
  };

  const init = async (message: InitMessage): Promise<void> => {
    groups = message.groups;
    hashLow = Math.ceil((groups[0] * 4294967296) / message.keyGroups);
    hashHigh = Math.ceil((groups[1] * 4294967296) / message.keyGroups);
    heartbeat = setInterval(() => port.post({ t: 'hb' }, []), message.heartbeatMs);
    try {
      const op = await createKernelOperator(message.module, message.spec, message.keyGroups);
      for (const [group, bytes] of message.restore) op.restoreGroup(group, bytes);
      operator = op;
      port.post({ t: 'ready' }, []);
    } catch (error) {
      const code = error instanceof CheckpointError ? error.code : 'ERROR';
      port.post({ t: 'fatal', code, message: (error as Error).message }, []);
      return;
    }
    // Drain what arrived meanwhile from a later task, so that errors stay uncaught exceptions.
    schedule();
  };

  const chunk = async (message: Extract<Message, { t: 'chunk' }>): Promise<void> => {
    const op = await createKernelOperator(message.module, message.spec, 1);
    const { values, skip } = message;
    op.process(values, undefined, values);
    const out = values.subarray(skip);
    port.post({ t: 'chunk', id: message.id, values: out }, [values.buffer as ArrayBuffer]);
  };

  port.onMessage((raw) => {
    const message = raw as Message;
    if (message.t === 'init') {
      void init(message);
    } else if (message.t === 'chunk') {
      chunk(message).catch((error: unknown) => setTimeout(() => { throw error; }, 0));
    } else {
      // Handled from a later task: batches that arrive meanwhile are run together.
      queue.push(message);
      if (operator !== undefined) schedule();
    }
  });
}
