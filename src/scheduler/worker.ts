// The worker side of the scheduler, platform-neutral. worker-node.ts and
// worker-browser.ts bind it to worker_threads' parentPort and to a Web
// Worker's global scope.
//
// Messages in (from the coordinator), in order:
//   init    { t, module, spec, keyed, keyGroups, groups: [start, end], restore: [group, bytes][], heartbeatMs }
//   batch   { t, seq, values, keys? }     → out  { t, seq, values }   (results written over the input buffer and transferred back)
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
  | { t: 'barrier'; id: number }
  | { t: 'fault'; kind: 'exit' | 'throw' | 'trap' | 'hang' }
  | { t: 'chunk'; id: number; module: WebAssembly.Module; spec: NormalizedSpec; values: Float64Array; skip: number }
  | { t: 'stop' };

/** Runs the scheduler's worker protocol on a port. */
export function runWorker(port: WorkerPort): void {
  let operator: GroupOperator | undefined;
  let groups: [number, number] = [0, 0];
  let fault: 'exit' | 'throw' | 'trap' | 'hang' | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  const queue: Message[] = [];

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

  const init = async (message: InitMessage): Promise<void> => {
    groups = message.groups;
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
    // Drain what arrived meanwhile from a timer, so that errors stay uncaught exceptions.
    setTimeout(() => {
      while (queue.length > 0) handle(queue.shift()!);
    }, 0);
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
    } else if (operator === undefined || queue.length > 0) {
      queue.push(message);
    } else {
      handle(message);
    }
  });
}
