// The IndexedDB checkpoint store (browsers; re-exported by browser.ts).
// Platform-neutral code only: it touches nothing but the IndexedDB API it is
// given (globalThis.indexedDB by default).
//
// Layout: database `name`, version 1, one object store (default
// 'checkpoints') with out-of-line keys: key = checkpoint id (a number), value
// = the checkpoint's bytes (a Uint8Array, stored by structured clone). A save
// is ONE readwrite transaction that puts the new checkpoint and deletes all
// but the newest `keep`; it resolves on the transaction's `complete` event
// (durability 'strict' by default: flushed to disk, like the file store's
// fsync), so a checkpoint is either wholly there or absent.
import { CheckpointError } from './errors.js';
import { checkKeep } from './stores.js';
import type { CheckpointStore } from './types.js';

/**
 * Options of {@link indexedDBCheckpointStore}.
 *
 * @example
 * ```ts
 * const options: IndexedDBStoreOptions = { keep: 5, durability: 'relaxed' };
 * ```
 */
export interface IndexedDBStoreOptions {
  /**
   * Checkpoints kept, newest first.
   * @default 3
   */
  keep?: number;
  /**
   * The object store inside the database.
   * @default 'checkpoints'
   */
  storeName?: string;
  /**
   * Transaction durability: `'strict'` waits until the checkpoint is flushed
   * to disk before the save resolves (the file store's fsync); `'relaxed'`
   * is faster and may lose the newest checkpoints on an OS crash (never
   * half of one).
   * @default 'strict'
   */
  durability?: 'strict' | 'relaxed' | 'default';
  /** The IndexedDB factory. @default globalThis.indexedDB */
  indexedDB?: IDBFactory;
}

/** The store returned by {@link indexedDBCheckpointStore}. */
export interface IndexedDBCheckpointStore extends CheckpointStore {
  /** The database name. */
  readonly name: string;
  /** Removes every checkpoint (one transaction). */
  clear(): Promise<void>;
  /** Closes the connection (it reopens on the next call). */
  close(): void;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

function checkId(id: unknown): number {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw new RangeError(`checkpoint id must be a positive integer, got ${String(id)}`);
  return id;
}

/**
 * Checkpoints in IndexedDB, for jobs in a browser page or worker. Each
 * checkpoint is committed in one transaction that also drops all but the
 * newest `keep`; the bytes carry a CRC-32, and a job resuming from the store
 * falls back past a corrupt or truncated newest checkpoint to the previous
 * valid one (see {@link scheduler.latestCheckpoint | latestCheckpoint}). Survives page reloads: a job
 * created with `resume: true` continues from it.
 *
 * @param name - the IndexedDB database name (created if missing).
 * @example
 * ```ts
 * import { createJob, memorySink } from 'streamkernel/scheduler';
 * import { webWorkers, indexedDBCheckpointStore } from 'streamkernel/scheduler/browser';
 * const job = await createJob({
 *   adapter: webWorkers(), operator: { op: 'mean', window: 50 }, keyed: true, sink: memorySink(),
 *   checkpoints: { store: indexedDBCheckpointStore('my-job', { keep: 3 }), everyMs: 1000 }, resume: true,
 * });
 * ```
 */
export function indexedDBCheckpointStore(name: string, options: IndexedDBStoreOptions = {}): IndexedDBCheckpointStore {
  if (typeof name !== 'string' || name === '') throw new TypeError(`name must be a non-empty string, got ${typeof name === 'string' ? "''" : typeof name}`);
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${options === null ? 'null' : typeof options}`);
  const keep = checkKeep(options.keep ?? 3);
  const storeName = options.storeName ?? 'checkpoints';
  if (typeof storeName !== 'string' || storeName === '') throw new TypeError('storeName must be a non-empty string');
  const durability = options.durability ?? 'strict';
  if (!['strict', 'relaxed', 'default'].includes(durability)) throw new TypeError(`durability must be 'strict', 'relaxed' or 'default', got ${String(durability)}`);
  const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;

  let db: Promise<IDBDatabase> | undefined;
  const open = (): Promise<IDBDatabase> => {
    if (db !== undefined) return db;
    if (factory === undefined) return Promise.reject(new Error('IndexedDB is not available here (no globalThis.indexedDB)'));
    const opening = new Promise<IDBDatabase>((resolve, reject) => {
      const req = factory.open(name, 1);
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(storeName)) req.result.createObjectStore(storeName);
      };
      req.onsuccess = () => {
        const conn = req.result;
        // Another page deleting or upgrading the database: let it, and reopen on the next call.
        conn.onversionchange = () => {
          conn.close();
          if (db === opening) db = undefined;
        };
        conn.onclose = () => {
          if (db === opening) db = undefined;
        };
        if (!conn.objectStoreNames.contains(storeName)) {
          conn.close();
          reject(new Error(`IndexedDB database '${name}' has no object store '${storeName}' (it was created by something else)`));
          return;
        }
        resolve(conn);
      };
      req.onerror = () => reject(req.error ?? new Error(`cannot open IndexedDB database '${name}'`));
      req.onblocked = () => reject(new Error(`cannot open IndexedDB database '${name}': blocked by another connection`));
    });
    db = opening;
    opening.catch(() => {
      if (db === opening) db = undefined;
    });
    return opening;
  };

  const tx = async (mode: IDBTransactionMode): Promise<{ t: IDBTransaction; s: IDBObjectStore }> => {
    const conn = await open();
    const t = mode === 'readwrite' ? conn.transaction(storeName, mode, { durability }) : conn.transaction(storeName, mode);
    return { t, s: t.objectStore(storeName) };
  };

  return {
    name,
    async save(id, bytes) {
      checkId(id);
      if (!(bytes instanceof Uint8Array)) throw new TypeError(`checkpoint bytes must be a Uint8Array, got ${typeof bytes}`);
      const { t, s } = await tx('readwrite');
      const complete = done(t);
      // One transaction: the put and the pruning commit together or not at all.
      s.put(bytes, id);
      const keys = s.getAllKeys();
      keys.onsuccess = () => {
        const ids = (keys.result as IDBValidKey[]).filter((k): k is number => typeof k === 'number').sort((a, b) => b - a);
        for (const old of ids.slice(keep)) s.delete(old);
      };
      await complete;
    },
    async list() {
      const { t, s } = await tx('readonly');
      const keys = await request(s.getAllKeys());
      void t;
      return (keys as IDBValidKey[]).filter((k): k is number => typeof k === 'number').sort((a, b) => b - a);
    },
    async read(id) {
      const { s } = await tx('readonly');
      const value: unknown = await request(s.get(id));
      if (value === undefined) throw new Error(`no checkpoint ${id} in IndexedDB database '${name}'`);
      if (value instanceof Uint8Array) return value;
      if (value instanceof ArrayBuffer) return new Uint8Array(value);
      if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      throw new CheckpointError('BAD_FORMAT', `checkpoint is malformed: IndexedDB record ${id} holds ${value === null ? 'null' : typeof value}, not bytes`);
    },
    async clear() {
      const { t, s } = await tx('readwrite');
      const complete = done(t);
      s.clear();
      await complete;
    },
    close() {
      const current = db;
      db = undefined;
      void current?.then((conn) => conn.close(), () => undefined);
    },
  };
}
