// The CSV scanner's usual rows in WASM (src/connectors/csv-scan.ts,
// CsvScanner.fusedRow): a row whose cells all end at the delimiter and the
// last at an LF, whose value (and a numeric time) is `-?D+(.D*)?` with at
// most 15 digits, whose time is such a number or an ISO date of the common
// shapes (isoDateBytes in src/connectors/columns.ts), and whose key is one
// the scanner registered (addKey). Each such row gives its value, time, key
// entry and time cell; the first row that is not one stops the call, and
// the scanner reads it in JavaScript. Exactly the numbers of the JS reader:
// the same digits accumulated in doubles, the same one division.
//
// Not a rolling kernel: its own small ABI (reserve, the pointers, setRole,
// addKey, scan). One instance per CsvScanner (its key table is its own).

const PLAIN: u8 = 0;
const DELIMITER: u8 = 1;
const LINE_END: u8 = 2;
const QUOTED: u8 = 3;

const OTHER_CELL: u8 = 0;
const VALUE_CELL: u8 = 1;
const TIME_CELL: u8 = 2;
const KEY_CELL: u8 = 3;

/** The most fields a row may have here (wider rows go to JavaScript). */
const MAX_FIELDS: i32 = 256;
/** The most keys registered, and the most bytes of them: past these, the rows of other keys go to JavaScript. */
const MAX_KEYS: i32 = 16384;
const KEY_BYTES: i32 = 1 << 19;
const SLOTS: i32 = MAX_KEYS * 2;
/** The longest row read here (SCAN_ROW_LIMIT of csv-scan.ts). */
const ROW_LIMIT: i32 = 1 << 16;

const KINDS: usize = memory.data(256);
const ROLES: usize = memory.data(MAX_FIELDS);
/** Key table: slot → entry + 1 (0: free); per entry its hash, bytes' offset in KEYS and length. */
const SLOT_TABLE: usize = memory.data(SLOTS * 4, 16);
const KEY_HASH: usize = memory.data(MAX_KEYS * 4, 16);
const KEY_AT: usize = memory.data(MAX_KEYS * 4, 16);
const KEY_LEN: usize = memory.data(MAX_KEYS * 4, 16);
const KEYS: usize = memory.data(KEY_BYTES, 16);
const POW10: usize = memory.data<f64>([1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15]);

let fields: i32 = 0;
let delimiter: i32 = 0;
let keyCount: i32 = 0;
let keyBytes: i32 = 0;
/** The time column's kind so far: 0 unknown, 1 numbers, 2 dates (BatchBuilder's dateTimes). */
let timeKind: i32 = 0;
let stopAt: i32 = 0;
/** Why the last scan stopped: 0 no whole row left, 1 a row for JavaScript, 2 the row budget. */
let stopReason: i32 = 0;

// Buffers laid out by reserve(): the bytes, then per row value, time, key entry, time cell start and end.
let inputPtr_: usize = 0;
let valuesPtr_: usize = 0;
let timesPtr_: usize = 0;
let entriesPtr_: usize = 0;
let timeStartsPtr_: usize = 0;
let timeEndsPtr_: usize = 0;
let inputCap: i32 = 0;
let rowCap: i32 = 0;

/** Room for `bytes` of input and `rows` rows per scan; 0 when memory cannot grow. */
export function reserve(bytes: i32, rows: i32): i32 {
  if (bytes <= inputCap && rows <= rowCap) return 1;
  const b = max(bytes, inputCap);
  const r = max(rows, rowCap);
  const base = (__heap_base + 15) & ~(<usize>15);
  const inBytes = (<usize>b + 15) & ~(<usize>15);
  const end = base + inBytes + <usize>r * 32;
  const have = <usize>memory.size() << 16;
  if (end > have && memory.grow(<i32>((end - have + 0xffff) >>> 16)) < 0) return 0;
  inputPtr_ = base;
  valuesPtr_ = base + inBytes;
  timesPtr_ = valuesPtr_ + <usize>r * 8;
  entriesPtr_ = timesPtr_ + <usize>r * 8;
  timeStartsPtr_ = entriesPtr_ + <usize>r * 4;
  timeEndsPtr_ = timeStartsPtr_ + <usize>r * 4;
  inputCap = b;
  rowCap = r;
  return 1;
}

