// `streamkernel demo`: the main job (`streamkernel run`, the same code path)
// on a generated multi-sensor series, with a readable summary.
// Deterministic: the same data and sample results on every run.

import { Readable, Writable } from 'node:stream';
import { LineCapture } from './line-capture.js';
import { Output } from './output.js';
import { group, rateText } from './progress.js';
import { parseRun, type RunCommand } from './run-args.js';
import { runJob, type RunStats } from './run.js';

export interface DemoOptions {
  /** Readings per sensor. */
  rows: number;
  batchSize: number;
}

const SENSORS = ['boiler', 'intake', 'roof', 'server-room'] as const;
/** One reading per second per sensor. */
const STEP_MS = 1000;
const START_MS = Date.UTC(2024, 4, 1);
const WINDOW = '1m';
const BOUND = '5s';
/** Readings delivered late on purpose: within the bound (put back in order) … */
const DELAYED_SHARE = 0.02;
/** … and far beyond it (reported, skipped). */
const LOST_SHARE = 0.0002;
const OPS = ['mean', 'std', 'min', 'max', 'median'] as const;

/** mulberry32: a small, fast, deterministic PRNG giving uniforms in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A generated reading, in delivery order. */
interface Reading {
  ts: number;
  sensor: number;
  value: number;
  /** Position in delivery order, before reordering (a delayed reading moves later). */
  order: number;
  kind: 'normal' | 'spike' | 'gap' | 'delayed' | 'lost';
}

interface Sample {
  /** Index in delivery order. */
  at: number;
  note: string;
}

