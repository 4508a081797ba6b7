// The numeric fast path of the CSV reader (browser-safe): a byte scanner
// over the data rows that gives exactly the rows, line numbers, byte offsets
// and errors csv-parse gives, for the common case it handles. It runs while
// the rows hold no quote character and are at most SCAN_ROW_LIMIT bytes long,
// with a one-byte delimiter; at the first row that is not so, it stops and
// the rest of the input (from that row's start) goes to csv-parse.
//
// Values and numeric times of the simple form `-?D+(.D*)?` (at most 15
// digits), and times that are ISO dates of the common shapes (isoDateBytes),
// are read straight from the bytes; keys are interned by their bytes,
// so a row of the common case makes no string but its time text. Any other
// cell goes through BatchBuilder.addText, as csv-parse's rows do.

import { BatchBuilder, isoDateBytes, quote, shownCell, utf8Cell } from './columns.js';
import { WasmRows } from './csv-scan-wasm.js';
import { canonicalIsoRun } from './iso-time.js';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;

/** BatchBuilder.cells: where a row's value and time go. */
const VALUE = 0;
const TIME = 1;

/** Byte kinds of the scan loop. */
const PLAIN = 0;
const DELIMITER = 1;
const LINE_END = 2;
const QUOTED = 3;

/** Rows longer than this (and broken ones) are left to csv-parse, which knows how to refuse them. */
export const SCAN_ROW_LIMIT = 1 << 16;
/** The most distinct keys interned; past it, keys are decoded per row. */
const MAX_KEYS = 1 << 16;

/** Rows WASM left that fusedRow tries before it may be skipped on them, and how often a skipped one is still tried. */
const FUSED_TRIES = 64;
const FUSED_RETRY = 1024;

/** FNV-1a, 32 bits: the key table's hash. */
const FNV_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Exact powers of ten up to 10^15. */
const POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/** The reason for refusing a row with another number of fields than the header (`text` read as latin1). */
export function fieldCountReason(width: number, got: number, text: string): string {
  return `expected ${width} fields, got ${got}: ${quote(shownCell(text))}`;
}

/**
 * Whether csv-parse can be left out: the delimiter is one byte that is no
 * quote and no line end.
 */
export function canScan(rawDelimiter: string): boolean {
  const d = rawDelimiter.charCodeAt(0);
  return rawDelimiter.length === 1 && d !== QUOTE && d !== LF && d !== CR;
}

/**
 * `b[s..e)` as a number when it is `-?D+(.D*)?` with at most 15 digits,
 * else undefined (the caller then uses the full grammar). With at most 15
 * digits the mantissa and 10^k are exact, so one division rounds correctly:
 * the double `parseValue` and `Number()` give.
 */
export function simpleNumber(b: Uint8Array, s: number, e: number): number | undefined {
  return readSimple(b, s, e, parsed, 0) ? parsed[0] : undefined;
}

const parsed = new Float64Array(1);

/**
 * {@link simpleNumber} into `out[at]`: true when the cell is such a number.
 * The scanner's form: a double returned by a call that is not inlined is a
 * heap object (a few per row were most of the run's garbage), one written
 * into a typed array is not.
 */
function readSimple(b: Uint8Array, s: number, e: number, out: Float64Array, at: number): boolean {
  return readNumberAt(b, s, e, out, at) === e;
}

/**
 * The longest `-?D+(.D*)?` starting at `b[s]` (reading no further than `e`)
 * into `out[at]`: returns where it ends, or -1 when there is none or it has
 * more than 15 digits. The fused row reader parses a cell with it before it
 * knows where the cell ends.
 */
function readNumberAt(b: Uint8Array, s: number, e: number, out: Float64Array, at: number): number {
  let i = s;
  const negative = i < e && b[i] === MINUS;
  if (negative) i++;
  let m = 0;
  let digits = 0;
  let d = 0;
  for (; i < e; i++, digits++) {
    d = (b[i] as number) - ZERO;
    if (d < 0 || d > 9) break;
    m = m * 10 + d;
  }
  if (digits === 0) return -1;
  let scale = 0;
  if (i < e && b[i] === DOT) {
    for (i++; i < e; i++, scale++) {
      d = (b[i] as number) - ZERO;
      if (d < 0 || d > 9) break;
      m = m * 10 + d;
    }
  }
  if (digits + scale > 15) return -1;
  const v = scale === 0 ? m : m / (POW10[scale] as number);
  out[at] = negative ? -v : v;
  return i;
}

