// Issue 14, the commit as a transaction: PARK, FENCE, the outputs' XADDs,
// UNPARK. The outputs no longer pass through Lua, whose string interning
// hashes every byte (half of redis-server's CPU per commit).
import net from 'node:net';
import type { RedisClientType } from 'redis';
import { afterEach, describe, expect, test } from 'vitest';
import { commitTransaction } from '../src/redis/commit.js';
import { createProducer } from '../src/redis/producer.js';
import { FENCE } from '../src/redis/scripts.js';
import { startWorker } from '../src/redis/worker.js';
import type { KernelSpec } from '../src/types.js';
import { connect, makeRows, RedisServer, verifyJob, waitDrained } from './redis-harness.js';

const SPEC: KernelSpec = { op: 'mean', window: 4, minPeriods: 1 };

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
  cleanup = [];
});

/** A fresh redis-server, a connection to it, and the MONITOR lines that `keep` accepts. */
async function monitoredServer(keep: (line: string) => boolean) {
  const server = await RedisServer.start();
  cleanup.push(() => server.stop());
  const { conn, cmd } = await connect(server.url());
  cleanup.push(() => conn.close());
  const monitor = await connect(server.url());
  cleanup.push(() => monitor.conn.close());
  const lines: string[] = [];
  await (monitor.conn.client as RedisClientType).monitor((line) => {
    if (keep(line)) lines.push(line);
  });
  return { server, cmd, lines };
}

