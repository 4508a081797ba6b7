// Doubles to text, byte for byte as JavaScript's String(x) (ECMAScript
// Number::toString): the shortest decimal that rounds back to x, the closest
// to x among those (ties to an even last digit); plain notation for
// 1e-7 ≤ |x| < 1e21, else d.ddde±n; -0 as 0.
//
// The digits come from Schubfach (R. Giulietti, "The Schubfach way to render
// doubles", 2020): with 10^k just below the distance between neighbouring
// doubles, x and both ends of its rounding interval are scaled by 10^-k
// using a 126-bit approximation of 10^-k (G in dtoa-table.ts) whose error
// cannot change any decision. The interval is then narrower than 10 units,
// so it holds at most one multiple of 10 (the only shorter candidate) and
// otherwise the two integers s and s + 1 around x decide.
//
// Unlike Java's Double.toString, which wants at least two digits and so
// renders 5e-324 as 4.9E-324, a one-digit answer is kept: the shorter
// candidate is tried for every s ≥ 10, subnormals included.
//
// Not a rolling kernel: it has its own small ABI (reserve, pointers,
// formatRows) used by src/connectors/number-rows.ts.
import { G, K_MIN } from '../dtoa-table';

const MASK63: u64 = 0x7fffffffffffffff;
const C_MIN: u64 = 1 << 52;
const Q_MIN: i32 = -1074;
const P: i32 = 53;

/** The most bytes one number takes: '-2.2250738585072014e-308'. */
const MAX_NUMBER_BYTES: i32 = 24;

const ZERO: u8 = 0x30;

// ---- 64×64 → 128-bit products, from 32-bit halves ----

@inline function mulHigh(a: u64, b: u64): u64 {
  const a0 = a & 0xffffffff;
  const a1 = a >> 32;
  const b0 = b & 0xffffffff;
  const b1 = b >> 32;
  // a1·b0 plus the carry word of a0·b0 cannot overflow 64 bits (nor can its low half plus a0·b1).
  const t = a1 * b0 + ((a0 * b0) >> 32);
  const w = (t & 0xffffffff) + a0 * b1;
  return a1 * b1 + (t >> 32) + (w >> 32);
}

/** ⌊g·cp·2^-127⌋ with g = g1·2^63 + g0, its lowest bit set when the rest is not 0 (round to odd). */
@inline function rop(g1: u64, g0: u64, cp: u64): u64 {
  const x1 = mulHigh(g0, cp);
  const y0 = g1 * cp;
  const y1 = mulHigh(g1, cp);
  const z = (y0 >> 1) + x1;
  const vbp = y1 + (z >> 63);
  return vbp | (((z & MASK63) + MASK63) >> 63);
}

// ---- integer logarithms (exact over the exponents of doubles) ----

/** ⌊e·log10(2)⌋ */
@inline function flog10pow2(e: i32): i32 {
  return <i32>((<i64>e * 661971961083) >> 41);
}
/** ⌊e·log10(2) + log10(3/4)⌋ */
@inline function flog10threeQuartersPow2(e: i32): i32 {
  return <i32>((<i64>e * 661971961083 - 274743187321) >> 41);
}
/** ⌊e·log2(10)⌋ */
@inline function flog2pow10(e: i32): i32 {
  return <i32>((<i64>e * 913124641741) >> 38);
}

// ---- text ----

/** "00" … "99": two digits per division. */
const PAIRS: usize = memory.data<u8>([
  48, 48, 48, 49, 48, 50, 48, 51, 48, 52, 48, 53, 48, 54, 48, 55, 48, 56, 48, 57,
  49, 48, 49, 49, 49, 50, 49, 51, 49, 52, 49, 53, 49, 54, 49, 55, 49, 56, 49, 57,
  50, 48, 50, 49, 50, 50, 50, 51, 50, 52, 50, 53, 50, 54, 50, 55, 50, 56, 50, 57,
  51, 48, 51, 49, 51, 50, 51, 51, 51, 52, 51, 53, 51, 54, 51, 55, 51, 56, 51, 57,
  52, 48, 52, 49, 52, 50, 52, 51, 52, 52, 52, 53, 52, 54, 52, 55, 52, 56, 52, 57,
  53, 48, 53, 49, 53, 50, 53, 51, 53, 52, 53, 53, 53, 54, 53, 55, 53, 56, 53, 57,
  54, 48, 54, 49, 54, 50, 54, 51, 54, 52, 54, 53, 54, 54, 54, 55, 54, 56, 54, 57,
  55, 48, 55, 49, 55, 50, 55, 51, 55, 52, 55, 53, 55, 54, 55, 55, 55, 56, 55, 57,
  56, 48, 56, 49, 56, 50, 56, 51, 56, 52, 56, 53, 56, 54, 56, 55, 56, 56, 56, 57,
  57, 48, 57, 49, 57, 50, 57, 51, 57, 52, 57, 53, 57, 54, 57, 55, 57, 56, 57, 57,
]);

