// Window records between a worker and the coordinator as columns. Posted as
// objects, every record was structured-cloned field by field on both
// threads: with one window per 10 rows (keyed tumbling), cloning was the
// larger part of the coordinator's CPU per row. Packed, a worker writes one
// Float64Array (row, key, start, end, value, count per record) and one
// Uint8Array (phase, update, has replaces) and transfers them; the
// coordinator rebuilds the same objects. Session windows' `replaces` and late
// rows are rare and stay objects.
import type { TaggedWindow, WindowsOutput } from '../keyed/windows.js';
import type { LateRow, WindowResult } from '../types.js';

/** Window records packed for postMessage (see the file comment). */
export interface PackedWindows {
  /** Per record: row, key, start, end, value, count. */
  numbers: Float64Array;
  /** Per record: phase | update << 2 | (has replaces) << 3. */
  flags: Uint8Array;
  /** The `replaces` of the records that have them, in record order. */
  replaces: NonNullable<WindowResult['replaces']>[];
  late: LateRow[];
}

const FIELDS = 6;
const UPDATE = 4;
const REPLACES = 8;

/** Packs a worker's output, with the buffers to transfer; undefined when a key is not a number (posted as it is then). */
export function packWindows(out: WindowsOutput): { packed: PackedWindows; transfer: ArrayBuffer[] } | undefined {
  const n = out.windows.length;
  const numbers = new Float64Array(n * FIELDS);
  const flags = new Uint8Array(n);
  const replaces: PackedWindows['replaces'] = [];
  for (let i = 0; i < n; i++) {
    const { row, phase, window: w } = out.windows[i]!;
    if (typeof w.key !== 'number') return undefined;
    const at = i * FIELDS;
    numbers[at] = row;
    numbers[at + 1] = w.key;
    numbers[at + 2] = w.start;
    numbers[at + 3] = w.end;
    numbers[at + 4] = w.value;
    numbers[at + 5] = w.count;
    flags[i] = phase | (w.update ? UPDATE : 0) | (w.replaces !== undefined ? REPLACES : 0);
    if (w.replaces !== undefined) replaces.push(w.replaces);
  }
  return { packed: { numbers, flags, replaces, late: out.late }, transfer: [numbers.buffer, flags.buffer] };
}

/** The output packWindows packed: the same records, fields in the same order. */
export function unpackWindows(packed: PackedWindows): WindowsOutput {
  const { numbers, flags } = packed;
  const windows: TaggedWindow[] = new Array(flags.length);
  let r = 0;
  for (let i = 0; i < flags.length; i++) {
    const at = i * FIELDS;
    const f = flags[i]!;
    const count = numbers[at + 5]!;
    const window: WindowResult = {
      key: numbers[at + 1]!,
      start: numbers[at + 2]!,
      end: numbers[at + 3]!,
      value: numbers[at + 4]!,
      // As the worker's engine stores it: a small integer untagged (gridResultOf).
      count: count <= 0x3fffffff ? count | 0 : count,
      update: (f & UPDATE) !== 0,
    };
    if ((f & REPLACES) !== 0) window.replaces = packed.replaces[r++]!;
    windows[i] = { row: numbers[at]!, phase: (f & 3) as TaggedWindow['phase'], window };
  }
  return { windows, late: packed.late };
}
