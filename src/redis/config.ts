// Redis connection settings: URL parsing, secret redaction, and connecting
// with clear errors. A password may come in the URL
// (redis://user:password@host:port/db, rediss:// for TLS) or, to keep it out
// of process listings, from the STREAMKERNEL_REDIS_PASSWORD environment
// variable. Nothing here ever puts a password into a message: URLs are shown
// redacted, and every text that leaves this layer goes through scrub().
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { RedisArgument, RedisClientType, RedisClusterType } from 'redis';
import { loadRedis, redisCore, type RedisModule } from './client.js';
import { RedisJobError } from './errors.js';

/** The environment variable that supplies (or overrides) the Redis password. */
export const PASSWORD_ENV = 'STREAMKERNEL_REDIS_PASSWORD';

/**
 * How to reach Redis.
 *
 * @example
 * ```ts
 * const options: RedisConnectionOptions = { url: 'rediss://worker@redis.internal:6380/2', tlsCaFile: './ca.pem', maxOutageMs: 60_000 };
 * ```
 */
export interface RedisConnectionOptions {
  /** `redis://[user[:password]@]host[:port][/db]`, or `rediss://…` for TLS. */
  url: string;
  /** The password; overrides one in the URL (an empty string does not). */
  password?: string;
  /** PEM file of the CA that signed the server's certificate (rediss:// only). */
  tlsCaFile?: string;
  /** Milliseconds to wait for the first connection. @default 5000 */
  connectTimeoutMs?: number;
  /**
   * Once connected, how long the connection may be lost (Redis restarting,
   * failing over) before the worker gives up, in milliseconds.
   * @default 30000
   */
  maxOutageMs?: number;
  /**
   * Redis Cluster: the URL names one node (any), from which the client
   * discovers the others; it routes each command to its key's slot and
   * follows slot moves and failovers. The database must be 0.
   * @default false
   */
  cluster?: boolean;
}

/** A parsed Redis URL. */
export interface RedisUrl {
  /** Whether the scheme is `rediss://` (TLS). */
  tls: boolean;
  /** The host name or IP address (an IPv6 address without its brackets). */
  host: string;
  /** The TCP port; 6379 when the URL gives none. */
  port: number;
  /** The user name (%-decoded), or undefined when the URL gives none. */
  username: string | undefined;
  /** The password (%-decoded; the override when one was given), or undefined. */
  password: string | undefined;
  /** The database number from the URL's path; 0 when it has none. */
  database: number;
  /** The URL with the password replaced by `***`: safe to print. */
  display: string;
}

const SCHEMES = new Set(['redis:', 'rediss:']);

/**
 * Parses a redis:// or rediss:// URL; a non-empty `passwordOverride` replaces
 * the URL's password. Throws {@link RedisJobError} (`CONFIG`) for a bad URL;
 * errors never echo the URL (it may hold a password).
 *
 * @example
 * ```ts
 * parseRedisUrl('redis://app:s3cret@cache:6380/1');
 * // { tls: false, host: 'cache', port: 6380, username: 'app', password: 's3cret', database: 1,
 * //   display: 'redis://app:***@cache:6380/1' }
 * ```
 */
export function parseRedisUrl(url: string, passwordOverride?: string): RedisUrl {
  if (typeof url !== 'string' || url.length === 0) {
    throw new RedisJobError('CONFIG', 'a Redis URL is required (redis://[user[:password]@]host[:port][/db] or rediss://…)');
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RedisJobError('CONFIG', 'the Redis URL is not a valid URL; expected redis://[user[:password]@]host[:port][/db] or rediss://…');
  }
  if (!SCHEMES.has(parsed.protocol)) {
    throw new RedisJobError('CONFIG', `the Redis URL must start with redis:// or rediss://, not ${JSON.stringify(parsed.protocol.slice(0, 16))}`);
  }
  const tls = parsed.protocol === 'rediss:';
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host.length === 0) throw new RedisJobError('CONFIG', 'the Redis URL has no host');
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const path = parsed.pathname.replace(/^\//, '');
  const database = path === '' ? 0 : Number(path);
  if (!Number.isInteger(database) || database < 0 || !/^\d*$/.test(path)) {
    throw new RedisJobError('CONFIG', 'the Redis URL path must be a database number (/0, /1, …)');
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new RedisJobError('CONFIG', 'the Redis URL must not have a query string or fragment; pass options as flags');
  }
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new RedisJobError('CONFIG', 'the Redis URL has a malformed %-escape in its user name or password');
    }
  };
  const username = parsed.username === '' ? undefined : decode(parsed.username);
  const urlPassword = parsed.password === '' ? undefined : decode(parsed.password);
  const password = passwordOverride !== undefined && passwordOverride !== '' ? passwordOverride : urlPassword;
  const auth = username !== undefined || password !== undefined ? `${username !== undefined ? encodeURIComponent(username) : ''}${password !== undefined ? ':***' : ''}@` : '';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const display = `${tls ? 'rediss' : 'redis'}://${auth}${hostPart}:${port}${database !== 0 ? `/${database}` : ''}`;
  return { tls, host, port, username, password, database, display };
}

