// Option validation for createJob and parallelRolling: every default filled
// in, a TypeError for a wrong type or unknown field, a RangeError for a value
// out of range; every message names the option (tested verbatim).
import { normalizeOperatorSpec, type NormalizedOperatorSpec } from '../keyed/spec.js';
import { DEFAULT_KEY_GROUPS, MAX_KEY_GROUPS } from './hash.js';
import { memoryCheckpointStore } from './stores.js';
import type { CheckpointStore, Fault, JobOptions, ParallelOptions, Sink, WorkerAdapter } from './types.js';

/** A value as it appears in an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined || value === null) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkFields(value: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new TypeError(`unknown ${what} '${key}'; allowed: ${allowed.join(', ')}`);
  }
}

function number(value: unknown, name: string, ok: (x: number) => boolean, range: string): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  if (!ok(value)) throw new RangeError(`${name} must be ${range}, got ${value}`);
  return value;
}

function boolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  return value;
}

function hasMethods(value: unknown, methods: readonly string[]): boolean {
  return isObject(value) && methods.every((m) => typeof value[m] === 'function');
}

const isInt = Number.isInteger;

function adapterOf(value: unknown): WorkerAdapter {
  if (!hasMethods(value, ['spawn'])) throw new TypeError(`adapter must be a WorkerAdapter (an object with spawn()), got ${describe(value)}`);
  return value as unknown as WorkerAdapter;
}

function workersOf(value: unknown, adapter: WorkerAdapter, max: number, maxName: string): number {
  if (value === undefined) return Math.max(1, Math.min(max, Math.floor(adapter.concurrency) || 1));
  return number(value, 'workers', (x) => isInt(x) && x >= 1 && x <= max, `an integer from 1 to ${maxName}`);
}

/** {@link JobOptions} with every default filled in. */
export interface NormalizedJobOptions {
  adapter: WorkerAdapter;
  spec: NormalizedOperatorSpec;
  sink: Sink;
  keyed: boolean;
  workers: number;
  keyGroups: number;
  maxInFlight: number;
  store: CheckpointStore;
  everyRows: number;
  everyMs: number;
  fullEvery: number;
  idleTimeoutMs: number;
  maxBatchDelayMs: number;
  maxBatchRows: number;
  maxRestarts: number;
  windowMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  resume: boolean;
  coordinatorPartition: boolean;
  faults: Fault[];
}

const JOB_FIELDS = ['adapter', 'operator', 'sink', 'keyed', 'workers', 'keyGroups', 'maxInFlight', 'checkpoints', 'restart', 'heartbeat', 'resume', 'idleTimeoutMs', 'maxBatchDelayMs', 'maxBatchRows', 'coordinatorPartition', 'faults'] as const;
const CHECKPOINT_FIELDS = ['store', 'everyRows', 'everyMs', 'fullEvery'] as const;
const RESTART_FIELDS = ['maxRestarts', 'windowMs', 'initialDelayMs', 'maxDelayMs'] as const;
const HEARTBEAT_FIELDS = ['intervalMs', 'timeoutMs'] as const;
const FAULT_KINDS = ['terminate', 'exit', 'throw', 'trap', 'hang'] as const;

function section(value: unknown, name: string, allowed: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isObject(value)) throw new TypeError(`${name} must be an object, got ${describe(value)}`);
  checkFields(value, allowed, `${name} field`);
  return value;
}

