import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../src/crc32.js';
import { createKernel, restoreKernel, SnapshotError, type Kernel, type KernelSpec } from '../src/index.js';

const SPECS: KernelSpec[] = [
  { op: 'sum', window: 7, minPeriods: 1 },
  { op: 'mean', window: 5 },
  { op: 'count', window: 4, minPeriods: 0 },
  { op: 'min', window: 6, minPeriods: 2 },
  { op: 'max', window: 3 },
  { op: 'var', window: 9, ddof: 0 },
  { op: 'std', window: 4 },
  { op: 'median', window: 5, minPeriods: 1 },
  { op: 'quantile', window: 8, q: 0.3, minPeriods: 3 },
  { op: 'ewm', span: 4, minPeriods: 2 },
];

function series(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s % 11 === 0 ? NaN : (s % 1000) / 10 - 50;
  }
  return out;
}

/** Rewrites the trailing CRC so that a deliberate change gets past the checksum. */
function resealed(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(copy.length - 4, crc32(copy, 0, copy.length - 4), true);
  return copy;
}

async function warmKernel(spec: KernelSpec): Promise<Kernel> {
  const kernel = await createKernel(spec);
  kernel.push(series(23, 7));
  return kernel;
}

async function refusal(bytes: Uint8Array, expected?: KernelSpec): Promise<SnapshotError> {
  try {
    await restoreKernel(bytes, expected);
  } catch (error) {
    if (error instanceof SnapshotError) return error;
    throw new Error(`expected a SnapshotError, got ${String(error)}`);
  }
  throw new Error('snapshot was accepted');
}

function bitsOf(a: Float64Array): string {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length * 2)).join(',');
}

describe('snapshot format', () => {
  it('keeps a mean kernel of window 50 well under 2 KiB', async () => {
    const kernel = await createKernel({ op: 'mean', window: 50 });
    kernel.push(series(500, 1));
    expect(kernel.snapshot().length).toBeLessThan(1024);
  });

  it.each(SPECS.map((spec) => [spec.op, spec] as const))('%s: restores and continues bit-identically', async (_op, spec) => {
    const kernel = await warmKernel(spec);
    const copy = await restoreKernel(kernel.snapshot(), spec);
    const next = series(40, 99);
    expect(bitsOf(copy.push(next))).toBe(bitsOf(kernel.push(next)));
    expect(copy.spec).toEqual(kernel.spec);
  });
});

