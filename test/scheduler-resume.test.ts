// Resume in a new process after kill -9, and flat memory on a long source.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { arraySource, createJob, fileCheckpointStore, fileSink, makeKeys, makeValues, memorySink, nodeWorkers, prng, reference, sameBytes } from './scheduler-helpers.js';

const DIST = resolve(__dirname, '../dist/src/scheduler');
const N = 200_000;
const SPEC = { op: 'std', window: 30, minPeriods: 3 };

// The child runs the same job over the same data (regenerated from the seed) and prints each committed checkpoint.
const CHILD = `
import { createJob, arraySource } from ${JSON.stringify(`${DIST}/index.js`)};
import { nodeWorkers, fileCheckpointStore, fileSink } from ${JSON.stringify(`${DIST}/node.js`)};
import { readFileSync } from 'node:fs';
const [dir] = process.argv.slice(2);
const raw = (name) => { const b = readFileSync(dir + '/' + name); return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength); };
const values = new Float64Array(raw('values.f64'));
const keys = new Uint32Array(raw('keys.u32'));
const sink = fileSink(dir + '/out.f64');
const commit = sink.commit.bind(sink);
sink.commit = (id) => { commit(id); process.stdout.write('committed ' + id + '\\n'); };
const job = await createJob({ adapter: nodeWorkers(), operator: ${JSON.stringify(SPEC)}, keyed: true, workers: 2, sink,
  checkpoints: { store: fileCheckpointStore(dir + '/ckpt'), everyRows: 20000, everyMs: Infinity }, resume: true });
// Slow the source down so the parent can kill mid-run.
const source = arraySource(values, { keys, batchRows: 2000 });
const read = source.read.bind(source);
source.read = async () => { await new Promise((r) => setTimeout(r, 2)); return read(); };
await job.run(source);
process.stdout.write('done\\n');
`;

describe('resume in a new process', () => {
  it('after kill -9 mid-run, a new process resumes from the latest checkpoint; the file sink holds every result exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sk-resume-'));
    try {
      const rand = prng(2024);
      const values = makeValues(rand, N);
      const keys = makeKeys(rand, N, 500);
      const expected = await reference(SPEC as never, values, keys);
      writeFileSync(join(dir, 'values.f64'), values);
      writeFileSync(join(dir, 'keys.u32'), keys);
      writeFileSync(join(dir, 'child.mjs'), CHILD);
      const child = spawn(process.execPath, [join(dir, 'child.mjs'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let commits = 0;
      await new Promise<void>((done) => {
        child.stdout.on('data', (chunk: Buffer) => {
          commits += (chunk.toString().match(/committed/g) ?? []).length;
          if (commits >= 3 && child.exitCode === null) child.kill('SIGKILL');
        });
        child.on('exit', () => done());
      });
      expect(child.signalCode).toBe('SIGKILL');

      // Resume here (another process than the one killed), with 3 workers.
      const sink = fileSink(join(dir, 'out.f64'));
      const job = await createJob({
        adapter: nodeWorkers(), operator: SPEC as never, keyed: true, workers: 3, sink,
        checkpoints: { store: fileCheckpointStore(join(dir, 'ckpt')), everyRows: 20_000, everyMs: Infinity }, resume: true,
      });
      expect(job.offset).toBeGreaterThan(0);
      expect(job.offset).toBeLessThan(N);
      await job.run(arraySource(values, { keys, batchRows: 5000 }));
      const file = readFileSync(join(dir, 'out.f64'));
      const got = new Float64Array(file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength));
      expect(got.length).toBe(N);
      expect(sameBytes(got, expected)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('memory', () => {
  it('stays flat on a long unbounded source (1e7 rows, 1000 keys, 2 workers)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const rows = 10_000_000;
    const batchRows = 65_536;
    let committed = 0;
    const sink = memorySink({ keep: false, onCommit: (b) => void (committed += b.values.length) });
    const job = await createJob({
      adapter: nodeWorkers(), operator: { op: 'mean', window: 100 }, keyed: true, workers: 2, sink,
      checkpoints: { everyRows: 1_000_000, everyMs: Infinity },
    });
    const samples: number[] = [];
    const keys = new Uint32Array(batchRows);
    for (let offset = 0; offset < rows; offset += batchRows) {
      const n = Math.min(batchRows, rows - offset);
      const values = new Float64Array(n);
      for (let i = 0; i < n; i++) values[i] = ((offset + i) * 2654435761) % 1000;
      for (let i = 0; i < n; i++) keys[i] = (offset + i) % 1000;
      await job.push({ values, keys: keys.slice(0, n) });
      if ((offset / batchRows) % 16 === 15) {
        gc();
        const m = process.memoryUsage();
        samples.push(m.heapUsed + m.arrayBuffers);
      }
    }
    await job.finish();
    expect(committed).toBe(rows);
    const early = Math.max(...samples.slice(0, 3));
    const late = Math.max(...samples.slice(-3));
    // Bounded by in-flight batches and checkpoint retention, not by the rows seen.
    expect(late - early).toBeLessThan(48 * 1024 * 1024);
  });
});