/** Bytes read as latin1 (one char per byte), as csv-parse reads cells. */
export function latin1(b: Uint8Array, s: number, e: number): string {
  if (nodeLatin1 !== undefined) return nodeLatin1.call(b, s, e);
  let out = '';
  for (let o = s; o < e; o += 4096) out += String.fromCharCode.apply(null, b.subarray(o, Math.min(e, o + 4096)) as unknown as number[]);
  return out;
}

/** Node's native latin1 decoder, when there is one (any Uint8Array will do for it). */
const nodeLatin1 = (globalThis as { Buffer?: { prototype: { latin1Slice?: (this: Uint8Array, s: number, e: number) => string } } }).Buffer?.prototype.latin1Slice;

/**
 * Keys by their bytes: each distinct key is decoded (and checked to be
 * UTF-8) once, and its builder id (when the builder numbers keys) looked up
 * once. An open-addressing table of FNV-1a hashes.
 */
class KeyTable {
  private slots = new Int32Array(1 << 12).fill(-1);
  private readonly hashes: number[] = [];
  private readonly bytes: Uint8Array[] = [];
  /** The decoded key, or undefined for bytes that are not UTF-8. */
  readonly keys: (string | undefined)[] = [];
  /** The builder's id of each key (BatchBuilder.keyId) once a row of it was stored; -1 before. */
  readonly ids: number[] = [];

  /** The entry of key `b[s..e)`, or -1 when the table is full. */
  get(b: Uint8Array, s: number, e: number): number {
    let h = FNV_BASIS;
    for (let i = s; i < e; i++) h = Math.imul(h ^ (b[i] as number), FNV_PRIME);
    return this.find(h, b, s, e);
  }

  /** {@link KeyTable.get} of a key whose FNV-1a hash `h` the caller computed as it read the bytes. */
  find(h: number, b: Uint8Array, s: number, e: number): number {
    const mask = this.slots.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const id = this.slots[slot] as number;
      if (id === -1) return this.insert(slot, h, b, s, e);
      if (this.hashes[id] === h && sameBytes(this.bytes[id] as Uint8Array, b, s, e)) return id;
    }
  }

  private insert(slot: number, h: number, b: Uint8Array, s: number, e: number): number {
    if (this.keys.length >= MAX_KEYS) return -1;
    const id = this.keys.length;
    const key = utf8Cell(latin1(b, s, e));
    this.hashes.push(h);
    this.bytes.push(b.slice(s, e));
    this.keys.push(key);
    this.ids.push(-1);
    this.slots[slot] = id;
    if (this.keys.length * 2 > this.slots.length) this.grow();
    return id;
  }

  private grow(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = this.slots.length - 1;
    this.hashes.forEach((h, id) => {
      let slot = h & mask;
      while (this.slots[slot] !== -1) slot = (slot + 1) & mask;
      this.slots[slot] = id;
    });
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array, s: number, e: number): boolean {
  if (a.length !== e - s) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[s + i]) return false;
  return true;
}

/** Roles of a field in {@link CsvScanner.fusedRow}. */
const OTHER_CELL = 0;
const VALUE_CELL = 1;
const TIME_CELL = 2;
const KEY_CELL = 3;

/**
 * Each field's role for the fused row reader, or undefined when it cannot
 * read the rows: a delimiter that a number holds (a digit, `-`, `.`) would
 * be read as part of the number, and a cell wanted twice has two roles.
 */
function fusedRoles(delimiter: number, { width, value, time, key }: ScanColumns): Uint8Array | undefined {
  if (delimiter === MINUS || delimiter === DOT || (delimiter >= ZERO && delimiter <= ZERO + 9)) return undefined;
  if (value < 0 || value === time || (key >= 0 && (key === value || key === time))) return undefined;
  const roles = new Uint8Array(width);
  roles[value] = VALUE_CELL;
  if (time >= 0) roles[time] = TIME_CELL;
  if (key >= 0) roles[key] = KEY_CELL;
  return roles;
}

