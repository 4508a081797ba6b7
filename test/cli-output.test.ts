// The CLI's stdout writer (src/cli/output.ts).
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Output } from '../src/cli/output.js';

describe('Output', () => {
  it("regression: a write held by backpressure added a 'close' listener to stdout, which already holds one per worker thread (each pipes its stdout there), and printed a MaxListenersExceededWarning; it adds none", async () => {
    // A slow reader: each chunk is taken a tick later, so a second write meets a full buffer.
    const stream = new Writable({ highWaterMark: 4, write: (_chunk, _enc, done) => void setImmediate(done) });
    const out = new Output(stream);
    // Twelve workers' pipes, as Node adds them (the limit raised only while piping).
    stream.setMaxListeners(100);
    for (let i = 0; i < 12; i++) stream.on('close', () => undefined);
    stream.setMaxListeners(10);
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 5; i++) await out.write('0123456789\n');
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
    expect(stream.listenerCount('close')).toBe(13);
  });

  it('a write held by backpressure ends when the stream closes', async () => {
    const stream = new Writable({ highWaterMark: 1, write: () => undefined });
    const out = new Output(stream);
    const held = out.write('more than one byte');
    stream.destroy();
    await expect(held).resolves.toBeUndefined();
  });
});

describe('Output written', () => {
  it('calls written once the stream is done with the bytes, not when write returns', async () => {
    let release: (() => void) | undefined;
    const stream = new Writable({ highWaterMark: 1 << 20, write: (_chunk, _enc, done) => void (release = done) });
    const out = new Output(stream);
    let written = 0;
    await out.write(new Uint8Array([65, 10]), () => written++);
    expect(written).toBe(0);
    release!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).toBe(1);
  });
});
