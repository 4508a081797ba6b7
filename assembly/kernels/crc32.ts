// CRC-32 (IEEE 802.3, reflected polynomial 0xedb88320, as zlib and PNG) by
// slicing-by-16: sixteen table lookups per 16 bytes, with no dependency of
// one lookup on another inside a block, so the loads overlap. The same
// values as src/crc32.ts's JS fallback.
//
// Not a rolling kernel: its own small ABI (inputPtr, update) used by
// src/crc32.ts, which copies the bytes into the input buffer a chunk at a
// time (a fixed 64 KiB: the memory never grows).

/** Bytes per update() call. */
const CHUNK: i32 = 65536;

const TABLES: usize = memory.data(16 * 256 * 4, 16);
const INPUT: usize = memory.data(CHUNK, 16);

function init(): void {
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    store<u32>(TABLES + (n << 2), c);
  }
  for (let n: u32 = 0; n < 256; n++) {
    let c = load<u32>(TABLES + (n << 2));
    for (let s: u32 = 1; s < 16; s++) {
      c = load<u32>(TABLES + ((c & 0xff) << 2)) ^ (c >>> 8);
      store<u32>(TABLES + (((s << 8) + n) << 2), c);
    }
  }
}
init();

/** Where to copy the bytes (at most {@link chunkBytes} per call). */
export function inputPtr(): usize {
  return INPUT;
}

export function chunkBytes(): i32 {
  return CHUNK;
}

/**
 * The running CRC after `length` more bytes of the input buffer, from the
 * running CRC `crc` (pre- and post-inverted by the caller: 0xffffffff to start).
 */
export function update(crc: u32, length: i32): u32 {
  let c = crc;
  let p = INPUT;
  const blocks = INPUT + (<usize>(length >>> 4) << 4);
  while (p < blocks) {
    const a = c ^ load<u32>(p);
    const b = load<u32>(p, 4);
    const d = load<u32>(p, 8);
    const e = load<u32>(p, 12);
    c =
      load<u32>((a << 2) & 0x3fc, TABLES + 15 * 1024) ^ load<u32>((a >>> 6) & 0x3fc, TABLES + 14 * 1024) ^
      load<u32>((a >>> 14) & 0x3fc, TABLES + 13 * 1024) ^ load<u32>((a >>> 22) & 0x3fc, TABLES + 12 * 1024) ^
      load<u32>((b << 2) & 0x3fc, TABLES + 11 * 1024) ^ load<u32>((b >>> 6) & 0x3fc, TABLES + 10 * 1024) ^
      load<u32>((b >>> 14) & 0x3fc, TABLES + 9 * 1024) ^ load<u32>((b >>> 22) & 0x3fc, TABLES + 8 * 1024) ^
      load<u32>((d << 2) & 0x3fc, TABLES + 7 * 1024) ^ load<u32>((d >>> 6) & 0x3fc, TABLES + 6 * 1024) ^
      load<u32>((d >>> 14) & 0x3fc, TABLES + 5 * 1024) ^ load<u32>((d >>> 22) & 0x3fc, TABLES + 4 * 1024) ^
      load<u32>((e << 2) & 0x3fc, TABLES + 3 * 1024) ^ load<u32>((e >>> 6) & 0x3fc, TABLES + 2 * 1024) ^
      load<u32>((e >>> 14) & 0x3fc, TABLES + 1024) ^ load<u32>((e >>> 22) & 0x3fc, TABLES);
    p += 16;
  }
  const end = INPUT + <usize>length;
  while (p < end) {
    c = load<u32>(((c ^ load<u8>(p)) << 2) & 0x3fc, TABLES) ^ (c >>> 8);
    p++;
  }
  return c;
}