/**
 * A URL fit to print: the password replaced by `***`; an unparseable URL is
 * not shown at all (`'<invalid Redis URL>'`).
 *
 * @example
 * ```ts
 * redactUrl('redis://:s3cret@localhost'); // 'redis://:***@localhost:6379'
 * ```
 */
export function redactUrl(url: string): string {
  try {
    return parseRedisUrl(url).display;
  } catch {
    return '<invalid Redis URL>';
  }
}

/** Replaces every occurrence of each secret (and its %-encoded form) in `text` with `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('***');
  }
  return out;
}

/**
 * How many bytes a connection's socket takes from the client before the
 * client waits for its 'drain' (the socket's writable high-water mark;
 * Node's default is 16 KB). node-redis hands its queued commands to the
 * socket until that much is buffered, then waits for 'drain': one event-loop
 * turn per 16 KB. A worker computing its partitions' batches (5 to 60 ms
 * each, one after another as their reads come in) got one such turn per
 * batch, so its commits (600 KB each at 64 000 rows) reached redis-server
 * about 16 KB per batch computed, and redis-server wrote and fsynced them
 * only once the worker had computed every batch (issue 14). The commands are
 * in memory either way (the client's queue, or the socket's buffer): handed
 * over whole, the kernel takes them while the worker computes.
 */
const SOCKET_WRITE_BUFFER_BYTES = 64 * 1024 * 1024;

/** Replies with bulk strings as Buffers (binary-safe fields). */
const BINARY = { typeMapping: { [redisCore.RESP_TYPES.BLOB_STRING]: Buffer } } as const;

/** The key a cluster routes a command by: EVAL/EVALSHA's first key, else the first argument (none for a bare command). */
function routingKey(args: readonly RedisArgument[]): RedisArgument | undefined {
  const name = String(args[0]).toUpperCase();
  if (name === 'EVAL' || name === 'EVALSHA') return Number(args[2]) > 0 ? args[3] : undefined;
  return args[1];
}

/** An open connection and what is needed to talk about it safely. */
export interface RedisConnection {
  /** The node-redis client (for commands this package does not wrap): a cluster client with `cluster: true`. */
  client: RedisClientType | RedisClusterType;
  /**
   * Sends one command (`args[0]` is its name), on a cluster to the node of
   * its key (EVAL/EVALSHA: the script's first key; else the first argument).
   * Replies are strings, or Buffers with `binary`.
   */
  sendCommand(args: RedisArgument[], binary?: boolean): Promise<unknown>;
  /**
   * Runs `commands` as one MULTI/EXEC transaction (on a cluster, on the node
   * of the first command's key, as {@link sendCommand}) and resolves to their
   * replies, a command that failed inside it having its Error in its place.
   */
  transaction(commands: RedisArgument[][]): Promise<unknown[]>;
  /** The redacted URL. */
  display: string;
  /** Strings that must never be printed (the password). */
  secrets: string[];
  /** Set once the client has given up reconnecting (`CONNECTION_LOST`). */
  readonly failure: RedisJobError | undefined;
  /** Closes the connection (pending commands are answered first). */
  close(): Promise<void>;
}

function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME|ERR_TLS/;

/** Turns a connection failure into a RedisJobError with a clear, secret-free message. */
export function describeConnectError(err: unknown, display: string, secrets: readonly string[]): RedisJobError {
  const message = scrub(err instanceof Error ? err.message : String(err), secrets);
  const code = errnoOf(err) ?? '';
  if (/NOAUTH/.test(message)) {
    return new RedisJobError('AUTH', `authentication failed at ${display}: the server requires a password; give it in the URL or in ${PASSWORD_ENV}`);
  }
  if (/WRONGPASS|invalid password|invalid username-password/i.test(message)) {
    return new RedisJobError('AUTH', `authentication failed at ${display}: wrong user name or password (Redis said: ${message.split('\n')[0]})`);
  }
  if (TLS_CODES.test(code) || /certificate|SSL routines|TLS/i.test(message)) {
    return new RedisJobError('TLS', `TLS connection to ${display} failed: ${message}${code !== '' && !message.includes(code) ? ` (${code})` : ''}`);
  }
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused (is redis-server running and listening there?)',
    ENOTFOUND: 'unknown host',
    EAI_AGAIN: 'host name lookup failed',
    ETIMEDOUT: 'timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ECONNRESET: 'connection reset by the server (a TLS server spoken to without rediss://, or the reverse?)',
  };
  let reason = reasons[code] ?? (/timeout/i.test(message) ? 'timed out' : message);
  if (reason === 'timed out' && display.startsWith('rediss:')) reason += ' (is the server speaking TLS on that port?)';
  return new RedisJobError('CONNECT', `cannot connect to Redis at ${display}: ${reason}`);
}

