// The demo's sink: counts the output's lines on the bytes and keeps the few
// wanted ones as text (decoding every chunk was a cost inside the demo's
// timed run).

import { Writable } from 'node:stream';

/** Past every line index: a small integer, as the indices compared with it (not Infinity, a heap number). */
const PAST_EVERY_LINE = 0x3fffffff;

/** Captures the output lines at the given indices (0: the first row after the header). */
export class LineCapture extends Writable {
  readonly lines = new Map<number, string>();
  private index = -1; // the line being read (the header line is -1)
  private carry: Buffer = Buffer.alloc(0); // the start of an unfinished line
  /** The wanted indices, ascending, and the next one's place in them. */
  private readonly wanted: number[];
  private nextWanted = 0;
  constructor(wanted: ReadonlySet<number>) {
    super({ decodeStrings: false });
    this.wanted = [...wanted].sort((a, b) => a - b);
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (error?: Error | null) => void): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let from = 0;
    for (;;) {
      const until = this.wanted[this.nextWanted] ?? PAST_EVERY_LINE;
      const start = this.skipLines(bytes, from, until);
      if (start !== from) this.carry = Buffer.alloc(0); // the carried line ended
      from = start;
      const nl = this.index === until ? bytes.indexOf(10, from) : -1;
      if (nl === -1) break;
      this.lines.set(this.index, Buffer.concat([this.carry, bytes.subarray(from, nl)]).toString('utf8'));
      this.carry = Buffer.alloc(0);
      this.index++;
      this.nextWanted++;
      from = nl + 1;
    }
    this.carry = Buffer.concat([this.carry, bytes.subarray(from)]);
    done();
  }
  /**
   * Counts the lines of `bytes` from `from` that end before line `until`
   * starts: where the line being read then starts. _write's per-line loop,
   * a method of its own with nothing after it: compiled on its first run,
   * before _write had type feedback, the loop's code had none for the lines
   * after it, and was thrown out there and compiled again.
   */
  private skipLines(bytes: Buffer, from: number, until: number): number {
    for (let nl = 0; this.index < until && (nl = bytes.indexOf(10, from)) !== -1; from = nl + 1) this.index++;
    return from;
  }
}