describe('commit transaction', () => {
  test('regression: the commit script took every output byte as a Lua argument (hashed byte by byte); the XADDs now run outside Lua, and the outputs are those of the reference', async () => {
    const { server, cmd, lines: xadds } = await monitoredServer((line) => /"xadd" "out:/i.test(line));
    const producer = await createProducer({ url: server.url(), job: 'tx', create: { partitions: 2, spec: SPEC, format: 3 }, maxRowsPerEntry: 20 });
    cleanup.push(() => producer.close());
    const rows = makeRows(3, 600, 12);
    await producer.send(rows.keys, rows.values);
    const worker = await startWorker({ url: server.url(), job: 'tx', readEntries: 4 });
    cleanup.push(async () => void (await worker.stop()));
    await waitDrained(cmd, producer.job);
    await worker.stop();
    expect(await verifyJob(cmd, 'tx')).toBe(600);
    expect(xadds.length).toBeGreaterThan(0);
    // MONITOR names the caller of each command: a client's address, or "lua" for a script's redis.call
    expect(xadds.filter((line) => / \[\d+ lua\] /.test(line))).toEqual([]);
  });

  test('regression: a format-2 commit of a large state went to FENCE as hundreds of arguments (redis-server read them about 48 KB per fsync round, a 30-50 ms commit round trip at 1 000 keys); it now goes as one argument, and the outputs and stored state are those of the reference', async () => {
    // FENCE's EVALs from the worker (not the redis.call lines of Lua), by an ARGV only FENCE has: the key-group count or '*'
    const { server, cmd, lines: fences } = await monitoredServer((line) => /^[\d.]+ \[\d+ [^\]l][^\]]*\] "EVAL" /i.test(line) && line.includes('last-generated-id'));
    const producer = await createProducer({ url: server.url(), job: 'big', create: { partitions: 1, spec: { op: 'mean', window: 100, minPeriods: 1 }, format: 2 }, maxRowsPerEntry: 200 });
    cleanup.push(() => producer.close());
    const rows = makeRows(5, 6000, 2000);
    await producer.send(rows.keys, rows.values);
    const worker = await startWorker({ url: server.url(), job: 'big', readEntries: 10 });
    cleanup.push(async () => void (await worker.stop()));
    await waitDrained(cmd, producer.job);
    await worker.stop();
    expect(await verifyJob(cmd, 'big')).toBe(6000);
    expect(fences.length).toBeGreaterThan(0);
    // The first commit touches most of the 2 000 keys: its records (well over 32 KB) went as one blob after '*'
    expect(fences.filter((line) => line.includes(' "*" ')).length).toBeGreaterThan(0);
  });

  test('regression: a refused commit transaction leaves the output stream, its last id and the checkpoint as they were, and no parked key', async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn, cmd } = await connect(server.url());
    cleanup.push(() => conn.close());
    const producer = await createProducer({ url: server.url(), job: 'fence', create: { partitions: 1, spec: SPEC, format: 4 } });
    cleanup.push(() => producer.close());
    const { keys } = producer.job;
    await cmd.send(['SET', keys.lease(0), '1:holder']);
    const fence = (token: string, expected: string, first: string, last: string): string[] => [token, '5000', expected, last, '', '1', first, '0'];
    const entry = (id: string): string[] => [id, '2', 'x', 'abcdefgh'];
    // no output stream yet, refused: none afterwards
    expect(await commitTransaction(conn, keys, 0, true, fence('1:other', '0-0', '5-0', '5-0'), entry('5-0'))).toEqual([0, 'lease', '']);
    expect(await cmd.send(['EXISTS', keys.output(0), keys.park(0)])).toBe(0);
    expect(await commitTransaction(conn, keys, 0, true, fence('1:holder', '0-0', '5-0', '5-0'), entry('5-0'))).toEqual([1]);
    const before = await cmd.send(['XINFO', 'STREAM', keys.output(0)]);
    const refusals: [string[], unknown][] = [
      [fence('1:other', '5-0', '6-0', '6-0'), [0, 'lease', '']],
      [fence('1:holder', '4-0', '6-0', '6-0'), [0, 'last', '5-0']],
      [fence('1:holder', '5-0', '5-0', '5-0'), [0, 'out', '5-0']],
    ];
    for (const [args, reply] of refusals) {
      expect(await commitTransaction(conn, keys, 0, true, args, entry(args[6]!))).toEqual(reply);
      expect(await cmd.send(['XINFO', 'STREAM', keys.output(0)])).toEqual(before);
      expect(await cmd.send(['HGET', keys.checkpoint(0), 'last'])).toBe('5-0');
      expect(await cmd.send(['EXISTS', keys.park(0)])).toBe(0);
    }
    expect(await commitTransaction(conn, keys, 0, true, fence('1:holder', '5-0', '6-0', '6-0'), entry('6-0'))).toEqual([1]);
    expect(await cmd.send(['XLEN', keys.output(0)])).toBe(2);
  });

  test('regression: every commit sent FENCE\'s 2.1 KB Lua source (16 partitions\' commits on one connection were more than redis-server reads per round of its event loop, an fsync each); after the first commit of a take FENCE goes as EVALSHA, and a server that loses its scripts mid-run still gives the reference outputs exactly once', async () => {
    // The worker's FENCE calls (not Lua's redis.call lines): EVAL with its source, or EVALSHA with its SHA-1
    const { server, cmd, lines: fences } = await monitoredServer((line) => /^[\d.]+ \[\d+ [^\]l][^\]]*\] "EVAL(SHA)?" /i.test(line) && (line.includes('last-generated-id') || line.includes(FENCE.sha)));
    const producer = await createProducer({ url: server.url(), job: 'sha', create: { partitions: 2, spec: SPEC, format: 3 }, maxRowsPerEntry: 10 });
    cleanup.push(() => producer.close());
    const first = makeRows(7, 400, 12);
    await producer.send(first.keys, first.values);
    const worker = await startWorker({ url: server.url(), job: 'sha', readEntries: 2 });
    cleanup.push(async () => void (await worker.stop()));
    await waitDrained(cmd, producer.job);
    const bySource = fences.filter((line) => line.includes('last-generated-id')).length;
    const bySha = fences.filter((line) => line.includes(FENCE.sha)).length;
    // 40 entries, 2 per commit: about 20 commits, the first of each partition (and those sent before its reply) with the source
    expect(bySha).toBeGreaterThan(10);
    expect(bySource).toBeLessThanOrEqual(4);
    // The server forgets every script (as a restart does): the next commits get NOSCRIPT, nothing of them applies, the partitions are taken again from their checkpoints
    await cmd.send(['SCRIPT', 'FLUSH']);
    const second = makeRows(8, 400, 12);
    await producer.send(second.keys, second.values);
    await waitDrained(cmd, producer.job);
    await worker.stop();
    expect(await verifyJob(cmd, 'sha')).toBe(800);
  });
});

describe('the connection hands commands to its socket', () => {
  test("regression: a connection handed its queued commands to its socket about 16 KB per event-loop turn (a worker's 600 KB commits reached redis-server 16 KB per batch it computed); a commit's commands now go to the socket in one turn", async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn } = await connect(server.url());
    cleanup.push(() => conn.close());
    // Counts the bytes the client hands to any socket (node-redis writes its queue to its net.Socket).
    const write = net.Socket.prototype.write;
    let handed = 0;
    net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]): boolean {
      handed += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Uint8Array).byteLength;
      return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof write;
    let replies: Promise<unknown[]>;
    try {
      // A commit's worth of commands: 64 XADDs of 8 000 bytes in one transaction.
      const x = Buffer.alloc(8000, 7);
      replies = conn.transaction(Array.from({ length: 64 }, (_, i) => ['XADD', 'out', `${i + 1}-0`, 'x', x]));
      // One event-loop turn: the client writes its queue in a setImmediate of its own, queued before this one.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      net.Socket.prototype.write = write;
    }
    expect(handed).toBeGreaterThan(64 * 8000);
    expect(await replies).toHaveLength(64);
  });
});
