// The parallel scheduler's platform-neutral API (streamkernel/scheduler).
// Platform adapters: ./node.ts (worker_threads, files) and ./browser.ts
// (Web Workers, IndexedDB). See docs/SCHEDULER.md.
export { createJob } from './job.js';
export { parallelRolling } from './parallel.js';
export { arraySource, memorySink, type MemorySink } from './sinks.js';
export { memoryCheckpointStore } from './stores.js';
export { decodeCheckpoint, encodeCheckpoint, latestCheckpoint, CHECKPOINT_VERSION, type Checkpoint, type RefusedCheckpoint } from './checkpoint.js';
export { CheckpointError, JobFailedError, WorkerFailure, type CheckpointErrorCode, type WorkerFailureKind } from './errors.js';
export { DEFAULT_KEY_GROUPS, MAX_KEY_GROUPS, keyGroupOf, keyGroupRange, keyHash, workerOfKeyGroup } from './hash.js';
export type { GroupOperator, RowsPart } from './operator.js';
export { OPERATOR_KINDS } from '../keyed/spec.js';
export type {
  CountKind,
  CountWindowOperatorSpec,
  NormalizedOperatorSpec,
  NormalizedTimeRollingOperatorSpec,
  NormalizedWindowOperatorSpec,
  OperatorSpec,
  RollingKind,
  TimeRollingOperatorSpec,
  WindowOperatorSpec,
} from '../keyed/spec.js';
export type {
  Batch,
  CheckpointOptions,
  CheckpointStore,
  CommittedSinkState,
  Fault,
  FinishOptions,
  HeartbeatOptions,
  Job,
  JobMetrics,
  JobOptions,
  JobResult,
  LatencyStats,
  OutputBatch,
  ParallelOptions,
  RestartOptions,
  Sink,
  SinkPosition,
  Source,
  WorkerAdapter,
  WorkerHandle,
} from './types.js';