/** Which cells of a row the reader wants: their field indexes (-1: none). */
export interface ScanColumns {
  width: number;
  value: number;
  time: number;
  key: number;
}

/**
 * Reads data rows from bytes into a {@link BatchBuilder}. {@link CsvScanner.feed}
 * takes the input's bytes in order; when it returns false, the scanner has
 * stopped at a row it leaves to csv-parse: {@link CsvScanner.rest} holds the
 * bytes from that row's start, which is at byte {@link CsvScanner.rowStart}
 * after line {@link CsvScanner.lines}.
 */
export class CsvScanner {
  private pending: Uint8Array | undefined;
  /** The rows not read yet because the builder's batch filled (from a row's start), and whether they end the input: see {@link CsvScanner.resume}. */
  private paused: Uint8Array | undefined;
  private pausedLast = false;
  /** The bytes being scanned as latin1, made on first use: cells are cut from it (one decode per chunk). */
  private text: string | undefined;
  private readonly keys = new KeyTable();
  /** Each byte's kind for the scan: PLAIN, DELIMITER, LINE_END or QUOTED. */
  private readonly kinds = new Uint8Array(256);
  /** Each field's role for {@link CsvScanner.fusedRow} (OTHER_CELL, VALUE_CELL, TIME_CELL, KEY_CELL); undefined when it cannot run. */
  private readonly roles: Uint8Array | undefined;
  // The cells of the row being read: [start, end) byte positions.
  private vs = 0;
  private ve = 0;
  private ts = 0;
  private te = 0;
  private ks = 0;
  private ke = 0;
  /** The usual rows read in WASM (csv-scan-wasm.ts), where it is available; fusedRow reads the rows it leaves. */
  private wasmRows: WasmRows | undefined;
  /** Rows WASM read, and rows it left to fusedRow: when it leaves many (keys past its table), it is no longer asked. */
  private wasmRead = 0;
  private wasmRefused = 0;
  /** Rows WASM left that fusedRow then took, that it left too, and that it was not asked (fusedAfterWasm). */
  private fusedTook = 0;
  private fusedLeft = 0;
  private fusedSkipped = 0;

  constructor(
    private readonly builder: BatchBuilder,
    private readonly delimiter: number,
    private readonly columns: ScanColumns,
    /** Where the next row starts (absolute byte). */
    public rowStart: number,
    /** Lines before it. */
    public lines: number,
  ) {
    this.kinds[LF] = this.kinds[CR] = LINE_END;
    this.kinds[QUOTE] = QUOTED;
    this.kinds[delimiter] = DELIMITER; // canScan: neither a quote nor a line end
    this.roles = fusedRoles(delimiter, columns);
    this.wasmRows = this.roles !== undefined ? WasmRows.create(this.roles, delimiter, columns.key >= 0, columns.time >= 0) : undefined;
  }

  /** The bytes from {@link CsvScanner.rowStart} not read yet. */
  rest(): Uint8Array {
    return this.pending ?? new Uint8Array(0);
  }

  /** Reads the whole rows of `chunk` (after what was left over); false when it stopped for csv-parse. */
  feed(chunk: Uint8Array): boolean {
    return this.scan(this.pending === undefined ? plain(chunk) : this.join(this.pending, chunk), false);
  }

  /**
   * Where a row cut between two chunks is joined to the next: one buffer
   * reused by every feed. A new array per feed (64 KiB pieces, nearly every
   * one after a cut row) cost an allocation, its zeroing and the GC's work
   * on it, ~10× the copy.
   */
  private joined = new Uint8Array(0);

  /**
   * `a` then `b` in {@link CsvScanner.joined}: a view of it, read before the
   * next feed (a paused scan resumes before it; `a`, the kept row, is a
   * copy of its own, see keep).
   */
  private join(a: Uint8Array, b: Uint8Array): Uint8Array {
    const n = a.length + b.length;
    if (this.joined.length < n) this.joined = new Uint8Array(Math.max(n, this.joined.length * 2));
    const whole = this.joined.subarray(0, n);
    whole.set(a);
    whole.set(b, a.length);
    return whole;
  }