/** Decimal digits of 0 < v < 2^32. */
function digitCount(v: u32): i32 {
  if (v < 100000) return v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : 5;
  return v < 1000000 ? 6 : v < 10000000 ? 7 : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
}

/** Writes the `len` digits of v (zero-padded) ending just before `end`: 32-bit divisions by constants, which compile to multiplications. */
function writeDigits(end: usize, v: u32, len: i32): void {
  let p = end;
  while (len >= 2) {
    const q = v / 100;
    p -= 2;
    store<u16>(p, load<u16>(PAIRS + ((<usize>(v - q * 100)) << 1)));
    v = q;
    len -= 2;
  }
  if (len > 0) store<u8>(p - 1, ZERO + <u8>(v % 10));
}

/** How many zeros the last stripZeros() removed. */
let stripped: i32 = 0;
/** v without its trailing zeros (v > 0). */
function stripZeros(v: u32): u32 {
  let z = 0;
  while (v % 10 == 0) {
    v /= 10;
    z++;
  }
  stripped = z;
  return v;
}

/** Writes f·10^e (0 < f < 10^17) as ECMAScript does; returns the end. */
function writeDecimal(p: usize, f: u64, e: i32): usize {
  // f = hi·10^loLen + lo, in 32-bit halves (one 64-bit division).
  let hi = <u32>(f / 100000000);
  let lo = <u32>(f - <u64>hi * 100000000);
  let loLen = 8;
  if (lo == 0) {
    lo = stripZeros(hi);
    hi = 0;
    e += 8 + stripped;
  } else {
    lo = stripZeros(lo);
    loLen -= stripped;
    e += stripped;
  }
  const hiLen = hi != 0 ? digitCount(hi) : 0;
  if (hi == 0) loLen = digitCount(lo);
  const len = hiLen + loLen;
  const n = len + e; // the decimal point's position after the first digit
  if (len <= n && n <= 21) {
    writeAll(p + len, hi, lo, loLen);
    zeros(p + len, n - len);
    return p + n;
  }
  if (0 < n && n <= 21) {
    // ddd.ddd: digits, then the first n moved one byte left to make room for the point.
    writeAll(p + len + 1, hi, lo, loLen);
    for (let j = 0; j < n; j++) store<u8>(p + j, load<u8>(p + j + 1));
    store<u8>(p + n, 0x2e);
    return p + len + 1;
  }
  if (-6 < n && n <= 0) {
    store<u8>(p, ZERO);
    store<u8>(p + 1, 0x2e);
    zeros(p + 2, -n);
    writeAll(p + 2 - n + len, hi, lo, loLen);
    return p + 2 - n + len;
  }
  // d[.ddd]e±x
  writeAll(p + len + 1, hi, lo, loLen);
  store<u8>(p, load<u8>(p + 1));
  let q = p + 1;
  if (len > 1) {
    store<u8>(q, 0x2e);
    q += len;
  }
  store<u8>(q++, 0x65);
  let x = n - 1;
  store<u8>(q++, x < 0 ? 0x2d : 0x2b);
  if (x < 0) x = -x;
  const xl = digitCount(<u32>x);
  writeDigits(q + xl, <u32>x, xl);
  return q + xl;
}

// Byte loops rather than memory.fill/copy: the bulk operations are calls out of WASM, dear for a few bytes.

@inline function zeros(p: usize, n: i32): void {
  for (let j = 0; j < n; j++) store<u8>(p + j, ZERO);
}

/** Writes hi·10^loLen + lo (hi's digits, then lo's loLen digits) ending just before `end`. */
@inline function writeAll(end: usize, hi: u32, lo: u32, loLen: i32): void {
  writeDigits(end, lo, loLen);
  if (hi != 0) writeDigits(end - loLen, hi, digitCount(hi));
}

