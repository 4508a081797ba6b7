// Not a kernel: the scheduler coordinator's per-row passes of a keyed batch on
// two workers (src/scheduler/job.ts), in the shared memory of a pooled batch
// buffer that the workers read (imported: the module has no memory of its
// own). `scatterOfTwo` copies each row's value and key to its worker's next
// place (worker 0's rows from 0, worker 1's from `start1`, each in row
// order); `mergeOfTwo` reads each row's result back from its worker's next
// place. Both pick a row's place without a branch (a coin toss per row), and
// return worker 0's rows among theirs: the coordinator runs a batch through
// them a chunk at a time (src/scheduler/two-way.ts), each chunk's places
// following the previous ones'.

/** Rows' values (f64) at `values` and keys (u32) at `keys`, each worker (u8, 0 or 1) at `workers`: to `outValues`/`outKeys`. Returns worker 0's rows. */
export function scatterOfTwo(rows: i32, workers: usize, values: usize, keys: usize, outValues: usize, outKeys: usize, start1: i32): i32 {
  let p0: i32 = 0;
  let d: i32 = start1;
  for (let i: i32 = 0; i < rows; i++) {
    const w = <i32>load<u8>(workers + <usize>i);
    const p = <usize>(p0 + (-w & d));
    p0 += 1 - w;
    d += 2 * w - 1;
    store<f64>(outValues + (p << 3), load<f64>(values + (<usize>i << 3)));
    store<u32>(outKeys + (p << 2), load<u32>(keys + (<usize>i << 2)));
  }
  return p0;
}

/** The rows' results in row order at `out` from the workers' places at `results` (worker 1's from `start1`). Returns worker 0's rows. */
export function mergeOfTwo(rows: i32, workers: usize, results: usize, out: usize, start1: i32): i32 {
  let p0: i32 = 0;
  let d: i32 = start1;
  for (let i: i32 = 0; i < rows; i++) {
    const w = <i32>load<u8>(workers + <usize>i);
    store<f64>(out + (<usize>i << 3), load<f64>(results + (<usize>(p0 + (-w & d)) << 3)));
    p0 += 1 - w;
    d += 2 * w - 1;
  }
  return p0;
}