export function inputPtr(): usize { return inputPtr_; }
export function valuesPtr(): usize { return valuesPtr_; }
export function timesPtr(): usize { return timesPtr_; }
export function entriesPtr(): usize { return entriesPtr_; }
export function timeStartsPtr(): usize { return timeStartsPtr_; }
export function timeEndsPtr(): usize { return timeEndsPtr_; }
export function stopPos(): i32 { return stopAt; }
export function stopWhy(): i32 { return stopReason; }
export function kindOfTime(): i32 { return timeKind; }
/** Where addKey's bytes go (at most 65 536). */
export function keyInputPtr(): usize { return KEYS + <usize>KEY_BYTES - 65536; }

/** The row's shape: `width` fields, the delimiter (one byte, no quote or line end). Roles are set by setRole, all OTHER_CELL first. */
export function layout(width: i32, delim: i32, kind: i32): i32 {
  if (width < 1 || width > MAX_FIELDS) return 0;
  fields = width;
  delimiter = delim;
  timeKind = kind;
  memory.fill(KINDS, PLAIN, 256);
  store<u8>(KINDS + 0x0a, LINE_END);
  store<u8>(KINDS + 0x0d, LINE_END);
  store<u8>(KINDS + 0x22, QUOTED);
  store<u8>(KINDS + <usize>delim, DELIMITER);
  memory.fill(ROLES, OTHER_CELL, MAX_FIELDS);
  return 1;
}

export function setRole(field: i32, role: i32): void {
  store<u8>(ROLES + <usize>field, <u8>role);
}

/** The time column's kind as the JavaScript reader knows it (0 unknown, 1 numbers, 2 dates). */
export function setTimeKind(kind: i32): void {
  timeKind = kind;
}

// @ts-ignore: decorator
@inline
function fnv(h: u32, c: u32): u32 {
  return (h ^ c) * 0x01000193;
}

function keyEntry(h: u32, s: usize, n: i32): i32 {
  const mask = <u32>SLOTS - 1;
  let slot = h & mask;
  let e = load<i32>(SLOT_TABLE + (<usize>slot << 2)) - 1;
  while (e >= 0) {
    if (load<u32>(KEY_HASH + (<usize>e << 2)) == h && load<i32>(KEY_LEN + (<usize>e << 2)) == n && memory.compare(KEYS + <usize>load<i32>(KEY_AT + (<usize>e << 2)), s, n) == 0) return e;
    slot = (slot + 1) & mask;
    e = load<i32>(SLOT_TABLE + (<usize>slot << 2)) - 1;
  }
  return -1;
}

/**
 * Registers the `n` bytes at keyInputPtr() as key entry `entry` (the
 * JavaScript key table's): 1, or 0 when the table is full (rows of that key
 * then stay with JavaScript).
 */
export function addKey(entry: i32, n: i32): i32 {
  if (entry < 0 || entry >= MAX_KEYS || keyCount >= MAX_KEYS || keyBytes + n > KEY_BYTES - 65536) return 0;
  const s = keyInputPtr();
  let h: u32 = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = fnv(h, load<u8>(s + <usize>i));
  if (keyEntry(h, s, n) >= 0) return 1;
  memory.copy(KEYS + <usize>keyBytes, s, n);
  store<u32>(KEY_HASH + (<usize>entry << 2), h);
  store<i32>(KEY_AT + (<usize>entry << 2), keyBytes);
  store<i32>(KEY_LEN + (<usize>entry << 2), n);
  keyBytes += n;
  keyCount++;
  const mask = <u32>SLOTS - 1;
  let slot = h & mask;
  while (load<i32>(SLOT_TABLE + (<usize>slot << 2)) != 0) slot = (slot + 1) & mask;
  store<i32>(SLOT_TABLE + (<usize>slot << 2), entry + 1);
  return 1;
}