  /** At the end of the input: reads a last row without a line end; false when it is left to csv-parse. */
  finish(): boolean {
    return this.pending === undefined || this.scan(this.pending, true);
  }

  /**
   * Whether the scan stopped because the builder's batch is full: once it
   * is taken, {@link CsvScanner.resume} reads on (before the next feed or
   * finish). Rows read past a full batch would wait as objects.
   */
  get isPaused(): boolean {
    return this.paused !== undefined;
  }

  /** Reads on where a full batch stopped the scan; false as {@link CsvScanner.feed}. */
  resume(): boolean {
    const rest = this.paused as Uint8Array;
    this.paused = undefined;
    return this.scan(rest, this.pausedLast);
  }

  private scan(b: Uint8Array, last: boolean): boolean {
    const n = b.length;
    this.text = undefined;
    const kinds = this.kinds;
    // Rows starting before the chunk's last LF end in it: only those go to fusedRow, so that it never
    // meets the chunk's end halfway through a row (a path first run after it was optimized deoptimizes it).
    const fusedEnd = this.roles !== undefined ? b.lastIndexOf(LF) : -1;
    const builder = this.builder;
    let pos = 0;
    let wasm = this.wasmRows;
    wasm?.unload(); // b's bytes are copied in again (a source may reuse its arrays)
    while (pos < n) {
      if (builder.ready) {
        this.paused = b.subarray(pos);
        this.pausedLast = last;
        this.pending = undefined;
        return true;
      }
      if (pos < fusedEnd) {
        if (wasm !== undefined) {
          const next = this.wasmBatch(wasm, b, pos, fusedEnd + 1);
          if (next > pos) {
            pos = next;
            continue;
          }
          // A row WASM leaves: fusedRow (or the general loop) reads it. Past many such rows, WASM is not asked again.
          if (++this.wasmRefused > 1024 && this.wasmRefused * 8 > this.wasmRead) wasm = this.wasmRows = undefined;
        }
        const next = wasm !== undefined ? this.fusedAfterWasm(b, pos, n) : this.fusedRow(b, pos, n);
        if (next >= 0) {
          pos = next;
          continue;
        }
      }
      let field = 0;
      let cellStart = pos;
      let i = pos;
      let c = 0;
      for (; i < n; i++) {
        // One table look-up per byte: most bytes are none of delimiter, CR, LF, quote.
        const kind = kinds[b[i] as number] as number;
        if (kind === PLAIN) continue;
        if (kind === QUOTED) return this.stop(b, pos);
        c = b[i] as number;
        this.cell(field++, cellStart, i);
        if (kind !== DELIMITER) break;
        cellStart = i + 1;
      }
      let next = i + 1;
      if (i === n) {
        // No line end: the row goes on in the next chunk, or is the last one.
        if (!last) return this.keep(b, pos);
        this.cell(field++, cellStart, n);
        next = n;
      } else if (c === CR) {
        // A CR at the end of a chunk may be the first half of a CRLF.
        if (next === n && !last) return this.keep(b, pos);
        if (b[next] === LF) next++;
      }
      if (next - pos > SCAN_ROW_LIMIT) return this.stop(b, pos);
      this.row(b, pos, i, field, this.rowStart + next - pos);
      this.rowStart += next - pos;
      pos = next;
    }
    this.pending = undefined;
    return true;
  }

  /**
   * Reads the usual rows from `pos` in WASM into the builder's open batch
   * (as many as it has room for): where the next row starts, `pos` when
   * WASM leaves the row there to JavaScript (or there is no room).
   */
  private wasmBatch(wasm: WasmRows, b: Uint8Array, pos: number, end: number): number {
    const builder = this.builder;
    const room = builder.bulkRoom();
    if (room === 0) return pos;
    const read = wasm.read(b, pos, end, room, builder.timeKind);
    const count = read.count;
    if (count === 0) return pos;
    if (this.columns.time >= 0) builder.timeFits(read.times[count - 1]!, wasm.timeKind() === 2);
    const bytes = this.rowStart + read.next - pos;
    this.rowStart = bytes;
    this.lines += count;
    this.wasmRead += count;
    const keys = this.keys;
    // Canonical ISO time cells need no text when the builder may go without it (the demo's, most streams').
    const isoRows = builder.isoWithoutText && wasm.timeKind() === 2 ? canonicalIsoRun(b, read.timeStarts, read.timeEnds, count) : 0;
    builder.addColumns(count, read.values, read.times, this.columns.key >= 0 ? read.entries : undefined, keys.ids, keys.keys, builder.keepsTimeText ? (i) => this.cut(b, read.timeStarts[i]!, read.timeEnds[i]!) : undefined, bytes, this.lines, isoRows);
    return read.next;
  }

