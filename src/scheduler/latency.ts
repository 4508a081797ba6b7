// A small latency histogram for the job's metrics: portable (the scheduler
// core runs in browsers too, so no perf_hooks), fixed memory, counts weighted
// by rows. Buckets grow by 1 % from 1 µs, so a percentile is reported within
// 1 % above the true value, up to about 20 minutes.
import type { LatencyStats } from './types.js';

const GROWTH = Math.log(1.01);
/** Bucket i holds values in (1.01^(i-1), 1.01^i] µs; bucket 0 holds ≤ 1 µs. */
const BUCKETS = 2400;

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private max = 0;
  private sum = 0;

  /** Records `count` rows that each took `ms` milliseconds. */
  record(ms: number, count = 1): void {
    if (!(count > 0) || !(ms >= 0)) return;
    const us = ms * 1000;
    const i = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(us) / GROWTH));
    this.counts[i]! += count;
    this.total += count;
    this.sum += ms * count;
    if (ms > this.max) this.max = ms;
  }

  /** The smallest bucket bound (ms) at or below which `p` % of the rows fall; 0 with no rows. */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    const rank = (p / 100) * this.total;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank && this.counts[i]! > 0) return Math.min(this.max, Math.exp(i * GROWTH) / 1000);
    }
    return this.max;
  }

  stats(): LatencyStats {
    return {
      count: this.total,
      mean: this.total === 0 ? 0 : this.sum / this.total,
      p50: this.percentile(50),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: this.max,
    };
  }
}
