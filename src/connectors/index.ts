// The browser-safe connectors (no Node built-ins): re-exported from
// streamkernel's main entry. Node-only ones are in ./node.ts.
export { arraySource, iterableSource, readableStreamSource, type ArraySourceOptions, type NumberChunk } from './sources.js';
export { csvSource, type CsvOptions } from './csv.js';
export { ndjsonSource } from './ndjson.js';
export { arrowSource, type ArrowInput, type ArrowOptions } from './arrow.js';
export { KernelSet, runKernels, type KernelSetEntry, type KernelSetState, type RunKernelsOptions } from './pipeline.js';
export { TextFormatter, type OutputColumns } from './format.js';
export { collectResults, kernelTransformStream, writeTextStream, type CollectedResults } from './web.js';
export { AmbiguousColumnError, MalformedRowError, UnknownColumnError } from './errors.js';
export type {
  ByteInput,
  ColumnBatch,
  ColumnOptions,
  NamedOp,
  OnError,
  ReplayableSource,
  ResultBatch,
  SourceOffset,
  TextFormat,
} from './types.js';
