// The worker side of the scheduler, platform-neutral. worker-node.ts and
// worker-browser.ts bind it to worker_threads' parentPort and to a Web
// Worker's global scope.
//
// Messages in (from the coordinator), in order:
//   init    { t, module, spec, keyed, keyGroups, groups: [start, end], restore: [group, bytes][], clock?, heartbeatMs }
//                                          (clock: window kinds and rolling with a ttl, key group 0's state, whose stream clock every worker takes)
//   batch   { t, seq, values, keys?, times?, at?, rises?, rows? } → out { t, seq, values, back } (results written over the input buffer and transferred back;
//                                          back: the other input buffers, done with, for the coordinator to reuse)
//   shared  { t, seq, buffer, rows, timed, from, to, clockAfter? } → out { t, seq } (keyed, shared memory: buffer = values f64 × rows |
//                                          results f64 × rows | keys u32 × rows (| pad | times f64 × rows when timed
//                                          (| with clockAfter, a ttl's stream clock: per row the greatest earlier time, f64 × rows)),
//                                          each worker's rows together; the worker runs its rows [from, to), all of its
//                                          own key groups, in order, and writes their results at the same positions)
//   barrier { t, id, delta? }             → snap { t, id, groups: [group, bytes][], patches: group[] }   (delta: only the groups changed since the previous barrier; patches: those sent as key patches)
//   fault   { t, kind }                   testing: fail during the next batch
//   flush   { t }                         → flushed { t, packed }  (window kinds: end of stream)
//   watermark { t, seq, time }            → out { t, seq, packed }  (window kinds: the idle timeout raises the watermark)
//   (window records go as `packed` columns, records.ts; as `windows` objects when a key is not a number)
//   (window kinds, keyed on several workers: a batch holds the worker's own rows, `at` their rows in the batch, `rises`
//    the batch's rows that raise its greatest timestamp, `rows` its length; every worker gets one, with or without
//    rows of its own; out { t, seq, packed } carries the batch's tagged windows, src/keyed/windows.ts)
//   chunk   { t, id, module, spec, values, skip } → chunk { t, id, values }   (parallelRolling)
//   stop    { t }
// Out, besides the replies: hb { t } every heartbeatMs; fatal { t, code, message } when a restore is refused.
import type { Rises, WindowsGroupOperator } from '../keyed/windows.js';
import type { NormalizedOperatorSpec } from '../keyed/spec.js';
import type { NormalizedSpec } from '../types.js';
import { CheckpointError } from './errors.js';
import { createKernelOperator, sharedTimesAt, type GroupOperator, type RowsPart } from './operator.js';
import { packWindows } from './records.js';
import type { WindowsOutput } from '../keyed/windows.js';

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
  spec: NormalizedOperatorSpec;
  keyed: boolean;
  keyGroups: number;
  groups: [number, number];
  restore: [number, Uint8Array][];
  clock?: Uint8Array;
  heartbeatMs: number;
}

type Message =
  | InitMessage
  | { t: 'batch'; seq: number; values: Float64Array; keys?: Uint32Array; times?: Float64Array; at?: Uint32Array; rises?: Rises; rows?: number }
  | { t: 'shared'; seq: number; buffer: SharedArrayBuffer; rows: number; timed: boolean; from: number; to: number; clockAfter?: number }
  | { t: 'barrier'; id: number; delta?: boolean }
  | { t: 'fault'; kind: 'exit' | 'throw' | 'trap' | 'hang' }
  | { t: 'flush' }
  | { t: 'watermark'; seq: number; time: number }
  | { t: 'chunk'; id: number; module: WebAssembly.Module; spec: NormalizedSpec; values: Float64Array; skip: number }
  | { t: 'stop' };

/** Most rows the worker runs in one go when it coalesces queued batches (see runWorker). */
const COALESCE_ROWS = 1 << 20;

const rowsOf = (message: Message): number => (message.t === 'shared' ? message.to - message.from : message.t === 'batch' ? message.rows ?? message.values.length : 0);

/**
 * The operator of the init message's spec. The keyed operators of time
 * kinds (src/keyed, src/time) are loaded only for their specs: a count
 * kernel's worker starts without them (they were a third of its start-up
 * CPU, which a short job pays per worker).
 */
async function operatorOf(message: InitMessage): Promise<{ operator: GroupOperator; windows?: WindowsGroupOperator }> {
  const { spec, keyGroups, groups } = message;
  // Checkpoints: compact key states (state-codec.ts).
  if (!('kind' in spec)) return { operator: await createKernelOperator(message.module, spec, keyGroups, groups, { compactStates: true }) };
  const [{ createGroupOperator, WindowsGroupOperator }, { isWindowSpec, windowSpecOf }] = await Promise.all([import('../keyed/index.js'), import('../keyed/spec.js')]);
  if (isWindowSpec(spec)) {
    const windows = new WindowsGroupOperator(windowSpecOf(spec, message.keyed), keyGroups, groups);
    return { operator: windows, windows };
  }
  return { operator: await createGroupOperator(message.module, spec, keyGroups, groups, { compactStates: true }) };
}

