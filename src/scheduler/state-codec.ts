// Compact key states in checkpoints (issue 12): a rolling median's kernel
// state (assembly/kernels/median.ts) is 48 + 44·W bytes, but only a ring of W
// doubles and the heaps' ring slots carry information: every heap entry's
// key is the ring value's order key, entries past a heap's size are zeros,
// and the position map is the heaps' inverse. A compact record holds the
// 48 header bytes, the ring and the heap slots (48 + 8·W + 4·(nLo + nHi)
// bytes, 12 KB instead of 44 KB at W = 1000); decoding rebuilds the kernel
// state byte for byte, which the kernel's validate() then checks as for any
// restored state. The kernel, its snapshot format and its build hash are
// unchanged: only the checkpoint's group format knows about the records
// (src/scheduler/checkpoint.ts, "variable-length key records").

/** Bit 31 of a group's state size field: the group holds variable-length key records (checkpoint.ts). */
export const COMPACT_RECORDS = 0x80000000;

/** Header (common 32 bytes), then pos, nLo, nHi, pad: copied as they are. */
const FIXED_BYTES = 48;
const NLO_AT = 36;
const NHI_AT = 40;

/** Encodes and decodes one key's kernel state; `stateSize` is the raw state's. */
export interface StateCodec {
  readonly stateSize: number;
  /** The compact record of the raw state at `mem[from, from + stateSize)`, written at `out[at…]`; returns its length. */
  encode(mem: Uint8Array, from: number, out: Uint8Array, at: number): number;
  /** The length of the compact record of the raw state at `mem[from…]`. */
  encodedLength(mem: Uint8Array, from: number): number;
  /** Rebuilds the raw state of a compact record into `out[at, at + stateSize)`; a string says why the record is invalid. */
  decode(record: Uint8Array, out: Uint8Array, at: number): string | undefined;
}

/** The codec of a kernel module's state, when it has one (median and quantile: the 'median' module). */
export function stateCodecFor(module: string, window: number, stateSize: number): StateCodec | undefined {
  if (module !== 'median' || stateSize !== FIXED_BYTES + 44 * window) return undefined;
  return medianCodec(window);
}

function medianCodec(w: number): StateCodec {
  const stateSize = FIXED_BYTES + 44 * w;
  const ringBytes = 8 * w;
  const lo = FIXED_BYTES + ringBytes; // lower heap: 16-byte entries (i64 ~key, i32 slot, i32 0)
  const hi = lo + 16 * w; // upper heap (i64 key, i32 slot, i32 0)
  const map = hi + 16 * w; // i32 per ring slot
  const u32 = (bytes: Uint8Array, at: number): number => bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
  return {
    stateSize,
    encodedLength(mem, from) {
      return FIXED_BYTES + ringBytes + 4 * (u32(mem, from + NLO_AT) + u32(mem, from + NHI_AT));
    },
    encode(mem, from, out, at) {
      out.set(mem.subarray(from, from + FIXED_BYTES + ringBytes), at);
      const nLo = u32(mem, from + NLO_AT);
      const nHi = u32(mem, from + NHI_AT);
      let o = at + FIXED_BYTES + ringBytes;
      // Slot fields, 4 bytes each, copied byte-wise: the state need not be 4-byte aligned in either buffer.
      for (const [base, n] of [[from + lo, nLo], [from + hi, nHi]] as const) {
        for (let i = 0, e = base + 8; i < n; i++, e += 16, o += 4) {
          out[o] = mem[e]!;
          out[o + 1] = mem[e + 1]!;
          out[o + 2] = mem[e + 2]!;
          out[o + 3] = mem[e + 3]!;
        }
      }
      return o - at;
    },
    decode(record, out, at) {
      if (record.length < FIXED_BYTES + ringBytes) return `a compact median state of ${record.length} bytes is too short`;
      const nLo = u32(record, NLO_AT);
      const nHi = u32(record, NHI_AT);
      if (nLo < 0 || nHi < 0 || nLo + nHi > w) return `heap sizes ${nLo} and ${nHi} do not fit a window of ${w}`;
      const expected = FIXED_BYTES + ringBytes + 4 * (nLo + nHi);
      if (record.length !== expected) return `expected ${expected} bytes for heaps of ${nLo} and ${nHi}, got ${record.length}`;
      const state = out.subarray(at, at + stateSize);
      state.set(record.subarray(0, FIXED_BYTES + ringBytes));
      state.fill(0, lo, map);
      const view = new DataView(state.buffer, state.byteOffset, stateSize);
      for (let slot = 0; slot < w; slot++) view.setInt32(map + 4 * slot, -1, true);
      const slots = new DataView(record.buffer, record.byteOffset + FIXED_BYTES + ringBytes, 4 * (nLo + nHi));
      for (let h = 0, k = 0; h < 2; h++) {
        const n = h === 0 ? nLo : nHi;
        const heap = h === 0 ? lo : hi;
        for (let i = 0; i < n; i++, k++) {
          const slot = slots.getInt32(4 * k, true);
          if (slot < 0 || slot >= w) return `heap entry of ring slot ${slot}, outside a window of ${w}`;
          // The order key of the ring value (IEEE totalOrder as a signed integer); the lower heap stores its bitwise not.
          let keyLo = view.getUint32(FIXED_BYTES + 8 * slot, true);
          let keyHi = view.getUint32(FIXED_BYTES + 8 * slot + 4, true);
          if (keyHi >>> 31 === 1) (keyLo = ~keyLo), (keyHi ^= 0x7fffffff);
          if (h === 0) (keyLo = ~keyLo), (keyHi = ~keyHi);
          const e = heap + 16 * i;
          view.setUint32(e, keyLo >>> 0, true);
          view.setUint32(e + 4, keyHi >>> 0, true);
          view.setInt32(e + 8, slot, true);
          view.setInt32(map + 4 * slot, i + (h === 0 ? 0 : w), true);
        }
      }
      return undefined;
    },
  };
}
