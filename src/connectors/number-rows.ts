// Lines of numbers as ASCII bytes, formatted in WASM (assembly/kernels/dtoa.ts):
// each number byte for byte as String(x), with no string made per number.
// Browser-safe: where a synchronous compile is refused (a browser's main
// thread refuses modules over 4 KB), numberRows() is undefined and callers
// keep their String(x) path, which writes the same text.

import { instantiateSync } from '../engine.js';

interface DtoaExports {
  memory: WebAssembly.Memory;
  reserve(rows: number, cols: number, sepBytes: number, prefixBytes: number): number;
  inputPtr(): number;
  endsPtr(): number;
  separatorsPtr(): number;
  prefixesPtr(): number;
  textPtr(): number;
  formatRows(rows: number, cols: number, json: number, prefixed: number): void;
}

/** Rows per formatRows() call: the WASM buffers stay small (about 1 MB for 4 columns). */
export const ROWS_PER_CALL = 8192;

/**
 * Numbers as text, a block of rows per call: row i is `separators[0]`, then
 * column 0's number, `separators[1]`, column 1's number, …, then
 * `separators[cols]`. Numbers are written as `String(x)` or, for JSON, with
 * NaN as `null` and infinities as `"Infinity"`/`"-Infinity"`.
 */
export class NumberRows {
  private readonly wasm: DtoaExports;
  private cols = 0;
  private json = 0;
  private sepBytes = 0;
  private prefixBytes = 0;
  /** Views on the WASM memory, rebuilt when it grows. */
  private input = new Float64Array(0);
  private ends = new Uint32Array(0);
  private text = new Uint8Array(0);

  constructor(wasm: DtoaExports) {
    this.wasm = wasm;
  }

  /** Sets the separators (ASCII, `cols + 1` of them) and the JSON flag for the next calls. */
  layout(separators: readonly string[], json: boolean): void {
    const cols = separators.length - 1;
    const bytes = separators.reduce((n, s) => n + s.length, 0);
    // Two columns more: a column of times (format's isoTimes) and their bytes in the text.
    this.grow(ROWS_PER_CALL, cols + 2, bytes, this.prefixBytes);
    const w = this.wasm;
    const index = new Uint32Array(w.memory.buffer, w.separatorsPtr(), cols + 2);
    const sepText = new Uint8Array(w.memory.buffer, w.separatorsPtr() + (cols + 2) * 4, bytes);
    let o = 0;
    for (let c = 0; c <= cols; c++) {
      index[c] = o;
      for (let j = 0; j < separators[c]!.length; j++) sepText[o++] = separators[c]!.charCodeAt(j);
    }
    index[cols + 1] = o;
    this.cols = cols;
    this.sepBytes = bytes;
    this.json = json ? 1 : 0;
  }

  private grow(rows: number, cols: number, sepBytes: number, prefixBytes: number): void {
    const w = this.wasm;
    if (w.reserve(rows, cols, sepBytes, prefixBytes) !== 1) throw new RangeError('number formatter: out of memory');
    this.prefixBytes = Math.max(this.prefixBytes, prefixBytes);
    const buffer = w.memory.buffer;
    this.input = new Float64Array(buffer, w.inputPtr(), rows * cols); // cols: the reserved columns (with the times' column)
    this.ends = new Uint32Array(buffer, w.endsPtr(), rows);
    this.text = new Uint8Array(buffer, w.textPtr());
  }

  /**
   * Formats rows [from, from + n) of the columns (n ≤ {@link ROWS_PER_CALL}),
   * each line after its prefix, if given: line i's prefix is `prefix.bytes`
   * from `prefix.ends[i - 1]` (0 for i = 0) to `prefix.ends[i]`. Line i ends
   * at `ends[i]` of `text`, and starts where line i - 1 ends (at 0 for i =
   * 0). With `isoTimes` (whole ms of years 0000–9999, and a prefix), line
   * i starts with the canonical ISO text of `isoTimes[from + i]` (as
   * `toISOString`) and a comma, then its prefix. Both views are valid until
   * the next call.
   */
  format(
    columns: readonly ArrayLike<number>[],
    from: number,
    n: number,
    prefix?: { bytes: Uint8Array; ends: Uint32Array },
    isoTimes?: Float64Array,
  ): { text: Uint8Array; ends: Uint32Array } {
    if (prefix !== undefined) {
      if (prefix.bytes.length > this.prefixBytes) this.grow(ROWS_PER_CALL, this.cols + 2, this.sepBytes, prefix.bytes.length);
      new Uint8Array(this.wasm.memory.buffer, this.wasm.prefixesPtr(), prefix.bytes.length).set(prefix.bytes);
      this.ends.set(prefix.ends.subarray(0, n));
    }
    const input = this.input;
    for (let c = 0; c < this.cols; c++) {
      const col = columns[c]!;
      const at = c * n;
      if (col instanceof Float64Array) input.set(from === 0 && col.length === n ? col : col.subarray(from, from + n), at);
      else for (let i = 0; i < n; i++) input[at + i] = col[from + i]!;
    }
    // The times' column, written by formatRows before each prefix as its ISO cell and a comma.
    if (isoTimes !== undefined) input.set(isoTimes.subarray(from, from + n), this.cols * n);
    this.wasm.formatRows(n, this.cols, this.json, isoTimes !== undefined ? 2 : prefix !== undefined ? 1 : 0);
    return { text: this.text, ends: this.ends };
  }
}

let shared: NumberRows | null | undefined;

/** The WASM number formatter, or undefined where it cannot be compiled synchronously. One instance per thread. */
export function numberRows(): NumberRows | undefined {
  if (shared === undefined) {
    shared = null;
    const wasm = instantiateSync<DtoaExports>('dtoa'); // undefined on a browser's main thread: String(x) it is
    if (wasm !== undefined) shared = new NumberRows(wasm);
  }
  return shared ?? undefined;
}

const decoder = new TextDecoder();

/** `String(x)` for each x, through the WASM formatter (for tests and benchmarks); undefined where it is unavailable. */
export function formatNumbers(values: Float64Array): string[] | undefined {
  const rows = numberRows();
  if (rows === undefined) return undefined;
  rows.layout(['', '\n'], false);
  const out: string[] = [];
  for (let from = 0; from < values.length; from += ROWS_PER_CALL) {
    const n = Math.min(ROWS_PER_CALL, values.length - from);
    const { text, ends } = rows.format([values], from, n);
    out.push(...decoder.decode(text.subarray(0, ends[n - 1])).split('\n', n));
  }
  return out;
}