  /**
   * fusedRow on a row WASM left: tried while it takes a fair share of such
   * rows, then only on every FUSED_RETRY-th. The rows both leave (empty
   * cells: the demo's gaps) go to the general loop either way; trying each
   * in fusedRow first cost its time and, past a few hundred, its compiles.
   */
  private fusedAfterWasm(b: Uint8Array, pos: number, n: number): number {
    const left = this.fusedLeft;
    if (left >= FUSED_TRIES && left > 4 * this.fusedTook && ++this.fusedSkipped % FUSED_RETRY !== 0) return -1;
    const next = this.fusedRow(b, pos, n);
    if (next >= 0) this.fusedTook++;
    else this.fusedLeft++;
    return next;
  }

  /** Notes where cell `field` is, when it is one the reader wants (one cell may be wanted twice). */
  private cell(field: number, start: number, end: number): void {
    const { value, time, key } = this.columns;
    if (field === value) (this.vs = start), (this.ve = end);
    if (field === time) (this.ts = start), (this.te = end);
    if (field === key) (this.ks = start), (this.ke = end);
  }

  /** Keeps the unfinished row from `pos` for the next chunk (csv-parse takes it when it grows long): a copy, as `b` may be the join buffer the next feed writes. */
  private keep(b: Uint8Array, pos: number): boolean {
    if (b.length - pos > SCAN_ROW_LIMIT) return this.stop(b, pos);
    this.pending = b.slice(pos);
    return true;
  }

  private stop(b: Uint8Array, pos: number): boolean {
    this.pending = b.subarray(pos);
    return false;
  }

  /** One row: `b[start..end)` without its line end, `fields` cells, ending at byte `bytes`. */
  private row(b: Uint8Array, start: number, end: number, fields: number, bytes: number): void {
    const line = ++this.lines;
    const builder = this.builder;
    const { width, time, key } = this.columns;
    if (fields !== width) return builder.reject(line, fieldCountReason(width, fields, latin1(b, start, end)), bytes);
    // The value and time go to the builder's cells (BatchBuilder.addCells), unboxed.
    const cells = builder.cells;
    const simple = readSimple(b, this.vs, this.ve, cells, VALUE);
    const entry = key >= 0 ? this.keys.get(b, this.ks, this.ke) : -1;
    const k = key < 0 ? '' : entry >= 0 ? this.keys.keys[entry] : undefined;
    let isDate = false;
    let timeRead = true;
    if (time < 0) cells[TIME] = NaN;
    else if (!readSimple(b, this.ts, this.te, cells, TIME)) {
      const date = isoDateBytes(b, this.ts, this.te);
      timeRead = isDate = date !== undefined;
      if (isDate) cells[TIME] = date as number;
    }
    if (!simple || typeof k !== 'string' || !timeRead) {
      // Not the common case: the general path reads (or refuses) the cells.
      return builder.addText(line, bytes, this.cut(b, this.vs, this.ve), time >= 0 ? this.cut(b, this.ts, this.te) : undefined, key >= 0 ? this.cut(b, this.ks, this.ke) : undefined);
    }
    // The time's text is cut only when batches carry it or a message quotes it.
    if (time >= 0 && !builder.timeFits(cells[TIME]!, isDate) && builder.checkedTime(line, bytes, this.cut(b, this.ts, this.te), cells[TIME], isDate) === undefined) return;
    this.store(b, line, bytes, entry, k);
  }

