// `streamkernel run --tumbling SIZE | --hopping SIZE --step STEP | --session
// GAP`: window records, one output row per (key, window), from the same keyed
// operator as every other op (ops.ts: WindowsGroupOperator in process, a
// scheduler job on workers). Every op runs the same windows over the same
// rows, so the ops emit the same windows in the same order; a row zips them.
//
// Row order (docs/CLI.md): the single operator's emission order, which the
// scheduler's mergeWindows reproduces for any worker count and batch split:
// by the input row whose arrival emitted the window (its own window first,
// an update by a late row; then the windows its watermark advance closed, by
// end, key in order of first appearance, start); at the end of the input,
// the windows still open, by end, key, start.

import { AsciiText, csvField, jsonNumber, numberBytes, numberLines } from '../connectors/format.js';
import type { ColumnBatch, SourceOffset, TextFormat } from '../connectors/types.js';
import type { WindowOperatorSpec } from '../keyed/spec.js';
import type { LateRow, WindowResult } from '../types.js';
import { CheckpointError, type OpsState } from './checkpoint.js';
import { KeyedOps } from './ops.js';
import type { RunCommand } from './run-args.js';
import type { Emitted, Runner } from './run.js';

const COMMA = 0x2c;
const utf8 = new TextEncoder();
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const jsonTime = (t: string): string => (JSON_NUMBER.test(t) ? t : JSON.stringify(t));

/** A window record as written: times already in the input's format. */
interface WindowRow {
  key: string;
  start: string;
  end: string;
  update: boolean;
  values: number[];
}

/** Window records as CSV or NDJSON: the key column (with --key), window_start, window_end, update (with --allowed-lateness), one column per op. */
export class WindowFormatter {
  private readonly names: string[];
  private readonly jsonNames: string[];
  private readonly opCount: number;
  private readonly ascii = new AsciiText();

  constructor(
    private readonly kind: TextFormat,
    private readonly key: string | undefined,
    private readonly withUpdate: boolean,
    ops: readonly string[],
  ) {
    this.names = [...(key !== undefined ? [key] : []), 'window_start', 'window_end', ...(withUpdate ? ['update'] : []), ...ops];
    this.jsonNames = this.names.map((n) => JSON.stringify(n));
    this.opCount = ops.length;
  }

  header(): string {
    return this.kind === 'csv' ? `${this.names.map(csvField).join(',')}\n` : '';
  }

  format(rows: readonly WindowRow[]): string {
    return this.numberLines(rows) ?? this.stringLines(rows);
  }

  /**
   * {@link WindowFormatter.format} of the windows the ops emitted (per op, the
   * same windows in the same order), as UTF-8 bytes, with no row object, no
   * values array and no string per window: each op's values go to the WASM
   * formatter as one column, and a CSV line's key and bounds are written from
   * `keyCell(id)` (the key's cell, comma included) and `time(ms)`.
   */
  formatBytes(windows: readonly (readonly WindowResult[])[], keyName: (id: number) => string, keyCell: (id: number) => string, time: (ms: number) => string): Uint8Array {
    const first = windows[0] as readonly WindowResult[];
    const n = first.length;
    const ops = this.opCount;
    const columns = windows.map(() => new Float64Array(n));
    windows.forEach((op, j) => {
      const column = columns[j] as Float64Array;
      for (let i = 0; i < n; i++) {
        const o = op[i] as WindowResult;
        const w = first[i] as WindowResult;
        if (o.key !== w.key || o.start !== w.start || o.end !== w.end) throw new Error('the window ops emitted different windows');
        column[i] = o.value;
      }
    });
    const rowOf = (i: number): WindowRow => {
      const w = first[i] as WindowResult;
      return { key: this.key !== undefined ? keyName(w.key as number) : '', start: time(w.start), end: time(w.end), update: w.update, values: columns.map((c) => c[i] as number) };
    };
    if (this.kind === 'csv' && ops > 0) {
      const separators = [...Array.from({ length: ops }, () => ','), '\n'];
      const keyed = this.key !== undefined;
      const withUpdate = this.withUpdate;
      const prefix = (i: number, out: AsciiText): boolean => {
        const w = first[i] as WindowResult;
        return (!keyed || out.text(keyCell(w.key as number))) && out.cell(time(w.start)) && out.byte(COMMA) && out.cell(time(w.end)) && (!withUpdate || out.text(w.update ? ',true' : ',false'));
      };
      const bytes = numberBytes(this.ascii, n, columns, separators, false, prefix);
      if (bytes !== undefined) return bytes;
    }
    return utf8.encode(this.format(Array.from({ length: n }, (_, i) => rowOf(i))));
  }

