// `node dist/bench/ndjson.js`: NDJSON input, the fast path (flat objects read
// by a scanner) against the general path (JSON.parse per line), on 500 000
// lines of `{"t":…,"k":"k…","v":…}`: CPU time per row (process.cpuUsage,
// which holds on a loaded machine) and wall, the fastest of 3 runs each,
// measured in one run.
import os from 'node:os';
import { ndjsonBatches } from '../src/connectors/ndjson.js';

const ROWS = 500_000;
let s = 0x9e3779b9;
const rand = (): number => {
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  return (s >>> 0) / 2 ** 32;
};
const lines: string[] = [];
for (let i = 0; i < ROWS; i++) lines.push(`{"t":${i},"k":"k${Math.floor(rand() * 1000)}","v":${(rand() * 1000).toFixed(3)}}\n`);
const bytes = new TextEncoder().encode(lines.join(''));

async function run(fast: boolean): Promise<{ cpu: number; wall: number }> {
  async function* chunks(): AsyncIterable<Uint8Array> {
    for (let at = 0; at < bytes.length; at += 1 << 16) yield bytes.subarray(at, at + (1 << 16));
  }
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let rows = 0;
  for await (const b of ndjsonBatches(() => chunks(), false, { value: 'v', time: 't', key: 'k' }, fast)) rows += b.length;
  if (rows !== ROWS) throw new Error(`read ${rows} rows`);
  const c = process.cpuUsage(c0);
  return { cpu: ((c.user + c.system) * 1e3) / ROWS, wall: ((performance.now() - t0) * 1e6) / ROWS };
}

const best = async (fast: boolean): Promise<{ cpu: number; wall: number }> => {
  await run(fast); // warm-up
  const rs = [await run(fast), await run(fast), await run(fast)];
  return { cpu: Math.min(...rs.map((r) => r.cpu)), wall: Math.min(...rs.map((r) => r.wall)) };
};
const general = await best(false);
const fast = await best(true);
console.log(`NDJSON input, ${ROWS} rows, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`general (JSON.parse): CPU ${general.cpu.toFixed(0)} ns/row, wall ${general.wall.toFixed(0)} ns/row`);
console.log(`fast path:            CPU ${fast.cpu.toFixed(0)} ns/row, wall ${fast.wall.toFixed(0)} ns/row; ${(general.cpu / fast.cpu).toFixed(2)}× (CPU)`);
