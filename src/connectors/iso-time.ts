// Time cells in the canonical ISO form, `new Date(ms).toISOString()`
// (YYYY-MM-DDTHH:MM:SS.mmmZ, years 0000–9999), which is what most streams
// write. A reader that knows a cell is canonical keeps its ms only, and a
// writer writes the same 24 bytes from the ms: no string per row (a profile
// of the demo showed the per-row time strings surviving to old space).
// Browser-safe.

const DIGIT_0 = 0x30;
/** Byte at each position of the canonical form that is not a digit (0: a digit). */
const SHAPE = new Uint8Array(24);
SHAPE[4] = SHAPE[7] = 0x2d; // -
SHAPE[10] = 0x54; // T
SHAPE[13] = SHAPE[16] = 0x3a; // :
SHAPE[19] = 0x2e; // .
SHAPE[23] = 0x5a; // Z

/**
 * Whether bytes `b[s..e)`, a cell already read as a valid ISO date, are in
 * the canonical form of its time: the full shape, and no hour 24 (24:00 is
 * the next day's 00:00 in the canonical form). Digits and ranges were checked
 * by the date's reader.
 */
export function isCanonicalIsoBytes(b: Uint8Array, s: number, e: number): boolean {
  if (e - s !== 24) return false;
  for (let j = 0; j < 24; j++) {
    const c = b[s + j]!;
    const want = SHAPE[j]!;
    if (want === 0 ? c - DIGIT_0 >>> 0 > 9 : c !== want) return false;
  }
  return !(b[s + 11] === 0x32 && b[s + 12] === 0x34);
}

/** How many of the `n` cells `b[starts[i]..ends[i])` (valid ISO dates) are canonical before the first that is not. */
export function canonicalIsoRun(b: Uint8Array, starts: Int32Array, ends: Int32Array, n: number): number {
  for (let i = 0; i < n; i++) if (!isCanonicalIsoBytes(b, starts[i]!, ends[i]!)) return i;
  return n;
}

/** {@link isCanonicalIsoBytes} of a cell's text (a valid date's, or any other text: then false unless it has the shape). */
export function isCanonicalIsoText(t: string): boolean {
  if (t.length !== 24) return false;
  for (let j = 0; j < 24; j++) {
    const c = t.charCodeAt(j);
    const want = SHAPE[j]!;
    if (want === 0 ? c - DIGIT_0 >>> 0 > 9 : c !== want) return false;
  }
  return !(t.charCodeAt(11) === 0x32 && t.charCodeAt(12) === 0x34);
}

/** The canonical ISO text of time `ms`. */
export function isoText(ms: number): string {
  return new Date(ms).toISOString();
}

const MS_PER_DAY = 86_400_000;

/**
 * Writes the 24 bytes of `isoText(ms)` at `b[o..o+24)` for a time of years
 * 0000–9999 (the times of canonical cells): the civil date from days since
 * the epoch (H. Hinnant's days_from_civil inverse), then the clock.
 */
export function writeIso(b: Uint8Array, o: number, ms: number): void {
  const days = Math.floor(ms / MS_PER_DAY);
  let rest = ms - days * MS_PER_DAY;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  const milli = rest - second * 1000;
  b[o] = DIGIT_0 + Math.floor(year / 1000);
  b[o + 1] = DIGIT_0 + (Math.floor(year / 100) % 10);
  b[o + 2] = DIGIT_0 + (Math.floor(year / 10) % 10);
  b[o + 3] = DIGIT_0 + (year % 10);
  b[o + 4] = 0x2d;
  two(b, o + 5, month);
  b[o + 7] = 0x2d;
  two(b, o + 8, day);
  b[o + 10] = 0x54;
  two(b, o + 11, hour);
  b[o + 13] = 0x3a;
  two(b, o + 14, minute);
  b[o + 16] = 0x3a;
  two(b, o + 17, second);
  b[o + 19] = 0x2e;
  b[o + 20] = DIGIT_0 + Math.floor(milli / 100);
  two(b, o + 21, milli % 100);
  b[o + 23] = 0x5a;
}

function two(b: Uint8Array, o: number, x: number): void {
  b[o] = DIGIT_0 + Math.floor(x / 10);
  b[o + 1] = DIGIT_0 + (x % 10);
}
