// Deterministic test data shared by the page (page.js) and the Node side of
// test/scheduler-browser.test.ts.

/** mulberry32, as in test/scheduler-helpers.ts. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic test data: values with NaN and repeats, `distinct` keys. */
export function makeData(seed, n, distinct) {
  const rand = prng(seed);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = rand();
    values[i] = r < 0.03 ? NaN : r < 0.08 ? 3 : Math.round((rand() - 0.5) * 2000) / 8;
  }
  const ids = Array.from({ length: distinct }, () => Math.floor(rand() * 0xffffffff));
  const keys = new Uint32Array(n);
  for (let i = 0; i < n; i++) keys[i] = ids[Math.floor(rand() * distinct)];
  return { values, keys };
}
