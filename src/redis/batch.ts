// One batch of a partition's input entries through its kernels, in three
// stages the worker runs in turn (and bench/redis.ts --compute-cost times
// apart): readBatch (decode the entries, each row's operator key),
// PartitionState.process (the kernels), batchOutputs (the commit's output
// entries).
import type { RowsPart } from '../scheduler/operator.js';
import { decodeEntry, encodeColumn, formatValues } from './codec.js';
import type { StreamEntry } from './input-waiter.js';
import type { JobFormat } from './job.js';
import type { PartitionState } from './keyed.js';

/** An entry as read: its rows (results overwrite the values in place) and its key field as it came in, or why it cannot be read. */
export interface ReadEntry {
  id: Buffer;
  k: [string, Buffer] | undefined;
  part: RowsPart | undefined;
  error: string | undefined;
}

/** Each row's operator key: one lookup per distinct key of a key column (kc), one per row of a JSON k. */
function operatorKeys(state: PartitionState, { dictionary, ids }: { dictionary: string[]; ids: Uint32Array | undefined }): Uint32Array {
  // A plain loop: Uint32Array.from with a map function cost 6-10 % of a worker's CPU on small entries (JSON k, one lookup per row).
  const byId = new Uint32Array(dictionary.length);
  for (let i = 0; i < dictionary.length; i++) byId[i] = state.idOf(dictionary[i]!);
  if (ids === undefined) return byId;
  // The key column's ids are this entry's own (decodeEntry made them): mapped in place, not into a second array per entry.
  for (let i = 0; i < ids.length; i++) ids[i] = byId[ids[i]!]!;
  return ids;
}

/** Decodes a batch's entries: the parts to run (every readable entry's), and every entry as read, in order. */
export function readBatch(state: PartitionState, entries: readonly StreamEntry[]): { parts: RowsPart[]; read: ReadEntry[] } {
  const parts: RowsPart[] = [];
  const read: ReadEntry[] = [];
  for (const [id, flat] of entries) {
    const fields: Record<string, Buffer> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!.toString()] = flat[i + 1]!;
    const batch = decodeEntry(fields, state);
    if ('error' in batch) {
      read.push({ id, k: undefined, part: undefined, error: batch.error });
      continue;
    }
    // Results overwrite the values in place: the inputs are not needed after.
    const part = { values: batch.values, keys: operatorKeys(state, batch.keys), out: batch.values };
    parts.push(part);
    const keyField = fields['kc'] !== undefined ? 'kc' : 'k'; // the keys go out as they came in
    read.push({ id, k: [keyField, fields[keyField]!], part, error: undefined });
  }
  return { parts, read };
}

/**
 * The commit's output entries of a batch run through the kernels: id, field
 * count, fields (`k` or `kc` as read, and `v` text for format 1 or `x`
 * doubles for formats 2 to 4, without the keys in format 4; `e` for an
 * unreadable entry); and the rows they hold.
 */
export function batchOutputs(read: readonly ReadEntry[], format: JobFormat): { outputs: (string | Buffer)[]; rows: number } {
  const outputs: (string | Buffer)[] = [];
  let rows = 0;
  for (const { id, k, part, error } of read) {
    if (part === undefined) outputs.push(id, '2', 'e', error!);
    else {
      const results = format === 1 ? ['v', formatValues(part.out)] : ['x', encodeColumn(part.out)];
      // Format 4: the results alone (the keys are in the input entry of the same id): fewer bytes through the commit and the AOF.
      if (format === 4) outputs.push(id, '2', ...results);
      else outputs.push(id, '4', ...k!, ...results);
      rows += part.out.length;
    }
  }
  return { outputs, rows };
}
