// The Redis commands of the CLI (wired into `streamkernel` by src/cli.ts):
//
//   streamkernel worker  --redis URL --job NAME [--lease-ms N] [--heartbeat-ms N] [--read-entries N]
//                        [--poll-ms N] [--state-every-ms N] [--commits-in-flight N] [--id ID] [--tls-ca FILE] [--max-outage-ms N]
//                        [--connect-timeout-ms N] [--log json|text|quiet]
//   streamkernel produce --redis URL --job NAME [--create --partitions P --op OP --window W
//                        [--min-periods M] [--ddof D] [--q Q] | --op ewm (--alpha A|--span S|--halflife H|--com C)
//                        [--adjust true|false] [--format 1|2|3|4]] [--rows-per-entry N] [--tls-ca FILE] [FILE]
//
// The password may be left out of the URL and given in STREAMKERNEL_REDIS_PASSWORD
// (command lines are visible to every user of the machine). Nothing printed
// ever holds it.
//
// Exit codes: 0 ok (a worker stopped by SIGTERM/SIGINT gave its partitions
// back), 1 usage or configuration error, 2 malformed input line (produce),
// 3 FILE unreadable, 4 any other failure (connection, authentication, TLS,
// unknown job, checkpoint that cannot be restored, lost connection).
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { didYouMean } from '../cli/help.js';
import type { KernelSpec } from '../types.js';
import { PASSWORD_ENV, scrub } from './config.js';
import { parseNumber } from './codec.js';
import { RedisJobError } from './errors.js';
import { JOB_FORMATS, type JobFormat } from './job.js';
import { createProducer } from './producer.js';
import { startWorker, type WorkerEvent } from './worker.js';

/** The help text of `streamkernel worker` (printed by `--help`). */
export const WORKER_HELP = `Usage: streamkernel worker --redis URL --job NAME [options]

Runs partitions of a job stored in Redis until SIGTERM or SIGINT, then gives
them back and exits 0. Start as many workers, on as many machines, as you like.

  --redis URL               redis://[user[:password]@]host[:port][/db], or rediss:// for TLS
                            (or leave the password out and set ${PASSWORD_ENV})
  --job NAME                the job (create it with 'streamkernel produce --create')
  --lease-ms N              lease length: a dead worker's partitions move after this (default 10000)
  --heartbeat-ms N          membership heartbeat period (default lease / 3)
  --read-entries N          input entries per partition per commit (default 64)
  --poll-ms N               longest sleep when idle (default 25)
  --linger-ms N             after a short read, wait N ms for more input to commit with it
                            (fewer, larger commits; default 0: commit what one read finds)
  --state-every-ms N        job format 3 or 4: store a partition's state at most every N ms, not with
                            every commit (whoever takes it next recomputes the rows since; 0: every
                            commit; default: every commit whose state is no larger than its results,
                            else at most every 1000 ms or 10 state-commit round trips)
  --commits-in-flight N     a partition's commits sent and not yet answered, at most (default 1);
                            2 or more: reads on a connection of their own, the next commit sent
                            before the one ahead of it is answered (fenced on it)
  --id ID                   worker id (default host-pid-random)
  --tls-ca FILE             CA certificate (PEM) for rediss://
  --max-outage-ms N         give up after losing Redis this long (default 30000)
  --connect-timeout-ms N    first connection timeout (default 5000)
  --cluster                 Redis Cluster: --redis names any node; the others are discovered
  --log json|text|quiet     events on stderr (default json)
`;

/** The help text of `streamkernel produce` (printed by `--help`). */
export const PRODUCE_HELP = `Usage: streamkernel produce --redis URL --job NAME [--create SPEC] [options] [FILE]

Reads lines "key,value" (the last comma splits them) from FILE or stdin and
appends them to the job's input, routed to partitions by key.

  --redis URL               as for 'streamkernel worker'
  --job NAME                the job
  --create                  create the job if it does not exist (or check it matches), with:
    --partitions P          number of partitions (default 64)
    --op OP                 sum mean var std min max count median quantile ewm
    --window W              rows per window (rolling ops)
    --min-periods M, --ddof D, --q Q
    --alpha A | --span S | --halflife H | --com C, --adjust true|false   (ewm)
    --format 1|2|3|4        job layout (default 1): 2 writes rows and results as binary
                            columns and commits only the state of the keys a batch touched;
                            3 is 2 with the keys as a binary key column instead of JSON;
                            4 is 3 with output entries holding the results only (no keys)
  --rows-per-entry N        most rows in one stream entry (default 1000)
  --batch-rows N            rows sent per round trip (default 10000)
  --linger-ms N             send the lines read so far once the oldest has waited N ms, even
                            before --batch-rows are read (live input; default: only full batches
                            and the end of input)
  --tls-ca FILE             CA certificate (PEM) for rediss://
  --cluster                 Redis Cluster, as for 'streamkernel worker'
`;