/**
 * Connects to Redis. Rejects with a {@link RedisJobError} (`CONNECT`, `AUTH`,
 * `TLS`, `CONFIG`) if the first connection fails; afterwards the client
 * reconnects by itself for up to `maxOutageMs`, then gives up (commands fail
 * with `CONNECTION_LOST`). `onEvent` hears of errors (`'redis-error'`) and
 * reconnections (`'redis-reconnected'`) after the first connection, with
 * secret-free details.
 *
 * @example
 * ```ts
 * const conn = await connectRedis({ url: 'redis://127.0.0.1:6379' });
 * const job = await readJob(new Commands(conn), 'prices');
 * await conn.close();
 * ```
 */
export async function connectRedis(options: RedisConnectionOptions, onEvent?: (event: string, detail: string) => void): Promise<RedisConnection> {
  return connectWith(await loadRedis(), options, onEvent);
}

/**
 * {@link connectRedis} on node-redis's client core (`@redis/client`, client.ts):
 * the same connection, without the `redis` package's module commands on its
 * `client`. For the connections this package keeps to itself (workers,
 * producers), which never send those commands.
 */
export async function connectCore(options: RedisConnectionOptions, onEvent?: (event: string, detail: string) => void): Promise<RedisConnection> {
  return connectWith(redisCore, options, onEvent);
}

