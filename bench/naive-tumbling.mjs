// The baseline of bench/cli.ts for window records: a naive plain-JS program
// doing the CLI's job for `run IN --time t --key k --value v --op mean
// --tumbling SIZE -o OUT` on a `t,k,v` CSV in time order (readline, split,
// parseFloat, a per-key Map of running sums), writing the same columns:
// k, window_start, window_end, mean (a key's window is written when the key's
// next row starts a later window, the rest at the end).
// Usage: node bench/naive-tumbling.mjs IN OUT [SIZE_MS]
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
const [, , input, output, SIZE = '60000'] = process.argv;
const size = Number(SIZE);
const rl = createInterface({ input: createReadStream(input), crlfDelay: Infinity });
const out = createWriteStream(output);
const state = new Map();
let header = true;
let buf = 'k,window_start,window_end,mean\n';
const emit = (k, s) => `${k},${s.start},${s.start + size},${s.n > 0 ? s.sum / s.n : NaN}\n`;
for await (const line of rl) {
  if (header) { header = false; continue; }
  const [ts, k, vs] = line.split(',');
  const t = parseFloat(ts);
  const v = parseFloat(vs);
  const start = t - (((t % size) + size) % size);
  let s = state.get(k);
  if (!s) { s = { start, sum: 0, n: 0 }; state.set(k, s); }
  else if (start !== s.start) { buf += emit(k, s); s.start = start; s.sum = 0; s.n = 0; }
  if (!Number.isNaN(v)) { s.sum += v; s.n++; }
  if (buf.length > 65536) { if (!out.write(buf)) await new Promise((r) => out.once('drain', r)); buf = ''; }
}
for (const [k, s] of state) buf += emit(k, s);
out.end(buf);
