// The baseline of bench/cli.ts: a naive plain-JS program doing the CLI's job
// for `run IN --value v --key k --op mean --window W -o OUT` on a `t,k,v` CSV
// (readline, split, parseFloat, a per-key ring buffer), writing the same
// columns the CLI writes: k, v (as String(number)), mean (NaN until full).
// Usage: node bench/naive-mean.mjs IN OUT [W]
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
const [, , input, output, W = '100'] = process.argv;
const w = Number(W);
const rl = createInterface({ input: createReadStream(input), crlfDelay: Infinity });
const out = createWriteStream(output);
const state = new Map();
let header = true;
let buf = '';
for await (const line of rl) {
  if (header) { header = false; buf += 'k,v,mean\n'; continue; }
  const [, k, vs] = line.split(',');
  const v = parseFloat(vs);
  let s = state.get(k);
  if (!s) { s = { ring: new Float64Array(w), n: 0, i: 0, sum: 0 }; state.set(k, s); }
  if (s.n === w) s.sum -= s.ring[s.i]; else s.n++;
  s.ring[s.i] = v; s.sum += v; s.i = (s.i + 1) % w;
  buf += `${k},${v},${s.n === w ? s.sum / w : NaN}\n`;
  if (buf.length > 65536) { if (!out.write(buf)) await new Promise((r) => out.once('drain', r)); buf = ''; }
}
out.end(buf);