describe('refused snapshots', () => {
  it.each(SPECS.map((spec) => [spec.op, spec] as const))('%s: every truncation is refused with its length', async (_op, spec) => {
    const bytes = (await warmKernel(spec)).snapshot();
    for (let length = 0; length < bytes.length; length++) {
      const error = await refusal(bytes.subarray(0, length));
      expect(error.code).toBe('BAD_LENGTH');
      expect(error.message).toMatch(new RegExp(`expected (at least )?\\d+ bytes, got ${length}$`));
    }
  });

  it.each(SPECS.map((spec) => [spec.op, spec] as const))('%s: every single-byte flip is refused', async (_op, spec) => {
    const bytes = (await warmKernel(spec)).snapshot();
    for (let i = 0; i < bytes.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const flipped = bytes.slice();
        flipped[i] = flipped[i]! ^ mask;
        const error = await refusal(flipped);
        // The magic, version and length fields are read before the checksum.
        const expected = i < 4 ? 'BAD_MAGIC' : i < 6 ? 'UNSUPPORTED_VERSION' : i >= 40 && i < 44 ? 'BAD_LENGTH' : 'CHECKSUM_MISMATCH';
        expect(error.code, `byte ${i} ^ ${mask}`).toBe(expected);
      }
    }
  });

  it('names a checksum mismatch', async () => {
    const bytes = (await warmKernel({ op: 'sum', window: 3 })).snapshot();
    bytes[50] = bytes[50]! ^ 1;
    expect((await refusal(bytes)).message).toMatch(/^checksum mismatch/);
  });

  it('refuses trailing bytes', async () => {
    const bytes = (await warmKernel({ op: 'sum', window: 3 })).snapshot();
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    const error = await refusal(longer);
    expect(error.code).toBe('BAD_LENGTH');
    expect(error.message).toBe(`snapshot has trailing bytes: expected ${bytes.length} bytes, got ${bytes.length + 1}`);
  });

  it('refuses a snapshot from another build', async () => {
    const bytes = (await warmKernel({ op: 'var', window: 5 })).snapshot();
    bytes[8] = bytes[8]! ^ 0x5a;
    const error = await refusal(resealed(bytes));
    expect(error.code).toBe('OTHER_BUILD');
    expect(error.message).toMatch(/^snapshot from another build of kernel 'var'/);
  });

  it('refuses a snapshot of another op or other parameters when one is expected', async () => {
    const bytes = (await warmKernel({ op: 'mean', window: 5 })).snapshot();
    const otherOp = await refusal(bytes, { op: 'sum', window: 5 });
    expect(otherOp.code).toBe('OP_MISMATCH');
    expect(otherOp.message).toBe(`snapshot is of op 'mean', expected 'sum'`);
    const otherWindow = await refusal(bytes, { op: 'mean', window: 6 });
    expect(otherWindow.code).toBe('OP_MISMATCH');
    expect(otherWindow.message).toMatch(/"window":5.*expected.*"window":6/);
  });

  it('refuses a different op code or invalid parameters under a valid checksum', async () => {
    const bytes = (await warmKernel({ op: 'mean', window: 5 })).snapshot();
    const badOp = bytes.slice();
    badOp[7] = 9;
    expect((await refusal(resealed(badOp))).code).toBe('BAD_PARAMETERS');
    const badMinPeriods = bytes.slice();
    new DataView(badMinPeriods.buffer).setUint32(20, 6, true); // minPeriods > window
    expect((await refusal(resealed(badMinPeriods))).code).toBe('BAD_PARAMETERS');
    const otherWindow = bytes.slice();
    new DataView(otherWindow.buffer).setUint32(16, 6, true); // valid parameters, but the state is for window 5
    const error = await refusal(resealed(otherWindow));
    expect(error.code).toBe('BAD_STATE');
    expect(error.message).toMatch(/expected \d+ bytes, got \d+/);
  });

  it('refuses a small forged snapshot that claims a huge window before allocating for it', async () => {
    const bytes = (await warmKernel({ op: 'median', window: 5 })).snapshot();
    const view = new DataView(bytes.buffer);
    view.setUint32(16, 16_777_216, true); // window 2^24, with a state of a few hundred bytes
    view.setUint32(20, 1, true);
    const error = await refusal(resealed(bytes));
    expect(error.code).toBe('BAD_STATE');
    expect(error.message).toBe(`snapshot state: expected at least ${16_777_216 * 8} bytes for a window of 16777216, got ${bytes.length - 48}`);
  });

  it('refuses a forged state whose indices are out of range, under a valid checksum', async () => {
    const bytes = (await warmKernel({ op: 'sum', window: 5 })).snapshot();
    const view = new DataView(bytes.buffer);
    view.setInt32(44 + 32, 1_000_000, true); // the ring position
    const error = await refusal(resealed(bytes));
    expect(error.code).toBe('BAD_STATE');
  });

  it('rejects a value that is not bytes with a TypeError', async () => {
    await expect(restoreKernel('abc' as unknown as Uint8Array)).rejects.toThrow(TypeError);
  });
});

describe('fuzzing restoreKernel', () => {
  it('random bytes: a SnapshotError every time, and a bystander kernel unharmed', async () => {
    const bystander = await createKernel({ op: 'std', window: 4 });
    const control = await createKernel({ op: 'std', window: 4 });
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        await expect(restoreKernel(bytes)).rejects.toBeInstanceOf(SnapshotError);
        const batch = series(5, bytes.length);
        expect(bitsOf(bystander.push(batch))).toBe(bitsOf(control.push(batch)));
      }),
      { numRuns: 300 },
    );
  });

  it.each(SPECS.map((spec) => [spec.op, spec] as const))(
    '%s: mutated and resealed snapshots are refused or restore a working kernel, never trap',
    async (_op, spec) => {
      const original = (await warmKernel(spec)).snapshot();
      const bystander = await warmKernel(spec);
      const control = await warmKernel(spec);
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.nat(original.length - 5), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }),
          async (mutations) => {
            const bytes = original.slice();
            for (const [at, mask] of mutations) bytes[at] = bytes[at]! ^ mask;
            let restored: Kernel | undefined;
            try {
              restored = await restoreKernel(resealed(bytes));
            } catch (error) {
              expect(error).toBeInstanceOf(SnapshotError);
            }
            // A mutation of plain numeric state can be a valid state: it must then run.
            if (restored !== undefined) expect(restored.push(series(30, 3)).length).toBe(30);
            const batch = series(6, mutations.length);
            expect(bitsOf(bystander.push(batch))).toBe(bitsOf(control.push(batch)));
          },
        ),
        { numRuns: 200 },
      );
    },
  );
});
