// Workers on a Redis Cluster (3 masters with a replica each, on loopback):
// a worker SIGKILLed, and a master SIGKILLed mid-stream so that its replica
// takes over (the old master then restarts from its AOF and rejoins as a
// replica). Every partition's output must still equal the single-process
// reference: nothing lost, nothing duplicated.
import { afterEach, describe, expect, test } from 'vitest';
import { connectRedis } from '../src/redis/config.js';
import { Commands } from '../src/redis/job.js';
import { partitionOf } from '../src/redis/keys.js';
import { createProducer } from '../src/redis/producer.js';
import { spawnSync } from 'node:child_process';
import { makeRows, RedisCluster, type RedisServer, runCli, sleep, verifyJob, waitDrained, waitFor, WorkerProcess } from './redis-harness.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
  cleanup = [];
});

describe('redis cluster', () => {
  // issue 20: also with pipelined commits (--commits-in-flight 2: reads on a cluster connection of their own, a commit sent before the one ahead is answered)
  for (const inFlight of [[], ['--commits-in-flight', '2']]) {
    test(inFlight.length === 0 ? 'regression: workers could not run on a Redis Cluster; a worker SIGKILLed and a master failed over mid-stream lose and duplicate nothing' : 'on a Redis Cluster with --commits-in-flight 2, a worker SIGKILLed and a master failed over mid-stream lose and duplicate nothing', async () => {
      const cluster = await RedisCluster.start();
      cleanup.push(() => cluster.stop());
      const url = cluster.url();
      const conn = await connectRedis({ url, cluster: true, maxOutageMs: 30_000 });
      cleanup.push(() => conn.close());
      const cmd = new Commands(conn);
      const partitions = 6;
      const producer = await createProducer({ url, cluster: true, job: 'clusterjob', create: { partitions, spec: { op: 'mean', window: 7, minPeriods: 1 }, format: 2 }, maxRowsPerEntry: 40, maxOutageMs: 30_000 });
      cleanup.push(() => producer.close());
      // the partitions' keys spread over the 3 masters (one hash tag, so one slot, per partition)
      const slots = new Set<string>();
      for (let p = 0; p < partitions; p++) slots.add(String(await cmd.send<number>(['CLUSTER', 'KEYSLOT', producer.job.keys.input(p)])));
      expect(slots.size).toBe(partitions);
      const workers: WorkerProcess[] = [];
      const spawnWorker = (): WorkerProcess => {
        const w = WorkerProcess.worker(url, 'clusterjob', ['--cluster', '--max-outage-ms', '30000', ...inFlight]);
        workers.push(w);
        cleanup.push(() => w.kill());
        return w;
      };
      for (let i = 0; i < 3; i++) spawnWorker();
      await waitFor('every worker to hold partitions', () => workers.every((w) => w.owned().size > 0));
      const rows = makeRows(17, 9_000, 40);
      expect(new Set(rows.keys.map((k) => partitionOf(k, partitions))).size).toBe(partitions);
      let failedOver: RedisServer | undefined;
      let killed: WorkerProcess | undefined;
      const chunks = 30;
      const size = rows.keys.length / chunks;
      for (let i = 0; i < chunks; i++) {
        if (i === 8) {
          const victim = (killed = workers.find((w) => w.owned().size > 0)!);
          await victim.kill();
          const replacement = spawnWorker();
          await waitFor('the new worker to connect', () => replacement.events().some((e) => e['event'] === 'started'));
        }
        if (i === 16) {
          // once the input so far has reached its replica, kill a master; the replica takes over
          // (input appended but not replicated would be lost with it: Redis replicates asynchronously)
          const master = (failedOver = cluster.master());
          await cluster.replicated(master);
          await master.kill();
          await sleep(2500);
          await cluster.waitHealthy();
          await master.launch(); // back from its AOF, as a replica of the new master
          await cluster.waitHealthy();
        }
        await producer.send(rows.keys.slice(i * size, (i + 1) * size), rows.values.slice(i * size, (i + 1) * size));
        await sleep(20);
      }
      await waitDrained(cmd, producer.job, 45_000);
      await Promise.all(workers.map((w) => w.terminate()));
      expect(await verifyJob(cmd, 'clusterjob')).toBe(rows.keys.length);
      const logs = workers.map((w) => w.stderr).join('\n');
      expect(logs).not.toMatch(/"event":"failed"/);
      // the master did fail over (it came back as a replica), and the workers saw it go and carried on
      expect(cluster.role(failedOver!)).toBe('slave');
      expect(logs).toMatch(/"what":"redis-error"/);
      expect(killed!.proc.signalCode).toBe('SIGKILL');
      for (const w of workers.filter((w) => w !== killed)) expect(await w.exited).toBe(0);
    }, 90_000);
  }

  test('regression: a worker started while a cluster master was down printed a connection error and hung; it now starts', async () => {
    const cluster = await RedisCluster.start();
    cleanup.push(() => cluster.stop());
    await cluster.master().kill();
    // a job name whose job:{J} key lives on the node the URL names (a live master)
    const seed = cluster.nodes[0]!.port;
    const name = Array.from({ length: 100 }, (_, i) => `j${i}`).find((j) => !spawnSync('redis-cli', ['-p', String(seed), 'GET', `job:{${j}}`], { encoding: 'utf8' }).stdout.includes('MOVED'))!;
    const r = runCli(['worker', '--redis', cluster.url(), '--job', name, '--cluster']);
    expect(r.stderr).toContain(`job '${name}' does not exist`);
    expect(r.code).toBe(4);
  }, 60_000);
});