/** Checks createJob's options and fills in every default. */
export function normalizeJobOptions(options: unknown): NormalizedJobOptions {
  if (!isObject(options)) throw new TypeError(`options must be an object, got ${describe(options)}`);
  checkFields(options, JOB_FIELDS, 'option');
  const adapter = adapterOf(options.adapter);
  if (options.operator === undefined) throw new TypeError('operator is required: a kernel spec such as { op: \'mean\', window: 100 }');
  const spec = normalizeOperatorSpec(options.operator);
  if (!hasMethods(options.sink, ['write', 'preCommit', 'commit', 'recover'])) {
    throw new TypeError(`sink must be a Sink (an object with write, preCommit, commit and recover methods), got ${describe(options.sink)}`);
  }
  const sink = options.sink as unknown as Sink;
  if (sink.keepsValues !== undefined && typeof sink.keepsValues !== 'boolean') throw new TypeError(`sink.keepsValues must be a boolean, got ${describe(sink.keepsValues)}`);
  const keyed = options.keyed === undefined ? false : boolean(options.keyed, 'keyed');
  const keyGroups =
    options.keyGroups === undefined
      ? DEFAULT_KEY_GROUPS
      : number(options.keyGroups, 'keyGroups', (x) => isInt(x) && x >= 1 && x <= MAX_KEY_GROUPS, `an integer from 1 to ${MAX_KEY_GROUPS}`);
  const workers = workersOf(options.workers, adapter, keyGroups, `keyGroups (${keyGroups})`);
  const maxInFlight =
    options.maxInFlight === undefined ? 4 : number(options.maxInFlight, 'maxInFlight', (x) => isInt(x) && x >= 1, 'a positive integer');

  const cp = section(options.checkpoints, 'checkpoints', CHECKPOINT_FIELDS);
  if (cp.store !== undefined && !hasMethods(cp.store, ['save', 'list', 'read'])) {
    throw new TypeError(`checkpoints.store must be a CheckpointStore (an object with save, list and read methods), got ${describe(cp.store)}`);
  }
  const store = (cp.store as CheckpointStore | undefined) ?? memoryCheckpointStore();
  const everyRows =
    cp.everyRows === undefined
      ? Infinity
      : number(cp.everyRows, 'checkpoints.everyRows', (x) => x === Infinity || (isInt(x) && x >= 1), 'a positive integer or Infinity');
  const everyMs = cp.everyMs === undefined ? 1000 : number(cp.everyMs, 'checkpoints.everyMs', (x) => x > 0, 'a positive number or Infinity');
  const fullEvery = cp.fullEvery === undefined ? 1 : number(cp.fullEvery, 'checkpoints.fullEvery', (x) => isInt(x) && x >= 1, 'a positive integer');

  const rs = section(options.restart, 'restart', RESTART_FIELDS);
  const maxRestarts =
    rs.maxRestarts === undefined ? 3 : number(rs.maxRestarts, 'restart.maxRestarts', (x) => isInt(x) && x >= 0, 'a non-negative integer');
  const windowMs = rs.windowMs === undefined ? 60_000 : number(rs.windowMs, 'restart.windowMs', (x) => x > 0, 'a positive number or Infinity');
  const initialDelayMs =
    rs.initialDelayMs === undefined
      ? 100
      : number(rs.initialDelayMs, 'restart.initialDelayMs', (x) => x >= 0 && x < Infinity, 'a non-negative finite number');
  const maxDelayMs =
    rs.maxDelayMs === undefined
      ? Math.max(10_000, initialDelayMs)
      : number(rs.maxDelayMs, 'restart.maxDelayMs', (x) => x >= initialDelayMs && x < Infinity, `a finite number ≥ initialDelayMs (${initialDelayMs})`);

  const hb = section(options.heartbeat, 'heartbeat', HEARTBEAT_FIELDS);
  const heartbeatIntervalMs =
    hb.intervalMs === undefined ? 250 : number(hb.intervalMs, 'heartbeat.intervalMs', (x) => x > 0 && x < Infinity, 'a positive finite number');
  const heartbeatTimeoutMs =
    hb.timeoutMs === undefined
      ? Math.max(5000, heartbeatIntervalMs * 4)
      : number(hb.timeoutMs, 'heartbeat.timeoutMs', (x) => x > heartbeatIntervalMs && x < Infinity, `a finite number greater than intervalMs (${heartbeatIntervalMs})`);

  const resume = options.resume === undefined ? false : boolean(options.resume, 'resume');
  const idleTimeoutMs =
    options.idleTimeoutMs === undefined ? Infinity : number(options.idleTimeoutMs, 'idleTimeoutMs', (x) => x > 0, 'a positive number or Infinity');
  const maxBatchDelayMs =
    options.maxBatchDelayMs === undefined
      ? 0
      : number(options.maxBatchDelayMs, 'maxBatchDelayMs', (x) => x >= 0 && x < Infinity, 'a non-negative finite number');
  const maxBatchRows =
    options.maxBatchRows === undefined ? 65_536 : number(options.maxBatchRows, 'maxBatchRows', (x) => isInt(x) && x >= 1, 'a positive integer');
  const coordinatorPartition = options.coordinatorPartition === undefined ? false : boolean(options.coordinatorPartition, 'coordinatorPartition');
  const faults = faultsOf(options.faults);
  return {
    adapter, spec, sink, keyed, workers, keyGroups, maxInFlight, store, everyRows, everyMs, fullEvery, idleTimeoutMs, maxBatchDelayMs, maxBatchRows,
    maxRestarts, windowMs, initialDelayMs, maxDelayMs, heartbeatIntervalMs, heartbeatTimeoutMs, resume, coordinatorPartition, faults,
  };
}

function faultsOf(value: unknown): Fault[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError(`faults must be an array, got ${describe(value)}`);
  return value.map((f: unknown, i) => {
    if (!isObject(f)) throw new TypeError(`faults[${i}] must be an object, got ${describe(f)}`);
    const afterBatch = number(f.afterBatch, `faults[${i}].afterBatch`, (x) => isInt(x) && x >= 0, 'a non-negative integer');
    const worker = number(f.worker, `faults[${i}].worker`, (x) => isInt(x) && x >= 0, 'a non-negative integer');
    if (!(FAULT_KINDS as readonly unknown[]).includes(f.kind)) {
      throw new TypeError(`faults[${i}].kind must be one of ${FAULT_KINDS.map((k) => `'${k}'`).join(', ')}, got ${describe(f.kind)}`);
    }
    return { afterBatch, worker, kind: f.kind as Fault['kind'] };
  });
}

/** {@link ParallelOptions} with defaults filled in (chunkRows depends on the input). */
export interface NormalizedParallelOptions {
  adapter: WorkerAdapter;
  workers: number;
  chunkRows: number | undefined;
}

/** Checks parallelRolling's options. */
export function normalizeParallelOptions(options: unknown): NormalizedParallelOptions {
  if (!isObject(options)) throw new TypeError(`options must be an object, got ${describe(options)}`);
  checkFields(options, ['adapter', 'workers', 'chunkRows'], 'option');
  const adapter = adapterOf(options.adapter);
  const workers = workersOf(options.workers, adapter, 1024, '1024');
  const chunkRows =
    options.chunkRows === undefined ? undefined : number(options.chunkRows, 'chunkRows', (x) => isInt(x) && x >= 1, 'a positive integer');
  return { adapter, workers, chunkRows };
}