/** The shortest, then closest, decimal of c·2^q (Schubfach's toDecimal, without Java's two-digit rule); returns the end. */
function writeScaled(p: usize, q: i32, c: u64): usize {
  const out: u64 = c & 1; // an even c's interval includes its ends
  const cb = c << 2;
  const cbr = cb + 2;
  let cbl: u64;
  let k: i32;
  if (c != C_MIN || q == Q_MIN) {
    cbl = cb - 2;
    k = flog10pow2(q);
  } else {
    // A power of two: the interval below is half as wide.
    cbl = cb - 1;
    k = flog10threeQuartersPow2(q);
  }
  const h = q + flog2pow10(-k) + 2;
  const gi = G + ((<usize>(k - K_MIN)) << 4);
  const g1 = load<u64>(gi);
  const g0 = load<u64>(gi, 8);
  const vb = rop(g1, g0, cb << h);
  const vbl = rop(g1, g0, cbl << h);
  const vbr = rop(g1, g0, cbr << h);
  const s = vb >> 2;
  if (s >= 10) {
    // The one multiple of 10 the interval may hold: the shorter candidate.
    const sp10 = 10 * mulHigh(s, 0x19999999999999a0); // 10·⌊s/10⌋
    const tp10 = sp10 + 10;
    const upin = vbl + out <= sp10 << 2;
    const wpin = (tp10 << 2) + out <= vbr;
    if (upin != wpin) return writeDecimal(p, upin ? sp10 : tp10, k);
  }
  const t = s + 1;
  const uin = vbl + out <= s << 2;
  const win = (t << 2) + out <= vbr;
  if (uin != win) return writeDecimal(p, uin ? s : t, k);
  // Both in: the closer one, the even one on a tie.
  const cmp = <i64>(vb - ((s + t) << 1));
  return writeDecimal(p, cmp < 0 || (cmp == 0 && (s & 1) == 0) ? s : t, k);
}

/**
 * Below 2^30 the neighbours of a double lie less than 10^-6 apart (ulp ≤
 * 2^-23), so at most one decimal with ≤ 6 digits after the point rounds to
 * it, and that one is its shortest (any shorter decimal would differ from it
 * by 10^-6 or more).
 */
const SHORT_BELOW: f64 = 1073741824.0;

/**
 * x (0 < x < SHORT_BELOW, not an integer) as `int.frac` when it is a decimal
 * of at most 6 digits after the point (what a CSV holds: 12.345, a median):
 * the same bytes as writeScaled without its 128-bit products and 64-bit
 * division. Returns the end, or 0 when x is not such a decimal.
 */
function writeShort(p: usize, x: f64): usize {
  const y = nearest(x * 1e6);
  if (y / 1e6 != x) return 0; // not a 6-digit decimal (correctly rounded division: y·10^-6 would not round to x)
  // No integer lies between x and y·10^-6 (less than 10^-6 apart): the integer part is x's.
  const ip = <u32>x;
  let frac = <u32>(y - <f64>ip * 1e6);
  if (frac == 0) return 0;
  // Its trailing zeros (at most 5) in three fixed steps: 3, then 2, then 1.
  let fracLen = 6;
  if (frac % 1000 == 0) {
    frac /= 1000;
    fracLen = 3;
  }
  if (frac % 100 == 0) {
    frac /= 100;
    fracLen -= 2;
  }
  if (frac % 10 == 0) {
    frac /= 10;
    fracLen--;
  }
  const ipLen = ip == 0 ? 1 : digitCount(ip);
  writeDigits(p + ipLen, ip, ipLen);
  store<u8>(p + ipLen, 0x2e);
  const end = p + ipLen + 1 + fracLen;
  writeDigits(end, frac, fracLen);
  return end;
}

function writeAscii(p: usize, text: string): usize {
  for (let j = 0; j < text.length; j++) store<u8>(p + j, <u8>text.charCodeAt(j));
  return p + text.length;
}

