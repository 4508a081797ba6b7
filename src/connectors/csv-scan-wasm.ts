// The CSV scanner's usual rows read in WASM (assembly/kernels/csvscan.ts),
// browser-safe: where the module cannot be compiled synchronously, there is
// none and CsvScanner reads every row in JavaScript (the same rows, cells
// and errors either way: WASM takes only rows its JavaScript fusedRow would
// take, gives them the same numbers, and leaves every other row to it).

import { instantiateSync } from '../engine.js';

interface CsvScanExports {
  memory: WebAssembly.Memory;
  reserve(bytes: number, rows: number): number;
  inputPtr(): number;
  valuesPtr(): number;
  timesPtr(): number;
  entriesPtr(): number;
  timeStartsPtr(): number;
  timeEndsPtr(): number;
  keyInputPtr(): number;
  stopPos(): number;
  stopWhy(): number;
  kindOfTime(): number;
  layout(width: number, delimiter: number, timeKind: number): number;
  setRole(field: number, role: number): void;
  setTimeKind(kind: number): void;
  columns(key: number, time: number): void;
  addKey(entry: number, n: number): number;
  scan(from: number, n: number, budget: number): number;
}

/** Rows per scan() call: the row buffers' size. */
const ROWS_PER_SCAN = 4096;
/** Why scan() stopped (stopWhy): a row it leaves to JavaScript. */
export const STOP_FOR_JS = 1;

/** The rows one {@link WasmRows.read} gave: views valid until the next call. */
export interface ReadRows {
  count: number;
  /** Where the next row starts (in the bytes given to load). */
  next: number;
  /** Whether the row at `next` is one WASM leaves to JavaScript. */
  refused: boolean;
  values: Float64Array;
  times: Float64Array;
  entries: Int32Array;
  timeStarts: Int32Array;
  timeEnds: Int32Array;
}

/**
 * A WASM reader of the usual rows for one CsvScanner: its own instance (the
 * key table is the scanner's: entries are the JavaScript KeyTable's).
 */
export class WasmRows {
  private loaded: Uint8Array | undefined;
  private loadedEnd = 0;
  private registered = new Uint8Array(0);
  private readonly out: ReadRows;

  private constructor(private readonly wasm: CsvScanExports) {
    this.out = { count: 0, next: 0, refused: false, values: new Float64Array(0), times: new Float64Array(0), entries: new Int32Array(0), timeStarts: new Int32Array(0), timeEnds: new Int32Array(0) };
  }

  /** A reader of rows with these fields' roles (fusedRoles), or undefined where WASM is unavailable or the row is too wide. */
  static create(roles: Uint8Array, delimiter: number, hasKey: boolean, hasTime: boolean): WasmRows | undefined {
    const wasm = instance();
    if (wasm === undefined || wasm.layout(roles.length, delimiter, 0) !== 1) return undefined;
    roles.forEach((role, field) => wasm.setRole(field, role));
    wasm.columns(hasKey ? 1 : 0, hasTime ? 1 : 0);
    return new WasmRows(wasm);
  }

  /** Whether key entry `entry` was given to WASM (registered, or refused by its full table). */
  knows(entry: number): boolean {
    return entry < this.registered.length && this.registered[entry] !== 0;
  }

  /** Registers key entry `entry` (bytes `b[s..e)`); false when WASM's table is full (its rows stay with JavaScript). */
  addKey(entry: number, b: Uint8Array, s: number, e: number): boolean {
    const w = this.wasm;
    let added = false;
    if (e - s <= 65536) {
      new Uint8Array(w.memory.buffer, w.keyInputPtr(), e - s).set(b.subarray(s, e));
      added = w.addKey(entry, e - s) === 1;
    }
    if (entry >= this.registered.length) {
      const more = new Uint8Array(Math.max(64, entry * 2 + 1));
      more.set(this.registered);
      this.registered = more;
    }
    this.registered[entry] = added ? 1 : 2;
    return added;
  }

  /**
   * Reads usual rows of `b` from `from` (up to `end`, just past its last LF),
   * at most `budget`; `timeKind` is the time column's kind so far (0
   * unknown, 1 numbers, 2 dates). The bytes are copied in once per array.
   */
  read(b: Uint8Array, from: number, end: number, budget: number, timeKind: number): ReadRows {
    const w = this.wasm;
    if (this.loaded !== b || this.loadedEnd !== end) {
      if (w.reserve(end, ROWS_PER_SCAN) !== 1) throw new RangeError('CSV scanner: out of memory');
      new Uint8Array(w.memory.buffer, w.inputPtr(), end).set(b.subarray(0, end));
      this.loaded = b;
      this.loadedEnd = end;
    }
    w.setTimeKind(timeKind);
    const count = w.scan(from, end, budget);
    const out = this.out;
    const buffer = w.memory.buffer;
    if (out.values.buffer !== buffer || out.values.byteOffset !== w.valuesPtr()) {
      out.values = new Float64Array(buffer, w.valuesPtr(), ROWS_PER_SCAN);
      out.times = new Float64Array(buffer, w.timesPtr(), ROWS_PER_SCAN);
      out.entries = new Int32Array(buffer, w.entriesPtr(), ROWS_PER_SCAN);
      out.timeStarts = new Int32Array(buffer, w.timeStartsPtr(), ROWS_PER_SCAN);
      out.timeEnds = new Int32Array(buffer, w.timeEndsPtr(), ROWS_PER_SCAN);
    }
    rowsRead += count;
    out.count = count;
    out.next = w.stopPos();
    out.refused = w.stopWhy() === STOP_FOR_JS;
    return out;
  }

  /** The time column's kind after the last read (1 numbers, 2 dates; 0 unknown). */
  timeKind(): number {
    return this.wasm.kindOfTime();
  }

  /** Forgets the bytes copied in (the next read copies its array again). */
  unload(): void {
    this.loaded = undefined;
  }
}

/** Rows read in WASM so far in this thread (tests check that WASM read the rows they compare). */
let rowsRead = 0;
export function wasmRowsRead(): number {
  return rowsRead;
}

function instance(): CsvScanExports | undefined {
  return instantiateSync<CsvScanExports>('csvscan');
}