async function connectWith(redis: RedisModule, options: RedisConnectionOptions, onEvent?: (event: string, detail: string) => void): Promise<RedisConnection> {
  const url = parseRedisUrl(options.url, options.password);
  const secrets = [url.password, options.password].filter((s): s is string => s !== undefined && s !== '');
  const maxOutageMs = options.maxOutageMs ?? 30_000;
  // One server: no per-command timeout. The client's (5 000 ms by default)
  // only bounds a command's wait to be written while disconnected, which the
  // reconnect strategy bounds already (after maxOutageMs the queued commands
  // fail), yet it costs an AbortSignal and a timer per command: 10-13 % of a
  // worker's CPU on small entries. A cluster keeps it: a command queued for a
  // master that stays down (its replica took over) must fail, to be rerouted.
  const commandOptions = { timeout: 0 };
  let ca: Buffer | undefined;
  if (options.tlsCaFile !== undefined) {
    if (!url.tls) throw new RedisJobError('CONFIG', 'a TLS CA file was given but the Redis URL is not rediss://');
    try {
      ca = readFileSync(options.tlsCaFile);
    } catch (err) {
      throw new RedisJobError('CONFIG', `cannot read the TLS CA file ${JSON.stringify(options.tlsCaFile)}: ${errnoOf(err) ?? 'error'}`);
    }
  }
  let everReady = false;
  let outageSince: number | undefined;
  let firstError: unknown;
  let failure: RedisJobError | undefined;
  const reconnectStrategy = (retries: number, cause: Error): number | Error => {
    if (!everReady) {
      firstError ??= cause;
      return describeConnectError(cause, url.display, secrets);
    }
    outageSince ??= Date.now();
    if (Date.now() - outageSince > maxOutageMs) {
      return (failure = new RedisJobError('CONNECTION_LOST', `lost the connection to Redis at ${url.display} for more than ${maxOutageMs} ms: ${scrub(cause.message, secrets)}`));
    }
    return Math.min(50 * 2 ** Math.min(retries, 5), 1000);
  };
  const socket = url.tls
    ? { host: url.host, port: url.port, tls: true as const, ...(isIP(url.host) === 0 ? { servername: url.host } : {}), ...(ca !== undefined ? { ca } : {}), connectTimeout: options.connectTimeoutMs ?? 5000, reconnectStrategy, highWaterMark: SOCKET_WRITE_BUFFER_BYTES }
    : { host: url.host, port: url.port, connectTimeout: options.connectTimeoutMs ?? 5000, reconnectStrategy, writableHighWaterMark: SOCKET_WRITE_BUFFER_BYTES };
  const auth = { ...(url.username !== undefined ? { username: url.username } : {}), ...(url.password !== undefined ? { password: url.password } : {}) };
  if (options.cluster === true && url.database !== 0) throw new RedisJobError('CONFIG', `Redis Cluster has only database 0; the URL names database ${url.database}`);
  // Cluster nodes are connected on first use (minimizeConnections), so a
  // worker starting while a master is down (failing over) still starts.
  // A cluster node may stay down for good once its replica took over: the
  // cluster client moves on, so only commands failing for longer than
  // maxOutageMs (below) end the connection, not one node's reconnecting.
  const clusterNodeStrategy = (retries: number, cause: Error): number | Error => (everReady ? Math.min(50 * 2 ** Math.min(retries, 5), 1000) : reconnectStrategy(retries, cause));
  const client =
    options.cluster === true
      ? (redis.createCluster({ rootNodes: [{ socket }], minimizeConnections: true, defaults: { socket: { ...socket, reconnectStrategy: clusterNodeStrategy }, ...auth } }) as unknown as RedisClusterType)
      : (redis.createClient({ socket, ...auth, database: url.database, commandOptions }) as unknown as RedisClientType);
  const [errorEvent, readyEvent, reconnectingEvent] = options.cluster === true ? ['node-error', 'node-ready', 'node-reconnecting'] : ['error', 'ready', 'reconnecting'];
  const onError = (err: unknown): void => {
    firstError ??= err;
    if (everReady) onEvent?.('redis-error', scrub(err instanceof Error ? err.message : String(err), secrets));
  };
  client.on(errorEvent, onError);
  if (errorEvent !== 'error') client.on('error', onError);
  client.on(readyEvent, () => {
    if (outageSince !== undefined) onEvent?.('redis-reconnected', `after ${Date.now() - outageSince} ms`);
    everReady = true;
    outageSince = undefined;
  });
  client.on(reconnectingEvent, () => {
    if (everReady) outageSince ??= Date.now();
  });
  try {
    await client.connect();
  } catch (err) {
    try {
      client.destroy();
    } catch {
      // already closed
    }
    if (err instanceof RedisJobError) throw err;
    throw describeConnectError(firstError ?? err, url.display, secrets);
  }
  everReady = true; // a cluster client connects to every node before it resolves
  let lastOk = Date.now();
  /** A cluster command failed: the cluster client retries forever, so give up once nothing has succeeded for maxOutageMs. */
  const clusterFailed = (err: unknown): void => {
    if (Date.now() - lastOk > maxOutageMs) {
      failure ??= new RedisJobError('CONNECTION_LOST', `no command succeeded on the Redis Cluster at ${url.display} for more than ${maxOutageMs} ms: ${scrub(err instanceof Error ? err.message : String(err), secrets)}`);
    }
  };
  const clusterSend = async (args: RedisArgument[], binary: boolean): Promise<unknown> => {
    const cluster = client as RedisClusterType;
    try {
      const reply = await (binary ? cluster.sendCommand(routingKey(args), false, args, BINARY) : cluster.sendCommand(routingKey(args), false, args));
      lastOk = Date.now();
      return reply;
    } catch (err) {
      clusterFailed(err);
      throw err;
    }
  };
  const single = client as RedisClientType;
  const transaction = async (commands: RedisArgument[][]): Promise<unknown[]> => {
    let multi: { exec(): Promise<unknown> };
    if (options.cluster === true) {
      const m = (client as RedisClusterType).multi(routingKey(commands[0]!));
      for (const args of commands) m.addCommand(routingKey(args), false, args);
      multi = m;
    } else {
      const m = single.multi();
      for (const args of commands) m.addCommand(args);
      multi = m;
    }
    try {
      const replies = await multi.exec();
      lastOk = Date.now();
      return replies as unknown[];
    } catch (err) {
      // Failed commands inside EXEC: node-redis throws them with every reply (MultiErrorReply).
      const replies = (err as { replies?: unknown }).replies;
      if (Array.isArray(replies)) return replies;
      if (options.cluster === true) clusterFailed(err);
      throw err;
    }
  };
  return {
    transaction,
    client,
    sendCommand: options.cluster === true ? (args, binary = false) => clusterSend(args, binary) : (args, binary = false) => (binary ? single.sendCommand(args, BINARY) : single.sendCommand(args)),
    display: url.display,
    secrets,
    get failure() {
      return failure;
    },
    async close() {
      try {
        await client.close();
      } catch {
        try {
          client.destroy();
        } catch {
          // already closed
        }
      }
    },
  };
}
