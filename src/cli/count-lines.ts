// Finding lines in output bytes without a call per line (the demo's sink).

/**
 * The number of LF bytes in `b[from..end)`: 4 bytes at a time where they are
 * aligned (a zero-byte test on each 32-bit word XOR 0x0A0A0A0A, exact: no
 * carries between bytes).
 */
export function countNewlines(b: Uint8Array, from = 0, end = b.length): number {
  let n = 0;
  let i = from;
  // Bytes up to a 4-byte boundary of the underlying buffer.
  while (i < end && ((b.byteOffset + i) & 3) !== 0) if (b[i++] === 10) n++;
  const words = (end - i) >>> 2;
  if (words > 0) {
    const w = new Uint32Array(b.buffer, b.byteOffset + i, words);
    for (let k = 0; k < words; k++) {
      const v = w[k]! ^ 0x0a0a0a0a;
      // 0x80 in each byte of v that is 0, and nothing elsewhere.
      const zero = ~(((v & 0x7f7f7f7f) + 0x7f7f7f7f) | v | 0x7f7f7f7f);
      if (zero !== 0) n += Math.imul((zero >>> 7) & 0x01010101, 0x01010101) >>> 24;
    }
    i += words << 2;
  }
  while (i < end) if (b[i++] === 10) n++;
  return n;
}

/** Bytes counted at a time while looking for a line far ahead. */
const BLOCK = 4096;

/**
 * The position just after the k-th LF of `b` from `from` (k ≥ 1), or, when
 * there are fewer, −1 − their number. Whole blocks are counted; only the one
 * holding that LF is searched LF by LF.
 */
export function afterLines(b: Uint8Array, from: number, k: number): number {
  let pos = from;
  let left = k;
  while (pos < b.length) {
    const end = Math.min(pos + BLOCK, b.length);
    const c = countNewlines(b, pos, end);
    if (c < left) {
      left -= c;
      pos = end;
      continue;
    }
    for (;;) {
      pos = b.indexOf(10, pos) + 1;
      if (--left === 0) return pos;
    }
  }
  return -1 - (k - left);
}