export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
export const EXIT_MALFORMED = 2;
export const EXIT_FILE = 3;
export const EXIT_FAILURE = 4;

/** Where a command reads and writes. */
export interface RedisCliIo {
  /** Input rows for `produce` when no FILE (or `-`) is given. */
  stdin: Readable;
  /** Where `--help` is printed. */
  stdout: Writable;
  /** Where events, warnings and errors are printed (secrets removed). */
  stderr: Writable;
  /** The environment, read for `STREAMKERNEL_REDIS_PASSWORD`. */
  env: NodeJS.ProcessEnv;
  /**
   * Installs a stop handler (SIGTERM/SIGINT by default); returns its remover.
   * @default one-shot `process` listeners for SIGTERM and SIGINT
   */
  onStop?: (stop: () => void) => () => void;
}

class UsageError extends Error {}

function intOption(values: Record<string, unknown>, name: string, min: number): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function numOption(values: Record<string, unknown>, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' ? parseNumber(raw) : undefined;
  if (n === undefined) throw new UsageError(`--${name} must be a number, got ${JSON.stringify(raw)}`);
  return n;
}

type Values = Record<string, string | boolean | undefined>;

function parse(argv: string[], options: Record<string, { type: 'string' | 'boolean' }>, allowFile: boolean): { values: Values; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: allowFile, strict: true });
    if (parsed.positionals.length > 1) throw new UsageError('at most one FILE');
    return { values: parsed.values as Values, positionals: parsed.positionals };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const message = (err as Error).message;
    const unknown = /^Unknown option '([^']+)'/.exec(message)?.[1];
    const known = [...Object.keys(options), 'help'].map((name) => `--${name}`);
    throw new UsageError(unknown === undefined ? message : `Unknown option '${unknown}'${didYouMean(unknown, known)}`);
  }
}

const COMMON = {
  redis: { type: 'string' },
  job: { type: 'string' },
  'tls-ca': { type: 'string' },
  'max-outage-ms': { type: 'string' },
  'connect-timeout-ms': { type: 'string' },
  cluster: { type: 'boolean' },
} as const;

function connection(values: Record<string, unknown>, env: NodeJS.ProcessEnv) {
  if (typeof values['redis'] !== 'string') throw new UsageError('--redis URL is required');
  if (typeof values['job'] !== 'string') throw new UsageError('--job NAME is required');
  const password = env[PASSWORD_ENV];
  return {
    url: values['redis'],
    job: values['job'],
    ...(password !== undefined && password !== '' ? { password } : {}),
    ...(typeof values['tls-ca'] === 'string' ? { tlsCaFile: values['tls-ca'] } : {}),
    ...(values['max-outage-ms'] !== undefined ? { maxOutageMs: intOption(values, 'max-outage-ms', 0)! } : {}),
    ...(values['connect-timeout-ms'] !== undefined ? { connectTimeoutMs: intOption(values, 'connect-timeout-ms', 1)! } : {}),
    ...(values['cluster'] === true ? { cluster: true } : {}),
  };
}

/** Secrets known before connecting: the env password and the URL's, as typed. */
function secretsOf(argv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const secrets: string[] = [];
  const password = env[PASSWORD_ENV];
  if (password !== undefined && password !== '') secrets.push(password);
  for (const arg of argv) {
    const m = /^rediss?:\/\/[^:@/]*:([^@/]*)@/.exec(arg.replace(/^--redis=/, ''));
    if (m?.[1]) {
      secrets.push(m[1]);
      try {
        secrets.push(decodeURIComponent(m[1]));
      } catch {
        // not %-encoded
      }
    }
  }
  return secrets;
}

function defaultOnStop(stop: () => void): () => void {
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return () => {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  };
}

function failureCode(err: unknown): number {
  if (err instanceof UsageError) return EXIT_USAGE;
  if (err instanceof RedisJobError && err.code === 'CONFIG') return EXIT_USAGE;
  return EXIT_FAILURE;
}

function describe(err: unknown): string {
  if (err instanceof RedisJobError) return `${err.message} [${err.code}]`;
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}

/**
 * `streamkernel worker …`: resolves to the exit code (0 ok, 1 usage or
 * configuration error, 4 any other failure).
 *
 * @example
 * ```ts
 * const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
 * process.exitCode = await runWorkerCommand(['--redis', 'redis://127.0.0.1:6379', '--job', 'prices'], io);
 * ```
 */