/** The series: 4 sensors of a noisy daily-ish sine with a slow drift, NaN gaps, spikes, late deliveries. */
function generate(perSensor: number): { readings: Reading[]; gaps: number; spikes: number } {
  const random = mulberry32(20240501);
  const gaussian = (): number => {
    const u = 1 - random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  const readings: Reading[] = [];
  let gaps = 0;
  let spikes = 0;
  for (let i = 0; i < perSensor; i++) {
    for (let s = 0; s < SENSORS.length; s++) {
      const ts = START_MS + i * STEP_MS + s * 7; // sensors report a few ms apart
      const base = 18 + 6 * s + (2 + s) * Math.sin((2 * Math.PI * i) / (3600 + 900 * s) + s);
      const drift = ((s % 2 === 0 ? 1 : -1) * 4 * i) / perSensor;
      let value = base + drift + (0.2 + 0.1 * s) * gaussian();
      let kind: Reading['kind'] = 'normal';
      // A NaN gap per sensor (an outage of 2 to 5 minutes) at a sensor-specific place.
      const gapStart = Math.floor(perSensor * (0.2 + 0.15 * s));
      if (i >= gapStart && i < gapStart + 120 + 60 * s) {
        value = NaN;
        kind = 'gap';
        gaps++;
      } else if (random() < 0.001) {
        value += (random() < 0.5 ? -1 : 1) * (15 + 10 * random());
        kind = 'spike';
        spikes++;
      }
      const order = readings.length;
      readings.push({ ts, sensor: s, value, order, kind });
    }
  }
  // Delivery: some readings arrive late, within 5 s (up to 16 rows later) or far beyond it (200 rows, 50 s).
  const position = readings.map((r, i) => {
    if (i < 8 || r.kind === 'gap') return i;
    const u = random();
    if (u < LOST_SHARE) {
      r.kind = 'lost';
      return i + 200.5;
    }
    if (u < LOST_SHARE + DELAYED_SHARE) {
      if (r.kind === 'normal') r.kind = 'delayed';
      return i + 1.5 + Math.floor(random() * 15);
    }
    return i;
  });
  const delivered = readings.map((_, i) => i).sort((a, b) => (position[a] as number) - (position[b] as number) || a - b);
  return { readings: delivered.map((i) => readings[i] as Reading), gaps, spikes };
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const cell = (text: string): string => {
  const x = Number(text);
  return text === '' || text === 'NaN' ? 'NaN' : Number.isFinite(x) ? x.toFixed(2) : text;
};

/** The demo's input as CSV bytes, and what the summary needs of the readings (which are not kept: the job runs without them in memory). */
interface DemoInput {
  /** The CSV in 64 KiB pieces, as bytes (what stdin delivers). */
  chunks: Buffer[];
  bytes: number;
  total: number;
  gaps: number;
  spikes: number;
  late: number;
  reordered: number;
  /** Each sample and its output row (late rows are left out of the output). */
  samples: { note: string; row: number }[];
}

function demoInput(perSensor: number): DemoInput {
  const { readings, gaps, spikes } = generate(perSensor);

  // What the job will see: per sensor, rows behind the latest reading (put in order) and rows beyond the bound (late).
  const boundMs = 5000;
  const latest = new Map<number, number>();
  const late = new Set<number>();
  let reordered = 0;
  readings.forEach((r, i) => {
    const m = latest.get(r.sensor);
    if (m !== undefined && r.ts < m - boundMs) late.add(i);
    else if (m !== undefined && r.ts < m) reordered++;
    else latest.set(r.sensor, r.ts);
  });

  // The samples to show: by delivery index, then mapped to output rows (late rows are left out of the output).
  const find = (from: number, ok: (r: Reading, i: number) => boolean): number => {
    for (let i = from; i < readings.length; i++) if (ok(readings[i] as Reading, i)) return i;
    return -1;
  };
  const samples: Sample[] = [
    { at: 0, note: 'first reading: a window of one' },
    { at: find(Math.floor(readings.length * 0.1), (r) => r.kind === 'spike'), note: 'a spike: max jumps, median holds' },
    { at: find(0, (r, i) => r.kind === 'gap' && i > 0 && (readings[i - 200] as Reading | undefined)?.kind === 'gap' && r.sensor === (readings[i - 200] as Reading).sensor), note: 'in a NaN gap: windows use the rest' },
    { at: find(Math.floor(readings.length * 0.5), (r, i) => r.kind === 'delayed' && !late.has(i) && r.ts < (readings[i - 1] as Reading).ts - 1000), note: 'arrived late, put in time order' },
    { at: readings.length - 1, note: 'last reading' },
  ].filter((s) => s.at >= 0);
  const lateBefore = (at: number): number => {
    let n = 0;
    for (const i of late) if (i < at) n++;
    return n;
  };

  // The input, as CSV in 64 KiB pieces.
  const chunks: Buffer[] = [Buffer.from('ts,sensor,temp\n')];
  let piece = '';
  for (const r of readings) {
    piece += `${new Date(r.ts).toISOString()},${SENSORS[r.sensor]},${Number.isNaN(r.value) ? '' : r.value.toFixed(3)}\n`;
    if (piece.length >= 1 << 16) {
      chunks.push(Buffer.from(piece, 'latin1'));
      piece = '';
    }
  }
  chunks.push(Buffer.from(piece, 'latin1'));
  return {
    chunks,
    bytes: chunks.reduce((n, c) => n + c.length, 0),
    total: readings.length,
    gaps,
    spikes,
    late: late.size,
    reordered,
    samples: samples.map((s) => ({ note: s.note, row: s.at - lateBefore(s.at) })),
  };
}

/** Runs the demo; resolves with the text to print. */
export async function runDemo(options: DemoOptions): Promise<string> {
  const t0 = performance.now();
  const { chunks, bytes, total, gaps, spikes, late, reordered, samples } = demoInput(options.rows);
  const generatedMs = performance.now() - t0;

  // The main job, exactly as `streamkernel run` runs it.
  const argv = [
    '--value', 'temp', '--time', 'ts', '--key', 'sensor',
    ...OPS.flatMap((op) => ['--op', op]),
    '--window', WINDOW, '--max-out-of-order', BOUND, '--on-error', 'skip', '--batch-size', String(options.batchSize), '--quiet',
  ];
  const cmd = parseRun(argv) as RunCommand;
  const capture = new LineCapture(new Set(samples.map((s) => s.row)));
  const errors: string[] = [];
  const stderr = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      errors.push(chunk.toString());
      done();
    },
  });
  const stats: RunStats = { rows: 0, skipped: 0, late: 0, reordered: 0 };
  const t1 = performance.now();
  // CPU time too: on a shared machine rows/s swings with the load, CPU per row much less.
  const cpu0 = process.cpuUsage();
  const code = await runJob(cmd, { stdin: Readable.from(chunks), out: new Output(capture), stderr, stderrIsTTY: false }, stats);
  const runMs = performance.now() - t1;
  const cpu = process.cpuUsage(cpu0);
  const cpuPerRowUs = (cpu.user + cpu.system) / total;
  if (code !== 0) throw new Error(`the demo's job failed (exit ${code}): ${errors.join('').trim()}`);
  if (stats.late !== late || stats.reordered !== reordered) {
    throw new Error(`the demo's job saw ${stats.late} late and ${stats.reordered} reordered rows, expected ${late} and ${reordered}`);
  }

  const lines: string[] = [];
  lines.push('streamkernel demo: the main job (streamkernel run) on a generated multi-sensor series');
  lines.push('');
  lines.push(`  data    ${SENSORS.length} sensors × ${group(options.rows)} readings = ${group(total)} rows of CSV (${(bytes / 1048576).toFixed(1)} MiB), one reading per second per sensor`);
  lines.push(`          noisy sine + slow drift, ${group(gaps)} NaN readings in ${SENSORS.length} outages, ${group(spikes)} spikes, some readings delivered late`);
  lines.push(`  job     streamkernel run data.csv ${argv.filter((a) => a !== '--quiet' && a !== '--batch-size' && a !== String(options.batchSize)).join(' ')}`);
  lines.push(`          ${OPS.length} ops (${OPS.join(', ')}) over ${WINDOW} time windows per sensor`);
  lines.push('');
  lines.push(`  result  ${group(stats.rows)} rows out in ${(runMs / 1000).toFixed(2)} s: ${rateText(total / (runMs / 1000))}, ${cpuPerRowUs.toFixed(2)} µs of CPU per row (data generated in ${(generatedMs / 1000).toFixed(2)} s)`);
  lines.push(`          ${group(stats.reordered)} out-of-order rows put back in time order (at most ${BOUND} late); output stays in input order`);
  lines.push(`          ${group(stats.late)} row${stats.late === 1 ? '' : 's'} more than ${BOUND} late: reported and skipped, never silently dropped (--on-error fail stops at the first)`);
  lines.push('');
  lines.push('  sample results');
  const header = ['ts', 'sensor', 'temp', ...OPS];
  const widths = [24, 12, 8, ...OPS.map(() => 8)];
  lines.push(`  ${header.map((h, i) => pad(h, widths[i] as number)).join(' ')}  note`);
  for (const s of samples) {
    const text = capture.lines.get(s.row);
    if (text === undefined) continue;
    const fields = text.split(',');
    const shown = fields.map((f, i) => (i < 2 ? f : cell(f)));
    lines.push(`  ${shown.map((f, i) => pad(f, widths[i] ?? 8)).join(' ')}  ${s.note}`);
  }
  lines.push('');
  lines.push('  Try it on your data: streamkernel run FILE --value COL --time COL --key COL --op mean --window 1m (see streamkernel run --help)');
  return `${lines.join('\n')}\n`;
}
