// `node dist/bench/format.js`: ns per number of the CLI's number formatting
// (issue 13), the WASM formatter (src/connectors/number-rows.ts: formatting
// plus the copy of its bytes out of WASM memory) against String(x) copied
// into a byte buffer (what the CSV writer did per number before), on
// rolling-mean-like doubles (16–17 significant digits) and on short decimals
// (3 decimals, as read from a CSV). Wall and CPU time (process.cpuUsage,
// which holds on a loaded machine), fastest sample of each, in one run.
import os from 'node:os';
import { numberRows, ROWS_PER_CALL } from '../src/connectors/number-rows.js';
import { rowsPerSecond } from './measure.js';

const N = ROWS_PER_CALL * 32;

function seeded(kind: 'means' | 'decimals'): Float64Array {
  let s = 0x9e3779b9;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const xs = new Float64Array(N);
  // A mean of 100 values with 3 decimals is a full double; the values themselves have 3 decimals.
  for (let i = 0; i < N; i++) xs[i] = kind === 'means' ? (next() * 1e8 + next() * 1e5) / 1e5 / 3 : Math.round(next() * 1e6) / 1e3;
  return xs;
}

const out = new Uint8Array(N * 26);

/** String(x), its chars copied into bytes: the former per-number path. */
function viaString(xs: Float64Array): number {
  let o = 0;
  for (let i = 0; i < xs.length; i++) {
    const t = String(xs[i]);
    for (let j = 0; j < t.length; j++) out[o++] = t.charCodeAt(j);
    out[o++] = 0x0a;
  }
  return o;
}

const rows = numberRows();
if (rows === undefined) throw new Error('the WASM formatter is unavailable');

/** The WASM formatter, its bytes copied out as the CSV writer does. */
function viaWasm(xs: Float64Array): number {
  rows!.layout(['', '\n'], false);
  let o = 0;
  for (let from = 0; from < xs.length; from += ROWS_PER_CALL) {
    const { text, ends } = rows!.format([xs], from, ROWS_PER_CALL);
    const end = ends[ROWS_PER_CALL - 1]!;
    out.set(text.subarray(0, end), o);
    o += end;
  }
  return o;
}

console.log(`numbers per pass ${N}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log('values     clock  String(x)+copy  WASM  speed-up');
for (const kind of ['means', 'decimals'] as const) {
  const xs = seeded(kind);
  for (const clock of ['wall', 'cpu'] as const) {
    const rate = await rowsPerSecond(N, { string: () => viaString(xs), wasm: () => viaWasm(xs) }, { time: 1500, warmupTime: 300, statistic: 'fastest', clock });
    const ns = (name: string): number => 1e3 / (rate[name] as number);
    console.log(
      `${kind.padEnd(10)} ${clock.padEnd(5)}  ${ns('string').toFixed(1).padStart(8)} ns  ${ns('wasm').toFixed(1).padStart(5)} ns  ${(ns('string') / ns('wasm')).toFixed(1)}×`,
    );
  }
}