  /** The lines with the numbers formatted in WASM as bytes (see numberLines); undefined where the text is not ASCII. */
  private numberLines(rows: readonly WindowRow[]): string | undefined {
    const ops = this.opCount;
    if (rows.length === 0 || ops === 0) return undefined;
    const columns = Array.from({ length: ops }, (_, j) => Float64Array.from(rows, (r) => r.values[j] as number));
    const csv = this.kind === 'csv';
    const separators = [...this.jsonNames.slice(-ops).map((name) => (csv ? ',' : `,${name}:`)), csv ? '\n' : '}\n'];
    const prefix = csv
      ? (i: number, out: AsciiText): boolean => {
          const r = rows[i]!;
          return (
            (this.key === undefined || (out.cell(r.key) && out.text(','))) &&
            out.cell(r.start) &&
            out.text(',') &&
            out.cell(r.end) &&
            (!this.withUpdate || out.text(r.update ? ',true' : ',false'))
          );
        }
      : (i: number, out: AsciiText): boolean => out.text(this.jsonPrefix(rows[i]!));
    return numberLines(this.ascii, rows.length, columns, separators, !csv, prefix);
  }

  /** An NDJSON line up to its first op: '{', the key, the window and the update flag. */
  private jsonPrefix(r: WindowRow): string {
    const names = this.jsonNames;
    let k = 0;
    let line = '{';
    if (this.key !== undefined) line += `${names[k++]}:${JSON.stringify(r.key)},`;
    line += `${names[k++]}:${jsonTime(r.start)},${names[k++]}:${jsonTime(r.end)}`;
    if (this.withUpdate) line += `,${names[k++]}:${r.update}`;
    return line;
  }

  private stringLines(rows: readonly WindowRow[]): string {
    let out = '';
    if (this.kind === 'csv') {
      for (const r of rows) {
        if (this.key !== undefined) out += `${csvField(r.key)},`;
        out += `${csvField(r.start)},${csvField(r.end)}`;
        if (this.withUpdate) out += r.update ? ',true' : ',false';
        for (const v of r.values) out += `,${String(v)}`;
        out += '\n';
      }
      return out;
    }
    const names = this.jsonNames;
    for (const r of rows) {
      let k = this.names.length - this.opCount;
      let line = this.jsonPrefix(r);
      for (const v of r.values) line += `,${names[k++]}:${jsonNumber(v)}`;
      out += `${line}}\n`;
    }
    return out;
  }
}

/** The formatter of a window-records command. */
export function windowFormatter(cmd: RunCommand): WindowFormatter {
  return new WindowFormatter(cmd.outputFormat, cmd.key, cmd.allowedLateness !== undefined, cmd.timeOps.map((o) => o.name));
}

/** The command's ops as window operator specs (durations in ms). */
function windowSpecs(cmd: RunCommand): WindowOperatorSpec[] {
  if (cmd.window.kind !== 'records') throw new Error('not window records');
  const { windows } = cmd.window;
  return cmd.timeOps.map((o) => {
    const spec = {
      ...windows,
      op: o.op,
      maxOutOfOrderness: cmd.maxOutOfOrder?.ms ?? 0,
      allowedLateness: cmd.allowedLateness?.ms ?? 0,
      ...(cmd.minPeriods !== undefined ? { minPeriods: cmd.minPeriods } : {}),
      ...(o.ddof !== undefined ? { ddof: o.ddof } : {}),
      ...(o.q !== undefined ? { q: o.q } : {}),
    };
    return spec as WindowOperatorSpec;
  });
}

/** A late row with --on-error fail. */
export class LateRowError extends Error {}

/** Where the rows of a batch were in the input, to name a late row's line. */
interface BatchPlace {
  /** Row number (over rows pushed) of the batch's first row. */
  first: number;
  length: number;
  end: SourceOffset;
  skipped: number;
  /** Each row of the batch is one line. */
  linesKnown: boolean;
}

/** The window-records runner: see the file comment. */
export class WindowRunner implements Runner {
  readonly names: string[];
  late: number;
  readonly reordered = 0;
  readonly lateWhy: string;
  /** Rows pushed so far. */
  private pushed: number;
  /** Times as ISO 8601 (the input's first row had an ISO date) or ms numbers; decided by the first row, kept in checkpoints. */
  private timeFormat: 'ms' | 'iso' | undefined;
  /** The batches whose late rows may still come back (workers), oldest first. */
  private places: BatchPlace[] = [];
  private lineDiff: number;

  private constructor(
    private readonly ops: KeyedOps,
    private readonly cmd: RunCommand,
    private readonly formatter: WindowFormatter,
    restore: OpsState | undefined,
    lineDiff: number,
  ) {
    this.names = cmd.timeOps.map((o) => o.name);
    this.late = restore?.held?.late ?? 0;
    this.pushed = restore?.held?.pushed ?? 0;
    this.timeFormat = restore?.timeFormat;
    this.lineDiff = lineDiff;
    this.lateWhy = `their window ended more than --allowed-lateness ${cmd.allowedLateness?.text ?? '0'} before the watermark`;
  }