  /** Adds a row whose cells are read and checked: value and time in the builder's cells, the key's entry (-1: no key column). */
  private store(b: Uint8Array, line: number, bytes: number, entry: number, k: string): void {
    const builder = this.builder;
    const id = entry >= 0 ? (this.keys.ids[entry] as number) : -1;
    builder.addCells(this.columns.time >= 0 && builder.keepsTimeText ? this.cut(b, this.ts, this.te) : '', k, bytes, line, id);
    // Numbered by the builder when its first row is stored (not while held, nor when refused): in order of first appearance.
    if (id < 0 && entry >= 0 && builder.numbersKeys) this.keys.ids[entry] = builder.knownKeyId(k);
    // WASM reads the key's later rows once the key is known here (with its builder id, when keys are numbered).
    const wasm = this.wasmRows;
    if (wasm !== undefined && entry >= 0 && !wasm.knows(entry) && (!builder.numbersKeys || (this.keys.ids[entry] as number) >= 0)) {
      wasm.addKey(entry, b, this.ks, this.ke);
    }
  }

  /**
   * The usual row in one pass over its bytes: each cell is read as it is
   * found (the value and a numeric time parsed, the key hashed, a date time
   * read once its end is known), where the general loop finds the cells
   * first and reads them again. It takes only a row whose cells all end at
   * the delimiter and the last at an LF, whose value (and time) read in the
   * fast forms and whose key is known UTF-8 with a time of the column's kind;
   * it then adds the row and returns where the next one starts. Any other row:
   * -1, with nothing added, and the general loop reads it (or stops, or
   * keeps it for the next chunk) as before.
   */
  private fusedRow(b: Uint8Array, pos: number, n: number): number {
    const roles = this.roles as Uint8Array;
    const kinds = this.kinds;
    const cells = this.builder.cells;
    const last = roles.length - 1;
    const delimiter = this.delimiter;
    let i = pos;
    let h = FNV_BASIS;
    let isDate = false;
    for (let field = 0; field <= last; field++) {
      const role = roles[field] as number;
      const end = field === last ? LF : delimiter;
      const s = i;
      if (role === KEY_CELL) {
        for (; i < n; i++) {
          const c = b[i] as number;
          if (kinds[c] !== PLAIN) break;
          h = Math.imul(h ^ c, FNV_PRIME);
        }
        this.ks = s;
        this.ke = i;
      } else if (role === OTHER_CELL) {
        while (i < n && kinds[b[i] as number] === PLAIN) i++;
      } else {
        const at = role === VALUE_CELL ? VALUE : TIME;
        const after = readNumberAt(b, s, n, cells, at);
        if (after >= 0 && after < n && b[after] === end) i = after;
        else if (role === VALUE_CELL) return -1;
        else {
          while (i < n && kinds[b[i] as number] === PLAIN) i++;
          const date = isoDateBytes(b, s, i);
          if (date === undefined) return -1;
          cells[TIME] = date;
          isDate = true;
        }
        if (role === TIME_CELL) {
          this.ts = s;
          this.te = i;
        }
      }
      if (i >= n || b[i] !== end) return -1;
      i++;
    }
    if (i - pos > SCAN_ROW_LIMIT) return -1;
    const { time, key } = this.columns;
    let entry = -1;
    let k: string | undefined = '';
    if (key >= 0) {
      entry = this.keys.find(h, b, this.ks, this.ke);
      k = entry >= 0 ? this.keys.keys[entry] : undefined;
      if (k === undefined) return -1;
    }
    if (time < 0) cells[TIME] = NaN;
    else if (!this.builder.timeFits(cells[TIME]!, isDate)) return -1;
    const bytes = this.rowStart + i - pos;
    this.rowStart = bytes;
    this.store(b, ++this.lines, bytes, entry, k);
    return i;
  }

  /** `b[s..e)` as latin1, cut from the text of all of `b`. */
  private cut(b: Uint8Array, s: number, e: number): string {
    this.text ??= latin1(b, 0, b.length);
    return this.text.substring(s, e);
  }
}

/**
 * A chunk as a plain Uint8Array (a view, no copy): a Node Buffer has
 * another map, and scanning both kinds (a file's chunks, and the joins of
 * a row cut between them) made the scan loop's optimized code deoptimize.
 */
function plain(chunk: Uint8Array): Uint8Array {
  return chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
}