/** The number read by readNumber(). */
let number: f64 = 0;

/**
 * The longest `-?D+(.D*)?` at input[s..e) into `number`: where it ends, or
 * -1 when there is none or it has more than 15 digits (readNumberAt).
 */
function readNumber(b: usize, s: i32, e: i32): i32 {
  let i = s;
  const negative = i < e && load<u8>(b + <usize>i) == 0x2d;
  if (negative) i++;
  let m: f64 = 0;
  let digits = 0;
  for (; i < e; i++, digits++) {
    const d = <i32>load<u8>(b + <usize>i) - 0x30;
    if (<u32>d > 9) break;
    m = m * 10 + <f64>d;
  }
  if (digits == 0) return -1;
  let scale = 0;
  if (i < e && load<u8>(b + <usize>i) == 0x2e) {
    for (i++; i < e; i++, scale++) {
      const d = <i32>load<u8>(b + <usize>i) - 0x30;
      if (<u32>d > 9) break;
      m = m * 10 + <f64>d;
    }
  }
  if (digits + scale > 15) return -1;
  const v = scale == 0 ? m : m / load<f64>(POW10 + (<usize>scale << 3));
  number = negative ? -v : v;
  return i;
}

// @ts-ignore: decorator
@inline
function twoDigits(b: usize, i: i32): i32 {
  const hi = <i32>load<u8>(b + <usize>i) - 0x30;
  const lo = <i32>load<u8>(b + <usize>i + 1) - 0x30;
  return <u32>hi <= 9 && <u32>lo <= 9 ? hi * 10 + lo : -1;
}

function daysInMonth(year: i32, month: i32): i32 {
  if (month == 2) return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28;
  return month == 4 || month == 6 || month == 9 || month == 11 ? 30 : 31;
}

