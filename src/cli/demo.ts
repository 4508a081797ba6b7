// `streamkernel demo`: built-in sample data through several kernels, with a
// readable summary. Deterministic: the same data and outputs on every run.

import type { Kernel, KernelSpec } from '../types.js';

export interface DemoOptions {
  /** Rows per sensor. */
  rows: number;
  batchSize: number;
}

type CreateKernel = (spec: KernelSpec) => Promise<Kernel>;

const SENSORS = 4;
const WINDOW = 500;
const MIN_PERIODS = 100;
const EWM_SPAN = 200;

const OPS: readonly { label: string; column: string; spec: KernelSpec }[] = [
  { label: `rolling mean   (window ${WINDOW})`, column: 'mean', spec: { op: 'mean', window: WINDOW, minPeriods: MIN_PERIODS } },
  { label: `rolling std    (window ${WINDOW})`, column: 'std', spec: { op: 'std', window: WINDOW, minPeriods: MIN_PERIODS } },
  { label: `rolling min    (window ${WINDOW})`, column: 'min', spec: { op: 'min', window: WINDOW, minPeriods: MIN_PERIODS } },
  { label: `rolling max    (window ${WINDOW})`, column: 'max', spec: { op: 'max', window: WINDOW, minPeriods: MIN_PERIODS } },
  { label: `rolling median (window ${WINDOW})`, column: 'median', spec: { op: 'median', window: WINDOW, minPeriods: MIN_PERIODS } },
  { label: `ewm mean       (span ${EWM_SPAN})`, column: 'ewm', spec: { op: 'ewm', span: EWM_SPAN } },
];

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

/** The layout of one sensor's series: where its gaps, spikes and glitch are. */
interface SensorPlan {
  base: number;
  amplitude: number;
  period: number;
  phase: number;
  /** Total drift over the whole series. */
  drift: number;
  noise: number;
  gaps: readonly (readonly [number, number])[];
  spikes: ReadonlySet<number>;
  glitch: number;
}

function planSensor(s: number, rows: number): SensorPlan {
  const gaps: [number, number][] = [];
  if (s === 1) gaps.push([Math.floor(rows * 0.3), Math.floor(rows * 0.3) + 400]);
  if (s === 2) gaps.push([Math.floor(rows * 0.5), Math.floor(rows * 0.5) + 1600]);
  if (s === 3) gaps.push([Math.floor(rows * 0.4), Math.floor(rows * 0.4) + 600]);
  const spikes = new Set<number>();
  const tenth = Math.floor(rows / 10);
  for (let k = 0; k < 10; k++) spikes.add(k * tenth + ((1234 * s + 777) % tenth));
  return {
    base: 20 + 5 * s,
    amplitude: 2 + s,
    period: 5000 + 2500 * s,
    phase: 0.7 * s,
    drift: (s % 2 === 0 ? 1 : -1) * 3 * (s + 1),
    noise: 0.3 + 0.1 * s,
    gaps,
    spikes,
    glitch: s === 3 ? Math.floor(rows * 0.9) : -1,
  };
}

/** Generates one sensor's series batch by batch; state carries across calls. */
class SensorSource {
  private readonly random: () => number;
  private spare = NaN;
  private spikeSign = 1;
  nanRows = 0;
  spikeRows = 0;
  infRows = 0;

  constructor(
    readonly plan: SensorPlan,
    private readonly rows: number,
    seed: number,
  ) {
    this.random = mulberry32(seed);
  }

  /** A standard normal deviate (Box–Muller, both halves used). */
  private gaussian(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = NaN;
      return v;
    }
    const u = 1 - this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  fill(out: Float64Array, first: number, n: number): void {
    const p = this.plan;
    for (let j = 0; j < n; j++) {
      const i = first + j;
      let x =
        p.base +
        p.amplitude * Math.sin((2 * Math.PI * i) / p.period + p.phase) +
        (p.drift * i) / this.rows +
        p.noise * this.gaussian();
      if (p.spikes.has(i)) {
        x += this.spikeSign * 10 * p.amplitude;
        this.spikeSign = -this.spikeSign;
        this.spikeRows++;
      }
      for (const [a, b] of p.gaps) {
        if (i >= a && i < b) x = NaN;
      }
      if (i === p.glitch) x = Infinity;
      if (Number.isNaN(x)) this.nanRows++;
      else if (!Number.isFinite(x)) this.infRows++;
      out[j] = x;
    }
  }
}

const group = (n: number): string => Math.round(n).toLocaleString('en-US');