export async function runWorkerCommand(argv: string[], io: RedisCliIo): Promise<number> {
  const secrets = secretsOf(argv, io.env);
  const say = (text: string): void => void io.stderr.write(scrub(text, secrets) + '\n');
  let remove = (): void => {};
  try {
    const { values } = parse(
      argv,
      {
        ...COMMON,
        'lease-ms': { type: 'string' },
        'heartbeat-ms': { type: 'string' },
        'read-entries': { type: 'string' },
        'poll-ms': { type: 'string' },
        'linger-ms': { type: 'string' },
        'state-every-ms': { type: 'string' },
        'commits-in-flight': { type: 'string' },
        id: { type: 'string' },
        log: { type: 'string' },
      },
      false,
    );
    if (values['help']) {
      io.stdout.write(WORKER_HELP);
      return EXIT_OK;
    }
    const format = values['log'] ?? 'json';
    if (format !== 'json' && format !== 'text' && format !== 'quiet') throw new UsageError(`--log must be json, text or quiet, got ${JSON.stringify(format)}`);
    const log = (event: WorkerEvent): void => {
      if (format === 'quiet' && event.event !== 'failed') return;
      if (format === 'json') say(JSON.stringify({ time: new Date().toISOString(), ...event }));
      else {
        const { event: name, worker, ...rest } = event;
        say(`${new Date().toISOString()} ${worker} ${name} ${Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}`);
      }
    };
    const conn = connection(values, io.env);
    const options = {
      ...conn,
      log,
      ...(values['lease-ms'] !== undefined ? { leaseMs: intOption(values, 'lease-ms', 100)! } : {}),
      ...(values['heartbeat-ms'] !== undefined ? { heartbeatMs: intOption(values, 'heartbeat-ms', 10)! } : {}),
      ...(values['read-entries'] !== undefined ? { readEntries: intOption(values, 'read-entries', 1)! } : {}),
      ...(values['poll-ms'] !== undefined ? { pollMs: intOption(values, 'poll-ms', 1)! } : {}),
      ...(values['linger-ms'] !== undefined ? { lingerMs: intOption(values, 'linger-ms', 0)! } : {}),
      ...(values['state-every-ms'] !== undefined ? { stateEveryMs: intOption(values, 'state-every-ms', 0)! } : {}),
      ...(values['commits-in-flight'] !== undefined ? { commitsInFlight: intOption(values, 'commits-in-flight', 1)! } : {}),
      ...(typeof values['id'] === 'string' ? { id: values['id'] } : {}),
    };
    let stopRequested = false;
    let stop = (): void => {
      stopRequested = true;
    };
    remove = (io.onStop ?? defaultOnStop)(() => stop());
    const worker = await startWorker(options);
    stop = () => void worker.stop();
    if (stopRequested) void worker.stop();
    await worker.done;
    return EXIT_OK;
  } catch (err) {
    say(`streamkernel worker: ${describe(err)}`);
    return failureCode(err);
  } finally {
    remove();
  }
}

function formatFrom(values: Record<string, unknown>): JobFormat {
  const format = String(values['format'] ?? '1');
  if (!JOB_FORMATS.includes(format)) throw new UsageError(`--format must be 1, 2, 3 or 4, got ${JSON.stringify(format)}`);
  return Number(format) as JobFormat;
}

function specFrom(values: Record<string, unknown>): KernelSpec {
  const op = values['op'];
  if (typeof op !== 'string') throw new UsageError('--create needs --op');
  if (op === 'ewm') {
    const adjust = values['adjust'];
    if (adjust !== undefined && adjust !== 'true' && adjust !== 'false') throw new UsageError('--adjust must be true or false');
    const spec: Record<string, unknown> = { op: 'ewm' };
    for (const name of ['alpha', 'span', 'halflife', 'com'] as const) {
      const x = numOption(values, name);
      if (x !== undefined) spec[name] = x;
    }
    const minPeriods = intOption(values, 'min-periods', 0);
    if (minPeriods !== undefined) spec['minPeriods'] = minPeriods;
    if (adjust !== undefined) spec['adjust'] = adjust === 'true';
    return spec as unknown as KernelSpec;
  }
  const spec: Record<string, unknown> = { op, window: intOption(values, 'window', 1) };
  if (spec['window'] === undefined) throw new UsageError(`--create --op ${op} needs --window`);
  const minPeriods = intOption(values, 'min-periods', 0);
  if (minPeriods !== undefined) spec['minPeriods'] = minPeriods;
  const ddof = intOption(values, 'ddof', 0);
  if (ddof !== undefined) spec['ddof'] = ddof;
  const q = numOption(values, 'q');
  if (q !== undefined) spec['q'] = q;
  return spec as unknown as KernelSpec;
}