/** Days from 1970-01-01 to year-month-day of the proleptic Gregorian calendar (what Date.UTC counts). */
function daysFromCivil(year: i32, month: i32, day: i32): i32 {
  const y = month <= 2 ? year - 1 : year;
  const era = (y >= 0 ? y : y - 399) / 400;
  const yoe = y - era * 400;
  const doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/** The date read by isoDate(). */
let date: f64 = 0;

/** input[s..e) as an ISO date of isoDateBytes' shapes into `date`: false when it is none. */
function isoDate(b: usize, s: i32, e: i32): bool {
  const n = e - s;
  if (n < 19 || n > 24 || n == 21 || n == 22) return false;
  const sep = load<u8>(b + <usize>s + 10);
  if ((sep != 0x54 && sep != 0x20) || load<u8>(b + <usize>s + 13) != 0x3a || load<u8>(b + <usize>s + 16) != 0x3a) return false;
  const hour = twoDigits(b, s + 11);
  const minute = twoDigits(b, s + 14);
  const second = twoDigits(b, s + 17);
  if (hour < 0 || minute < 0 || second < 0) return false;
  let ms = 0;
  if (n >= 23) {
    const frac = load<u8>(b + <usize>s + 19);
    const m1 = twoDigits(b, s + 20);
    const m2 = <i32>load<u8>(b + <usize>s + 22) - 0x30;
    if ((frac != 0x2e && frac != 0x2c) || m1 < 0 || <u32>m2 > 9) return false;
    ms = m1 * 10 + m2;
  }
  if ((n == 20 || n == 24) && load<u8>(b + <usize>e - 1) != 0x5a) return false;
  if (minute > 59 || second > 59 || hour > 24 || (hour == 24 && (minute > 0 || second > 0 || ms > 0))) return false;
  // The day: YYYY-MM-DD exactly (parseIsoDate of the first 10 bytes).
  const y1 = twoDigits(b, s);
  const y2 = twoDigits(b, s + 2);
  const month = twoDigits(b, s + 5);
  const day = twoDigits(b, s + 8);
  if (y1 < 0 || y2 < 0 || month < 0 || day < 0 || load<u8>(b + <usize>s + 4) != 0x2d || load<u8>(b + <usize>s + 7) != 0x2d) return false;
  const year = y1 * 100 + y2;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  // Years 0000-9999: always within a Date's range.
  date = <f64>daysFromCivil(year, month, day) * 86400000 + <f64>(hour * 3600000 + minute * 60000 + second * 1000 + ms);
  return true;
}

/**
 * Reads the usual rows of input[from..n) (n: just past the last LF of the
 * bytes the scanner may read whole), at most `budget` of them, into the row
 * buffers; returns how many. stopPos() is where the next row starts;
 * stopWhy() why it stopped.
 */
export function scan(from: i32, n: i32, budget: i32): i32 {
  const b = inputPtr_;
  const last = fields - 1;
  const limit = min(budget, rowCap);
  let rows = 0;
  let pos = from;
  stopReason = 0;
  while (pos < n) {
    if (rows >= limit) {
      stopReason = 2;
      break;
    }
    let i = pos;
    let h: u32 = 0x811c9dc5;
    let ks = 0;
    let ke = 0;
    let ts = 0;
    let te = 0;
    let value: f64 = 0;
    let time: f64 = NaN;
    let isDate = false;
    let ok = true;
    for (let field = 0; field <= last; field++) {
      const role = load<u8>(ROLES + <usize>field);
      const end = field == last ? 0x0a : delimiter;
      const s = i;
      if (role == KEY_CELL) {
        for (; i < n; i++) {
          const c = load<u8>(b + <usize>i);
          if (load<u8>(KINDS + <usize>c) != PLAIN) break;
          h = fnv(h, c);
        }
        ks = s;
        ke = i;
      } else if (role == OTHER_CELL) {
        while (i < n && load<u8>(KINDS + <usize>load<u8>(b + <usize>i)) == PLAIN) i++;
      } else {
        const after = readNumber(b, s, n);
        if (after >= 0 && after < n && <i32>load<u8>(b + <usize>after) == end) {
          i = after;
          if (role == VALUE_CELL) value = number;
          else time = number;
        } else if (role == VALUE_CELL) {
          ok = false;
          break;
        } else {
          while (i < n && load<u8>(KINDS + <usize>load<u8>(b + <usize>i)) == PLAIN) i++;
          if (!isoDate(b, s, i)) {
            ok = false;
            break;
          }
          time = date;
          isDate = true;
        }
        if (role == TIME_CELL) {
          ts = s;
          te = i;
        }
      }
      if (i >= n || <i32>load<u8>(b + <usize>i) != end) {
        ok = false;
        break;
      }
      i++;
    }
    if (!ok || i - pos > ROW_LIMIT) {
      stopReason = 1;
      break;
    }
    let entry = -1;
    if (hasKey) {
      entry = keyEntry(h, b + <usize>ks, ke - ks);
      if (entry < 0) {
        stopReason = 1;
        break;
      }
    }
    if (hasTime) {
      // BatchBuilder.timeFits: the column's kind is the first row's.
      const kind = isDate ? 2 : 1;
      if (timeKind != 0 && timeKind != kind) {
        stopReason = 1;
        break;
      }
      timeKind = kind;
    }
    const at = <usize>rows;
    store<f64>(valuesPtr_ + (at << 3), value);
    store<f64>(timesPtr_ + (at << 3), time);
    store<i32>(entriesPtr_ + (at << 2), entry);
    store<i32>(timeStartsPtr_ + (at << 2), ts);
    store<i32>(timeEndsPtr_ + (at << 2), te);
    rows++;
    pos = i;
  }
  stopAt = pos;
  return rows;
}

let hasKey = false;
let hasTime = false;

/** Whether rows have a key column and a time column (set after the roles). */
export function columns(key: i32, time: i32): void {
  hasKey = key != 0;
  hasTime = time != 0;
}