/** Runs the scheduler's worker protocol on a port; returns what stops its heartbeat (an in-thread partition that ends, in-thread.ts). */
export function runWorker(port: WorkerPort): () => void {
  let operator: GroupOperator | undefined;
  /** The operator when it emits window records (tumbling, hopping, session) instead of one result per row. */
  let windows: WindowsGroupOperator | undefined;
  let groups: [number, number] = [0, 0];
  let fault: 'exit' | 'throw' | 'trap' | 'hang' | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  const queue: Message[] = [];

  /** The rows of a data message; a shared batch's results go to its results area. */
  const partOf = (message: Message): RowsPart => {
    if (message.t === 'shared') {
      const { buffer, rows, timed, from, to } = message;
      const n = to - from;
      const part: RowsPart = { values: new Float64Array(buffer, from * 8, n), keys: new Uint32Array(buffer, rows * 16 + from * 4, n), out: new Float64Array(buffer, (rows + from) * 8, n), owned: true };
      if (timed) part.times = new Float64Array(buffer, sharedTimesAt(rows) + from * 8, n);
      if (message.clockAfter !== undefined) part.clock = { before: new Float64Array(buffer, sharedTimesAt(rows) + (rows + from) * 8, n), after: message.clockAfter };
      return part;
    }
    const { values, keys, times } = message as Extract<Message, { t: 'batch' }>;
    // The results overwrite the values: the times are read first (the operator gathers its rows before it writes).
    return { values, keys, out: values, times };
  };

  /** Posts window records packed in columns (records.ts), as they are when they cannot be. */
  const postWindows = (message: { t: string; seq?: number; back?: ArrayBuffer[] }, out: WindowsOutput, transfer: ArrayBuffer[] = []): void => {
    const p = packWindows(out);
    if (p === undefined) port.post({ ...message, windows: out }, transfer);
    else port.post({ ...message, packed: p.packed }, [...p.transfer, ...transfer]);
  };

  /** A transferred batch's input buffers, handed back once run for the coordinator to reuse (its values carry the results, unless window records do). */
  const spent = (message: Extract<Message, { t: 'batch' }>): ArrayBuffer[] => {
    const back: ArrayBuffer[] = [];
    for (const array of [windows !== undefined ? message.values : undefined, message.keys, message.times, message.at]) {
      if (array !== undefined && !back.includes(array.buffer as ArrayBuffer)) back.push(array.buffer as ArrayBuffer);
    }
    return back;
  };

  /** Replies to a data message whose results are written. */
  const reply = (message: Message): void => {
    if (message.t === 'shared') {
      if (windows !== undefined) postWindows({ t: 'out', seq: message.seq }, windows.takeOutput());
      else port.post({ t: 'out', seq: message.seq }, []);
      return;
    }
    const batch = message as Extract<Message, { t: 'batch' }>;
    const back = spent(batch);
    if (windows !== undefined) postWindows({ t: 'out', seq: batch.seq, back }, windows.takeOutput(), back);
    else port.post({ t: 'out', seq: batch.seq, values: batch.values, back }, [batch.values.buffer as ArrayBuffer, ...back]);
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
      case 'batch':
      case 'shared': {
        const part = partOf(message);
        if (fault !== undefined) {
          // Process half the batch, then fail in the middle of the work.
          const half = part.values.length >> 1;
          operator!.processParts([{ values: part.values.subarray(0, half), keys: part.keys?.subarray(0, half), out: part.out.subarray(0, half), times: part.times?.subarray(0, half), owned: part.owned }]);
          fail();
        }
        if (message.t === 'batch' && message.at !== undefined) windows!.addOutput(windows!.processRouted(part.times, part.values, part.keys, message.at, message.rises, message.rows!));
        else operator!.processParts([part]);
        reply(message);
        break;
      }
      case 'barrier': {
        // An incremental checkpoint takes the groups changed since the previous barrier; a full one, every group.
        const changed = operator!.changedGroups();
        const snaps: [number, Uint8Array][] = [];
        // A delta takes of a count kernel's changed group only its changed keys (a key patch) when some did not change.
        const patches: number[] = [];
        for (const g of message.delta === true ? changed : Array.from({ length: groups[1] - groups[0] }, (_, i) => groups[0] + i)) {
          const patch = message.delta === true ? operator!.snapshotPatch?.(g) : undefined;
          if (patch !== undefined) patches.push(g);
          const bytes = patch ?? operator!.snapshotGroup(g);
          if (bytes !== undefined) snaps.push([g, bytes]);
        }
        port.post({ t: 'snap', id: message.id, groups: snaps, patches }, snaps.map(([, b]) => b.buffer as ArrayBuffer));
        break;
      }
      case 'fault':
        fault = message.kind;
        break;
      case 'flush':
        postWindows({ t: 'flushed' }, windows!.flush());
        break;
      case 'watermark':
        postWindows({ t: 'out', seq: message.seq }, windows!.advanceTo(message.time));
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
  const handleRun = (run: Message[]): void => {
    operator!.processParts(run.map(partOf));
    for (const message of run) reply(message);
  };

  /** Handles the queue; data batches queued back to back run together (handleRun). */
  let scheduled = false;
  const drain = (): void => {
    scheduled = false;
    while (queue.length > 0) {
      const first = queue[0]!;
      let k = 1;
      let rows = rowsOf(first);
      // Window records are told apart per batch: no coalescing.
      if (rows > 0 && fault === undefined && windows === undefined) {
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
      else handleRun(queue.splice(0, k));
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
    heartbeat = setInterval(() => port.post({ t: 'hb' }, []), message.heartbeatMs);
    try {
      const made = await operatorOf(message);
      windows = made.windows;
      const op = made.operator;
      for (const [group, bytes] of message.restore) op.restoreGroup(group, bytes);
      if (message.clock !== undefined) op.restoreClock!(message.clock);
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
  return () => {
    if (heartbeat !== undefined) clearInterval(heartbeat);
  };
}
