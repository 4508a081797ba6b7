// CRC-32 (IEEE 802.3, as in zlib and PNG), by slicing-by-8: eight table
// lookups per 8 bytes instead of one per byte, several times faster on the
// multi-megabyte checkpoints of keyed jobs. It detects every single-byte
// change and every burst of up to 32 bits, which is what a snapshot or
// checkpoint checksum is for; it is not a defence against a forger (restore
// validates the state itself for that). Reads words little-endian, as every
// platform that runs WebAssembly is.
const TABLES = /* @__PURE__ */ (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let s = 1; s < 8; s++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[s * 256 + n] = c >>> 0;
    }
  }
  return t;
})();

/** CRC-32 of `bytes[start, end)`. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const t = TABLES;
  let c = 0xffffffff;
  let i = start;
  for (; i < end && ((bytes.byteOffset + i) & 3) !== 0; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  const aligned = ((bytes.byteOffset + i) & 3) === 0;
  const words = aligned ? new Uint32Array(bytes.buffer, bytes.byteOffset + i, ((end - i) >>> 3) << 1) : new Uint32Array(0);
  for (let w = 0; w < words.length; w += 2) {
    const a = (c ^ words[w]!) >>> 0;
    const b = words[w + 1]!;
    c =
      t[1792 + (a & 0xff)]! ^ t[1536 + ((a >>> 8) & 0xff)]! ^ t[1280 + ((a >>> 16) & 0xff)]! ^ t[1024 + (a >>> 24)]! ^
      t[768 + (b & 0xff)]! ^ t[512 + ((b >>> 8) & 0xff)]! ^ t[256 + ((b >>> 16) & 0xff)]! ^ t[b >>> 24]!;
  }
  i += words.length * 4;
  for (; i < end; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