function rate(rows: number, ms: number): string {
  if (ms <= 0) return '—';
  const perSecond = (rows / ms) * 1000;
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(1)} M/s` : `${group(perSecond)} /s`;
}

function cell(x: number): string {
  return Number.isFinite(x) ? x.toFixed(3) : String(x);
}

/** Runs the demo and returns its report as text. */
export async function runDemo(createKernel: CreateKernel, options: DemoOptions): Promise<string> {
  const { rows, batchSize } = options;
  const input = new Float64Array(batchSize);
  const out = new Float64Array(batchSize);
  const opMs = OPS.map(() => 0);
  let setupMs = 0;
  let nanRows = 0;
  let spikeRows = 0;
  let infRows = 0;

  // The sample table: sensor 3 (it has a gap, spikes and the glitch).
  const sampleSensor = 3;
  const plan3 = planSensor(sampleSensor, rows);
  const gap3 = plan3.gaps[0] ?? [0, 0];
  const spike3 = [...plan3.spikes].sort((a, b) => a - b)[1] ?? 0;
  const sampleRows = [
    [MIN_PERIODS - 2, 'warm-up: < min periods'],
    [WINDOW - 1, 'first full window'],
    [spike3, 'spike'],
    [gap3[0] + 50, 'in a NaN gap'],
    [gap3[0] + 550, 'deep in the gap'],
    [plan3.glitch, '+Infinity glitch'],
    [plan3.glitch + 1, 'after the glitch'],
    [rows - 1, 'last row'],
  ] as const;
  const sampleIndex = new Map<number, number>(sampleRows.map(([r], k) => [r, k]));
  const samples = sampleRows.map(() => ({ input: NaN, outputs: OPS.map(() => NaN) }));

  const wallStart = performance.now();
  for (let s = 0; s < SENSORS; s++) {
    const source = new SensorSource(planSensor(s, rows), rows, 0x5eed + 7919 * s);
    const t0 = performance.now();
    const kernels = await Promise.all(OPS.map((op) => createKernel(op.spec)));
    setupMs += performance.now() - t0;
    try {
      for (let first = 0; first < rows; first += batchSize) {
        const n = Math.min(batchSize, rows - first);
        const batch = n === batchSize ? input : input.subarray(0, n);
        source.fill(batch, first, n);
        const picked: [number, number][] = []; // [sample slot, offset in batch]
        if (s === sampleSensor) {
          for (const [row, slot] of sampleIndex) {
            if (row >= first && row < first + n) {
              picked.push([slot, row - first]);
              (samples[slot] as { input: number }).input = batch[row - first] as number;
            }
          }
        }
        for (let k = 0; k < kernels.length; k++) {
          const start = performance.now();
          const r = (kernels[k] as Kernel).push(batch, out);
          opMs[k] = (opMs[k] as number) + (performance.now() - start);
          for (const [slot, offset] of picked) {
            (samples[slot] as { outputs: number[] }).outputs[k] = r[offset] as number;
          }
        }
      }
    } finally {
      for (const k of kernels) k.dispose();
    }
    nanRows += source.nanRows;
    spikeRows += source.spikeRows;
    infRows += source.infRows;
  }
  const wallMs = performance.now() - wallStart;
  const kernelMs = opMs.reduce((a, b) => a + b, 0);
  const totalRows = rows * SENSORS;

  const lines: string[] = [];
  lines.push('streamkernel demo');
  lines.push('');
  lines.push(`  data     ${SENSORS} sensors × ${group(rows)} rows = ${group(totalRows)} rows: noisy sine with a slow drift,`);
  lines.push(`           ${group(nanRows)} NaN rows in gaps, ${group(spikeRows)} spikes, ${group(infRows)} +Infinity glitch`);
  lines.push(`  ops      ${OPS.length}: rolling mean, std, min, max, median (window ${WINDOW}, min periods ${MIN_PERIODS}), ewm mean (span ${EWM_SPAN})`);
  lines.push(`  batches  ${group(batchSize)} rows, pushed through ${SENSORS * OPS.length} kernels (${OPS.length} ops × ${SENSORS} sensors)`);
  lines.push('');
  const labelWidth = Math.max(...OPS.map((o) => o.label.length), 'all ops'.length);
  const header = `  ${'op'.padEnd(labelWidth)}  ${'rows'.padStart(11)}  ${'time'.padStart(9)}  ${'rows/s'.padStart(10)}`;
  lines.push(header);
  lines.push(`  ${'-'.repeat(header.length - 2)}`);
  OPS.forEach((op, k) => {
    const ms = opMs[k] as number;
    lines.push(
      `  ${op.label.padEnd(labelWidth)}  ${group(totalRows).padStart(11)}  ${`${(ms / 1000).toFixed(3)} s`.padStart(9)}  ${rate(totalRows, ms).padStart(10)}`,
    );
  });
  lines.push(
    `  ${'all ops'.padEnd(labelWidth)}  ${group(totalRows * OPS.length).padStart(11)}  ${`${(kernelMs / 1000).toFixed(3)} s`.padStart(9)}  ${rate(totalRows * OPS.length, kernelMs).padStart(10)}`,
  );
  lines.push('');
  lines.push(`  elapsed  ${(wallMs / 1000).toFixed(2)} s wall for ${group(totalRows)} rows through ${OPS.length} ops: ${rate(totalRows, wallMs)}`);
  lines.push(`           (including data generation, and ${(setupMs / 1000).toFixed(3)} s of kernel setup)`);
  lines.push('');
  lines.push(`  sample outputs, sensor ${sampleSensor}:`);
  const cols = OPS.map((o) => o.column);
  const width = 11;
  lines.push(`  ${'row'.padStart(9)}  ${'input'.padStart(width)}${cols.map((c) => c.padStart(width)).join('')}   note`);
  sampleRows.forEach(([row, note], k) => {
    const sample = samples[k] as { input: number; outputs: number[] };
    lines.push(
      `  ${group(row).padStart(9)}  ${cell(sample.input).padStart(width)}${sample.outputs.map((v) => cell(v).padStart(width)).join('')}   ${note}`,
    );
  });
  lines.push('');
  lines.push(`  NaN is missing: rolling results need ${MIN_PERIODS} non-NaN rows in the window. An infinity is a value:`);
  lines.push(`  rolling windows forget it ${WINDOW} rows later, while an ewm mean keeps it for good (as pandas does).`);
  lines.push('');
  lines.push("  Same kernels on your data: seq 1 10 | streamkernel rolling mean --window 3");
  return lines.join('\n') + '\n';
}