  static async create(cmd: RunCommand, restore: OpsState | undefined, start: SourceOffset | undefined, formatter: WindowFormatter): Promise<WindowRunner> {
    if (restore !== undefined && restore.timeFormat === undefined && (restore.held?.pushed ?? 0) > 0) throw new CheckpointError('checkpoint holds no time format');
    const lineDiff = start !== undefined ? start.lines - start.rows : cmd.inputFormat === 'csv' ? 1 : 0;
    return new WindowRunner(await KeyedOps.create(cmd, windowSpecs(cmd), restore), cmd, formatter, restore, lineDiff);
  }

  header(): string {
    return this.formatter.header();
  }

  async process(batch: ColumnBatch): Promise<Emitted> {
    const n = batch.length;
    const diff = batch.end.lines - batch.end.rows;
    this.places.push({ first: this.pushed, length: n, end: batch.end, skipped: batch.skipped, linesKnown: diff === this.lineDiff && batch.skipped === 0 });
    this.lineDiff = diff;
    if (n > 0 && this.timeFormat === undefined) {
      this.timeFormat = batch.timeIsDate === true ? 'iso' : 'ms';
      this.lastMs = this.otherMs = NaN; // texts of the format before, if any
    }
    this.pushed += n;
    // Keys numbered by the reader (ColumnOptions.keyIds): no string per row.
    const keys = batch.keyIds !== undefined && batch.keyNames !== undefined ? { ids: batch.keyIds, names: batch.keyNames } : batch.keys;
    await this.ops.push(batch.timestamps, batch.values, keys);
    return this.emit();
  }

  async finish(): Promise<Emitted> {
    await this.ops.flush();
    return this.emit();
  }

  async settle(): Promise<Emitted> {
    await this.ops.settle();
    return this.emit();
  }

  async state(): Promise<OpsState> {
    const held = { pushed: this.pushed, late: this.late, reordered: 0, time: [], values: '', results: [], known: '' };
    return { ...(await this.ops.state()), held, ...(this.timeFormat !== undefined ? { timeFormat: this.timeFormat } : {}) };
  }

  dispose(): void {
    this.ops.dispose();
  }

  // The windows of a batch mostly share their bounds (every key's window of the same minute): the last two are kept.
  private lastMs = NaN;
  private lastText = '';
  private otherMs = NaN;
  private otherText = '';

  private time(ms: number): string {
    if (ms === this.lastMs) return this.lastText;
    if (ms === this.otherMs) return this.otherText;
    const text = this.timeFormat === 'iso' ? new Date(ms).toISOString() : String(ms);
    this.otherMs = this.lastMs;
    this.otherText = this.lastText;
    this.lastMs = ms;
    this.lastText = text;
    return text;
  }

  /** The windows every op has emitted, as text; late rows are counted (--on-error skip) or fail the run. */
  private emit(): Emitted {
    const { windows, late } = this.ops.takeWindows();
    if (late.length > 0) this.lateRows(late);
    const covered = this.ops.covered();
    while (this.places.length > 0 && (this.places[0] as BatchPlace).first + (this.places[0] as BatchPlace).length <= covered) this.places.shift();
    const n = (windows[0] as WindowResult[]).length;
    return { rows: n, text: n > 0 ? this.formatter.formatBytes(windows, this.keyName, this.keyCell, this.timeText) : '' };
  }

  /** Each key id's CSV cell with its comma, made once per key (the first 65 536 keys; past them, per window). */
  private readonly keyCells: string[] = [];
  private readonly keyName = (id: number): string => this.ops.keyName(id);
  private readonly keyCell = (id: number): string => {
    let cell = this.keyCells[id];
    if (cell === undefined) {
      cell = `${csvField(this.ops.keyName(id))},`;
      if (id < 1 << 16) this.keyCells[id] = cell;
    }
    return cell;
  };
  private readonly timeText = (ms: number): string => this.time(ms);

  private lateRows(late: readonly LateRow[]): void {
    if (this.cmd.onError === 'skip') {
      this.late += late.length;
      return;
    }
    const row = late[0] as LateRow;
    const place = this.places.find((p) => row.row >= p.first && row.row < p.first + p.length);
    let where = `data row ${row.row + 1}`;
    if (place !== undefined) {
      const i = row.row - place.first;
      where = place.linesKnown ? `line ${place.end.lines - place.length + i + 1}` : `data row ${place.end.rows - place.skipped - place.length + i + 1}`;
    }
    const who = this.cmd.key !== undefined ? ` of key ${JSON.stringify(this.ops.keyName(row.key as number))}` : '';
    throw new LateRowError(
      `${where}: time ${this.time(row.ts)}${who} is late: its window ended more than --allowed-lateness ${this.cmd.allowedLateness?.text ?? '0'} before the watermark (the latest time − --max-out-of-order ${this.cmd.maxOutOfOrder?.text ?? '0'}); --on-error skip counts such rows`,
    );
  }
}