/** Writes String(x), or with json the JSON of TextFormatter (NaN null, infinities as strings); returns the end. */
function writeNumber(p: usize, x: f64, json: bool): usize {
  const bits = reinterpret<u64>(x);
  const t = bits & (C_MIN - 1);
  const bq = <i32>(bits >> 52) & 0x7ff;
  if (bq == 0x7ff) {
    if (t != 0) return writeAscii(p, json ? 'null' : 'NaN');
    if (json) return writeAscii(p, (bits >> 63) != 0 ? '"-Infinity"' : '"Infinity"');
    return writeAscii(p, (bits >> 63) != 0 ? '-Infinity' : 'Infinity');
  }
  if ((bits << 1) == 0) {
    store<u8>(p, ZERO); // -0 too
    return p + 1;
  }
  if ((bits >> 63) != 0) store<u8>(p++, 0x2d);
  if (bq == 0) return writeScaled(p, Q_MIN, t);
  const mq = -Q_MIN + 1 - bq;
  const c = C_MIN | t;
  if (0 < mq && mq < P) {
    // An integer below 2^53: its digits as they are.
    const f = c >> mq;
    if (f << mq == c) return writeDecimal(p, f, 0);
  }
  const abs = reinterpret<f64>(bits & MASK63);
  if (abs < SHORT_BELOW) {
    const end = writeShort(p, abs);
    if (end != 0) return end;
  }
  return writeScaled(p, -mq, c);
}

// ---- the column ABI ----
//
// Memory after the static data: [input f64 × rows × cols][ends u32 × rows]
// [separators: u32 × (cols + 2) offsets, then bytes][prefixes][text].

let inputBase: usize = 0;
let endsBase: usize = 0;
let sepBase: usize = 0;
let prefixBase: usize = 0;
let outBase: usize = 0;
let rowsCap: i32 = 0;
let colsCap: i32 = 0;
let sepCap: i32 = 0;
let prefixCap: i32 = 0;

/**
 * Room for `rows` rows of `cols` columns, `sepBytes` bytes of separators and
 * `prefixBytes` bytes of line prefixes (the separators already set are
 * kept); 1 on success, 0 when memory cannot grow.
 */
export function reserve(rows: i32, cols: i32, sepBytes: i32, prefixBytes: i32): i32 {
  if (rows <= rowsCap && cols <= colsCap && sepBytes <= sepCap && prefixBytes <= prefixCap) return 1;
  if (rows < 1 || cols < 1 || sepBytes < 0 || prefixBytes < 0 || rows > 1 << 20 || cols > 1 << 12 || sepBytes > 1 << 20 || prefixBytes > 1 << 30) return 0;
  const r = <usize>max(rows, rowsCap);
  const c = <usize>max(cols, colsCap);
  const sb = <usize>max(sepBytes, sepCap);
  const pb = <usize>max(prefixBytes, prefixCap);
  const input = (__heap_base + 15) & ~(<usize>15);
  const ends = input + r * c * 8;
  const sep = ends + r * 4;
  const prefix = sep + (c + 2) * 4 + sb;
  const out = (prefix + pb + 15) & ~(<usize>15);
  const end = out + r * (c * <usize>MAX_NUMBER_BYTES + sb) + pb;
  const have = (<usize>memory.size()) << 16;
  if (end > have && memory.grow(<i32>((end - have + 0xffff) >>> 16)) < 0) return 0;
  if (sepBase != 0 && sep != sepBase) memory.copy(sep, sepBase, (<usize>colsCap + 2) * 4 + <usize>sepCap);
  inputBase = input;
  endsBase = ends;
  sepBase = sep;
  prefixBase = prefix;
  outBase = out;
  rowsCap = <i32>r;
  colsCap = <i32>c;
  sepCap = <i32>sb;
  prefixCap = <i32>pb;
  return 1;
}

export function inputPtr(): usize {
  return inputBase;
}
export function endsPtr(): usize {
  return endsBase;
}
export function separatorsPtr(): usize {
  return sepBase;
}
export function prefixesPtr(): usize {
  return prefixBase;
}
export function textPtr(): usize {
  return outBase;
}

// ---- canonical ISO times (toISOString's YYYY-MM-DDTHH:MM:SS.mmmZ) ----

/** The second last written and its 20 bytes `YYYY-MM-DDTHH:MM:SS.` (rows of a stream often share their second). */
let isoSecond: i64 = i64.MIN_VALUE;
const isoHead: usize = memory.data(20);

function twoDigits(at: usize, x: i32): void {
  store<u8>(at, <u8>(<i32>ZERO + x / 10));
  store<u8>(at, <u8>(<i32>ZERO + x % 10), 1);
}

