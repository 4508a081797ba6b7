// Issue 14, start-up of a worker: how soon it holds the partitions assigned
// to it. Under appendfsync always every write's reply waits for an fsync
// round, so round trips taken one after another add up.
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { createJob } from '../src/redis/job.js';
import { ACQUIRE } from '../src/redis/scripts.js';
import { startWorker } from '../src/redis/worker.js';
import type { KernelSpec } from '../src/types.js';
import { connect, RedisServer, waitFor } from './redis-harness.js';

const SPEC: KernelSpec = { op: 'sum', window: 3, minPeriods: 1 };

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
  cleanup = [];
});

/**
 * A TCP proxy to `port` that holds every reply for `delayMs` (a slow fsync
 * round) and records, per connection, how many ACQUIREs the client sent
 * between two replies it got: 1 if it waits for each before the next.
 */
async function slowRepliesProxy(port: number, delayMs: number): Promise<{ port: number; acquiresPerRound: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let most = 0;
  const server: Server = createServer((client) => {
    const upstream = netConnect(port, '127.0.0.1');
    let sinceReply = 0;
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => (client.destroy(), upstream.destroy()));
    }
    client.on('data', (chunk: Buffer) => {
      sinceReply += chunk.toString('latin1').split(ACQUIRE.sha).length - 1;
      most = Math.max(most, sinceReply);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) =>
      setTimeout(() => {
        sinceReply = 0;
        client.write(chunk);
      }, delayMs),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    acquiresPerRound: () => most,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('worker start-up', () => {
  test('regression: a worker took its free partitions one ACQUIRE round trip after another (an fsync round each); it sends them together', async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn, cmd } = await connect(server.url());
    cleanup.push(() => conn.close());
    await cmd.send(['SCRIPT', 'LOAD', ACQUIRE.source]); // EVALSHA finds it: no NOSCRIPT retry in between
    await createJob(cmd, 'startup', { partitions: 8, spec: SPEC, format: 3 });
    const proxy = await slowRepliesProxy(server.port, 50);
    cleanup.push(() => proxy.close());
    const worker = await startWorker({ url: `redis://127.0.0.1:${proxy.port}`, job: 'startup' });
    cleanup.push(async () => void (await worker.stop()));
    await waitFor('the worker to hold every partition', () => worker.owned().length === 8);
    expect(proxy.acquiresPerRound()).toBe(8);
  });

  test('regression: a partition given back to its assignee was taken only at the assignee\'s next heartbeat; it looks again every pollMs', async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn, cmd } = await connect(server.url());
    cleanup.push(() => conn.close());
    await createJob(cmd, 'handover', { partitions: 4, spec: SPEC, format: 3 });
    // Members stay live for a lease: long leases, so that the newcomer's rare heartbeats keep it a member.
    const first = await startWorker({ url: server.url(), job: 'handover', id: 'first', leaseMs: 600_000, heartbeatMs: 100 });
    cleanup.push(async () => void (await first.stop()));
    await waitFor('the first worker to hold every partition', () => first.owned().length === 4);
    // Its next heartbeat is 200 s away: only the retries between heartbeats can take what the first gives back.
    const second = await startWorker({ url: server.url(), job: 'handover', id: 'second', leaseMs: 600_000, heartbeatMs: 200_000 });
    cleanup.push(async () => void (await second.stop()));
    await waitFor('the partitions to be split', () => first.owned().length === 2 && second.owned().length === 2);
    expect([...first.owned(), ...second.owned()].sort()).toEqual([0, 1, 2, 3]);
  });
});
