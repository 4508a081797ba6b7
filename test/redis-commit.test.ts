// Issue 14, the commit as a transaction: PARK, FENCE, the outputs' XADDs,
// UNPARK. The outputs no longer pass through Lua, whose string interning
// hashes every byte (half of redis-server's CPU per commit).
import type { RedisClientType } from 'redis';
import { afterEach, describe, expect, test } from 'vitest';
import { commitTransaction } from '../src/redis/commit.js';
import { createProducer } from '../src/redis/producer.js';
import { startWorker } from '../src/redis/worker.js';
import type { KernelSpec } from '../src/types.js';
import { connect, makeRows, RedisServer, verifyJob, waitDrained } from './redis-harness.js';

const SPEC: KernelSpec = { op: 'mean', window: 4, minPeriods: 1 };

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
  cleanup = [];
});

describe('commit transaction', () => {
  test('regression: the commit script took every output byte as a Lua argument (hashed byte by byte); the XADDs now run outside Lua, and the outputs are those of the reference', async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn, cmd } = await connect(server.url());
    cleanup.push(() => conn.close());
    const monitor = await connect(server.url());
    cleanup.push(() => monitor.conn.close());
    const xadds: string[] = [];
    await (monitor.conn.client as RedisClientType).monitor((line) => {
      if (/"xadd" "out:/i.test(line)) xadds.push(line);
    });
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
});
