// A private redis-server for the benchmarks (bench/redis.ts, bench/latency.ts):
// loopback only, AOF with the given appendfsync, in a temp dir removed on stop.
// Automatic AOF rewrites are off: one forks and rewrites the whole dataset
// whenever the AOF has doubled, so it lands in whichever run happens to double
// it (in bench/redis.ts, the 1- or the 2-worker run) and skews that run.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

/** Starts redis-server (on the PATH) with `appendfsync` always or everysec. */
export async function startRedis(fsync: string): Promise<{ url: string; pid: number; stop: () => void }> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'sk-bench-redis-'));
  const conf = path.join(dir, 'redis.conf');
  writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, 'appendonly yes', `appendfsync ${fsync}`, 'auto-aof-rewrite-percentage 0', 'save ""', 'logfile ""'].join('\n') + '\n');
  const proc = spawn('redis-server', [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: proc.pid!,
    stop: () => {
      process.kill(proc.pid!, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
