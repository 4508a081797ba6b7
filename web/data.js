// A deterministic generated series: a noisy sine with a slow drift, NaN gaps,
// spikes and one +Infinity glitch (the same on every load, for the tests).

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateSeries(n, seed = 20240601) {
  const random = mulberry32(seed);
  const x = new Float64Array(n);
  const period = Math.max(1000, n / 6);
  let walk = 0;
  for (let i = 0; i < n; i++) {
    walk += (random() - 0.5) * 0.05;
    let v = 20 + 5 * Math.sin((2 * Math.PI * i) / period) + walk + (random() + random() + random() - 1.5) * 1.2;
    if (random() < 0.0001) v += (random() < 0.5 ? -1 : 1) * 12;
    x[i] = v;
  }
  const gap = Math.floor(n * 0.42);
  x.fill(NaN, gap, Math.min(n, gap + Math.max(50, Math.floor(n / 200))));
  x[Math.floor(n * 0.8)] = Infinity;
  return x;
}
