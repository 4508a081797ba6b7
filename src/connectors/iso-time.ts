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
 * How many of the `n` cells `b[starts[i]..ends[i])`, each already read as a
 * valid ISO date of the common shapes (isoDateBytes: YYYY-MM-DD, T or space,
 * hh:mm:ss, then . or , and 3 digits and Z when 24 bytes long, digits and
 * ranges checked), are in the canonical form of its time before the first
 * that is not. Such a cell of 24 bytes is canonical when it has the T and the
 * . and no hour 24 (24:00 is the next day's 00:00 in the canonical form).
 */
export function canonicalIsoRun(b: Uint8Array, starts: Int32Array, ends: Int32Array, n: number): number {
  for (let i = 0; i < n; i++) {
    const s = starts[i]!;
    if (ends[i]! - s !== 24 || b[s + 10] !== 0x54 || b[s + 19] !== 0x2e || (b[s + 11] === 0x32 && b[s + 12] === 0x34)) return i;
  }
  return n;
}

/** Whether text `t` is the canonical ISO text of a time (its full shape, digits where they go, no hour 24), when it was read as a valid date. */
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

/** The last day written by {@link writeIso} and its 11 bytes `YYYY-MM-DDT` (rows of a stream mostly share their day). */
let lastDay = NaN;
const dayBytes = new Uint8Array(11);
/** The last second written by {@link writeIso} and its 20 bytes `YYYY-MM-DDTHH:MM:SS.` (rows of a stream often share their second too). */
let lastSecond = NaN;
const secondBytes = new Uint8Array(20);

/**
 * Writes the 24 bytes of `isoText(ms)` at `b[o..o+24)` for a time of years
 * 0000–9999 (the times of canonical cells, whole ms): the second's 20 bytes
 * (made when the second changes), then the ms and the Z.
 */
export function writeIso(b: Uint8Array, o: number, ms: number): void {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) setSecond(second);
  for (let j = 0; j < 20; j++) b[o + j] = secondBytes[j]!; // a loop: set() of 20 bytes costs more
  const milli = (ms - second * 1000) | 0; // 0 to 999
  const hundreds = (milli / 100) | 0;
  b[o + 20] = DIGIT_0 + hundreds;
  two(b, o + 21, milli - hundreds * 100);
  b[o + 23] = 0x5a;
}

/** secondBytes for `second` (seconds since the epoch): the day's bytes (made when the day changes), then the clock, in int32 arithmetic. */
function setSecond(second: number): void {
  const day = Math.floor(second / 86_400);
  if (day !== lastDay) setDay(day);
  const b = secondBytes;
  for (let j = 0; j < 11; j++) b[j] = dayBytes[j]!;
  // The seconds of the day as an int32: the rest is int32 arithmetic (a double `%` is a call to fmod).
  let rest = (second - day * 86_400) | 0; // 0 to 86 399
  const hour = (rest / 3600) | 0;
  rest -= hour * 3600;
  const minute = (rest / 60) | 0;
  two(b, 11, hour);
  b[13] = 0x3a;
  two(b, 14, minute);
  b[16] = 0x3a;
  two(b, 17, rest - minute * 60);
  b[19] = 0x2e;
  lastSecond = second;
}

/** dayBytes for `day` (days since the epoch): the civil date (H. Hinnant's civil_from_days). */
function setDay(day: number): void {
  const z = day + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const date = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const d = dayBytes;
  d[0] = DIGIT_0 + Math.floor(year / 1000);
  d[1] = DIGIT_0 + (Math.floor(year / 100) % 10);
  d[2] = DIGIT_0 + (Math.floor(year / 10) % 10);
  d[3] = DIGIT_0 + (year % 10);
  d[4] = 0x2d;
  two(d, 5, month);
  d[7] = 0x2d;
  two(d, 8, date);
  d[10] = 0x54;
  lastDay = day;
}

function two(b: Uint8Array, o: number, x: number): void {
  const tens = (x / 10) | 0;
  b[o] = DIGIT_0 + tens;
  b[o + 1] = DIGIT_0 + (x - tens * 10);
}