/**
 * `streamkernel produce …`: resolves to the exit code (0 ok, 1 usage or
 * configuration error, 2 malformed input line, 3 FILE unreadable, 4 any
 * other failure).
 *
 * @example
 * ```ts
 * const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
 * process.exitCode = await runProduceCommand(['--redis', 'redis://127.0.0.1:6379', '--job', 'prices', 'rows.csv'], io);
 * ```
 */
export async function runProduceCommand(argv: string[], io: RedisCliIo): Promise<number> {
  const secrets = secretsOf(argv, io.env);
  const say = (text: string): void => void io.stderr.write(scrub(text, secrets) + '\n');
  try {
    const { values, positionals } = parse(
      argv,
      {
        ...COMMON,
        create: { type: 'boolean' },
        partitions: { type: 'string' },
        op: { type: 'string' },
        window: { type: 'string' },
        'min-periods': { type: 'string' },
        ddof: { type: 'string' },
        q: { type: 'string' },
        alpha: { type: 'string' },
        span: { type: 'string' },
        halflife: { type: 'string' },
        com: { type: 'string' },
        adjust: { type: 'string' },
        format: { type: 'string' },
        'rows-per-entry': { type: 'string' },
        'batch-rows': { type: 'string' },
        'linger-ms': { type: 'string' },
      },
      true,
    );
    if (values['help']) {
      io.stdout.write(PRODUCE_HELP);
      return EXIT_OK;
    }
    const conn = connection(values, io.env);
    const batchRows = intOption(values, 'batch-rows', 1) ?? 10_000;
    const lingerMs = intOption(values, 'linger-ms', 0);
    const rowsPerEntry = intOption(values, 'rows-per-entry', 1);
    const create = values['create'] ? { partitions: intOption(values, 'partitions', 1) ?? 64, spec: specFrom(values), format: formatFrom(values) } : undefined;
    if (!values['create'] && (values['op'] !== undefined || values['partitions'] !== undefined || values['format'] !== undefined)) throw new UsageError('--op, --partitions and --format go with --create');
    const file = positionals[0];
    let input: Readable;
    if (file === undefined || file === '-') input = io.stdin;
    else {
      input = createReadStream(file);
      try {
        await new Promise<void>((resolve, reject) => {
          input.once('open', () => resolve());
          input.once('error', reject);
        });
      } catch (err) {
        say(`streamkernel produce: cannot read ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
        return EXIT_FILE;
      }
    }
    const producer = await createProducer({
      ...conn,
      ...(create !== undefined ? { create } : {}),
      ...(rowsPerEntry !== undefined ? { maxRowsPerEntry: rowsPerEntry } : {}),
      ...(lingerMs !== undefined ? { lingerMs } : {}),
    });
    let rows = 0;
    let entries = 0;
    // --linger-ms: the producer gathers rows itself, so every line goes out at once and waits there at most that long.
    const sendEvery = lingerMs !== undefined ? 1 : batchRows;
    // Sends of one gathered write share its promise (and its entry count); rows sent and not yet acknowledged stay below --batch-rows.
    const writes = new Set<Promise<number>>();
    let unacked = 0;
    const acked = async (): Promise<void> => {
      for (const w of writes) entries += await w;
      writes.clear();
      unacked = 0;
    };
    try {
      let keys: string[] = [];
      let nums: number[] = [];
      let lineNo = 0;
      for await (const line of createInterface({ input, crlfDelay: Infinity })) {
        lineNo++;
        if (line.trim() === '') continue;
        const comma = line.lastIndexOf(',');
        const value = comma < 0 ? undefined : parseNumber(line.slice(comma + 1).trim());
        if (comma <= 0 || value === undefined) {
          say(`streamkernel produce: line ${lineNo}: expected "key,value", got ${JSON.stringify(line.slice(0, 60))}`);
          return EXIT_MALFORMED;
        }
        keys.push(line.slice(0, comma));
        nums.push(value);
        if (keys.length >= sendEvery && lingerMs !== undefined) {
          // Not awaited: the producer's linger gathers the lines of many sends into one write.
          writes.add(producer.send(keys, nums));
          rows += keys.length;
          unacked += keys.length;
          if (unacked >= batchRows) await acked();
          keys = [];
          nums = [];
        } else if (keys.length >= sendEvery) {
          entries += await producer.send(keys, nums);
          rows += keys.length;
          keys = [];
          nums = [];
        }
      }
      await acked();
      if (keys.length > 0) {
        entries += await producer.send(keys, nums);
        rows += keys.length;
      }
    } finally {
      await producer.close();
    }
    say(`streamkernel produce: ${rows} rows in ${entries} entries to job '${conn.job}'`);
    return EXIT_OK;
  } catch (err) {
    say(`streamkernel produce: ${describe(err)}`);
    return failureCode(err);
  }
}
