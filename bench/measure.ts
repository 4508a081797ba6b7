// The one way every benchmark here turns tinybench samples into throughput.
import { Bench } from 'tinybench';

/** Budget per task, in milliseconds. */
export interface MeasureOptions {
  /** Sampling time per task. */
  time: number;
  /** Warm-up time per task. */
  warmupTime: number;
  /**
   * Which sample gives the figure: the median (default), or the fastest,
   * which a machine shared with other jobs disturbs least.
   */
  statistic?: 'median' | 'fastest';
  /**
   * What a sample measures: wall time (default), or this process's CPU time,
   * which leaves out the time the process waited for a core on a loaded machine.
   */
  clock?: 'wall' | 'cpu';
}

/** This process's CPU time (user + system, all threads), in milliseconds. */
function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Runs each task (one pass over `rows` rows) at least 3 times after a warm-up
 * and returns million rows per second from the median (or fastest) sample of each.
 */
export async function rowsPerSecond(rows: number, tasks: Record<string, () => void>, options: MeasureOptions): Promise<Record<string, number>> {
  const bench = new Bench({
    time: options.time,
    iterations: 3,
    warmupTime: options.warmupTime,
    warmupIterations: 1,
    ...(options.clock === 'cpu' ? { now: cpuNow } : {}),
  });
  for (const [name, fn] of Object.entries(tasks)) bench.add(name, fn);
  await bench.run();
  const result: Record<string, number> = {};
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`benchmark task ${task.name} did not complete: ${r.state}`);
    const ms = options.statistic === 'fastest' ? r.latency.min : (r.latency.p50 ?? r.latency.mean);
    result[task.name] = rows / (ms / 1000) / 1e6;
  }
  return result;
}