/** isoHead for `second` (since the epoch, years 0000–9999): the civil date by H. Hinnant's civil_from_days, then the clock. */
function setIsoSecond(second: i64): void {
  let day = second / 86400;
  if (second - day * 86400 < 0) day--;
  const clock = <i32>(second - day * 86400);
  const z = day + 719468;
  const era = (z >= 0 ? z : z - 146096) / 146097;
  const doe = <i32>(z - era * 146097);
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  const date = doy - (153 * mp + 2) / 5 + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = <i32>(<i64>yoe + era * 400) + (month <= 2 ? 1 : 0);
  twoDigits(isoHead, year / 100);
  twoDigits(isoHead + 2, year % 100);
  store<u8>(isoHead, 0x2d, 4);
  twoDigits(isoHead + 5, month);
  store<u8>(isoHead, 0x2d, 7);
  twoDigits(isoHead + 8, date);
  store<u8>(isoHead, 0x54, 10);
  const hour = clock / 3600;
  const minute = (clock - hour * 3600) / 60;
  twoDigits(isoHead + 11, hour);
  store<u8>(isoHead, 0x3a, 13);
  twoDigits(isoHead + 14, minute);
  store<u8>(isoHead, 0x3a, 16);
  twoDigits(isoHead + 17, clock - hour * 3600 - minute * 60);
  store<u8>(isoHead, 0x2e, 19);
  isoSecond = second;
}

/** Writes the 24 bytes of time `ms` (whole ms, years 0000–9999) in the canonical ISO form and a comma at p; the end. */
function writeIsoCell(p: usize, ms: f64): usize {
  const t = <i64>ms;
  let second = t / 1000;
  let milli = <i32>(t - second * 1000);
  if (milli < 0) {
    second--;
    milli += 1000;
  }
  if (second != isoSecond) setIsoSecond(second);
  // The second's 20 bytes in three loads and stores: memory.copy is a call out of WASM, dear for 20 bytes (~5 % of a demo line).
  store<u64>(p, load<u64>(isoHead));
  store<u64>(p, load<u64>(isoHead, 8), 8);
  store<u32>(p, load<u32>(isoHead, 16), 16);
  store<u8>(p, <u8>(<i32>ZERO + milli / 100), 20);
  twoDigits(p + 21, milli % 100);
  store<u8>(p, 0x5a, 23);
  store<u8>(p, 0x2c, 24);
  return p + 25;
}

/**
 * Writes `rows` lines: with `prefixed`, line i's prefix (the bytes at
 * prefixes from the end of line i - 1's to ends[i]), after, with `prefixed`
 * 2, the time at column `cols` (input + cols·rows·8, whole ms) as a CSV
 * cell of canonical ISO text and its comma; then separator 0, the
 * columns' numbers (column c at input + c·rows·8) each after separator c
 * (c > 0), and separator `cols`. ends[i] becomes the end of line i,
 * relative to textPtr(). (Room: reserve with two columns more than `cols`
 * for `prefixed` 2, one for the times and one for their bytes.)
 */
export function formatRows(rows: i32, cols: i32, json: i32, prefixed: i32): void {
  const sepBytes = sepBase + ((<usize>cols + 2) << 2);
  const times = inputBase + ((<usize>cols * rows) << 3);
  let p = outBase;
  let prefixFrom: usize = 0;
  for (let i = 0; i < rows; i++) {
    const endAt = endsBase + (<usize>i << 2);
    if (prefixed == 2) p = writeIsoCell(p, load<f64>(times + (<usize>i << 3)));
    if (prefixed != 0) {
      const prefixTo = <usize>load<u32>(endAt);
      for (let j = prefixFrom; j < prefixTo; j++) store<u8>(p++, load<u8>(prefixBase + j));
      prefixFrom = prefixTo;
    }
    for (let c = 0; c <= cols; c++) {
      const from = load<u32>(sepBase + (<usize>c << 2));
      const to = load<u32>(sepBase + (<usize>c << 2), 4);
      for (let j = from; j < to; j++) store<u8>(p++, load<u8>(sepBytes + j));
      if (c < cols) p = writeNumber(p, load<f64>(inputBase + ((<usize>c * rows + i) << 3)), json != 0);
    }
    store<u32>(endAt, <u32>(p - outBase));
  }
}
