// The progress bar of `streamkernel run` (stderr, terminals only) and its
// one-line summary.

import type { Writable } from 'node:stream';

const BAR = 24;
const EVERY_MS = 150;

function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function rateText(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '– rows/s';
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M rows/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k rows/s`;
  return `${Math.round(perSecond)} rows/s`;
}

function durationText(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}` : `${m}:${String(r).padStart(2, '0')}`;
}

export const group = (n: number): string => Math.round(n).toLocaleString('en-US');

/** A progress bar redrawn in place with '\r' at most every 150 ms. */
export class Progress {
  private readonly started = performance.now();
  private last = -Infinity;
  private drawn = false;

  constructor(
    private readonly stream: Writable,
    private readonly enabled: boolean,
    /** Total input bytes, when known. */
    private readonly total: number | undefined,
    /** Bytes already behind us when resuming (not counted in the rate). */
    private readonly startBytes = 0,
  ) {}

  update(rows: number, bytes: number, force = false): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (!force && now - this.last < EVERY_MS) return;
    this.last = now;
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? rows / seconds : NaN;
    let line: string;
    if (this.total !== undefined && this.total > 0) {
      const f = Math.min(1, bytes / this.total);
      const filled = Math.round(f * BAR);
      const byteRate = seconds > 0 ? (bytes - this.startBytes) / seconds : NaN;
      const eta = byteRate > 0 ? (this.total - bytes) / byteRate : NaN;
      line = `[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${(f * 100).toFixed(1).padStart(5)}%  ${bytesText(bytes)} / ${bytesText(this.total)}  ${rateText(rate)}  ETA ${durationText(eta)}`;
    } else {
      line = `${bytesText(bytes)} read  ${group(rows)} rows  ${rateText(rate)}`;
    }
    this.stream.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }

  /** Clears the bar. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }

  get seconds(): number {
    return (performance.now() - this.started) / 1000;
  }
}
