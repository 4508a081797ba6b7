// The partitions' keyed state: the scheduler's keyed kernel operator (ONE
// WebAssembly instance per worker, for every key of every partition it
// holds, each key's state in a slab), behind string keys.
//
// A partition's keys get dense ids (0, 1, 2, … in order of first sight, kept
// in the checkpoint), and ids fall into STATE_GROUPS key groups (keyGroupOf),
// the unit of an incremental commit: a format-2 commit rewrites only the
// groups its rows touched. Groups are many and small (a few keys each even at
// 100 000 keys per partition), so a commit's state grows with the keys it
// touched, not with the keys the partition holds.
//
// In the worker's operator a key is an operator key (a worker-wide number,
// reused once its partition is given back) in the operator group
// `slot × STATE_GROUPS + its group in the partition`, where slot is the
// partition's place in the worker: so one partition's groups can be
// snapshot, restored and dropped without touching another's.
import { buildHash, compiledModule, instantiateKernel, type KernelExports } from '../engine.js';
import { SnapshotError } from '../errors.js';
import { KernelOperator, type RowsPart } from '../scheduler/operator.js';
import { CheckpointError } from '../scheduler/errors.js';
import { keyGroupOf } from '../scheduler/hash.js';
import { decodeSnapshot, encodeSnapshot, encodeSnapshotWith } from '../snapshot.js';
import { normalizeSpec, planFor, type KernelPlan } from '../spec.js';
import type { KernelSpec } from '../types.js';

/** Key groups of a partition's state (format 2: one hash field each). Part of the checkpoint format: do not change. */
export const STATE_GROUPS = 32_768;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** FNV-1a of `bytes[start, end)`. */
function utf8Hash(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/** Whether decoding `utf8` (fatal, as a key column is read) gives `key` back. */
function roundTrips(key: string, utf8: Uint8Array): boolean {
  try {
    return decoder.decode(utf8) === key;
  } catch {
    return false;
  }
}

/** The kernel plan of a spec and its module's build hash: what every state record is checked against. */
interface Kernel {
  plan: KernelPlan;
  hash: string;
}

/** Operator keys of every partition a worker holds: each one's operator group and its id in its partition. */
class KeyTable {
  /** Operator group by operator key. */
  group = new Int32Array(1024);
  /** Id in its partition by operator key. */
  local = new Uint32Array(1024);
  private readonly free: number[] = [];
  private next = 0;

  alloc(group: number, local: number): number {
    const key = this.free.pop() ?? this.next++;
    if (key >= this.group.length) {
      const n = 2 * this.group.length;
      const [g, l] = [new Int32Array(n), new Uint32Array(n)];
      g.set(this.group);
      l.set(this.local);
      [this.group, this.local] = [g, l];
    }
    this.group[key] = group;
    this.local[key] = local;
    return key;
  }

  release(key: number): void {
    this.free.push(key);
  }
}

/** The kernel operator over operator keys, whose groups the key table says. */
class PartitionedOperator extends KernelOperator {
  constructor(
    exports: KernelExports,
    plan: KernelPlan,
    private readonly table: KeyTable,
  ) {
    super(exports, plan, Number.MAX_SAFE_INTEGER); // every group is this operator's
  }

  protected override groupOf(key: number): number {
    return this.table.group[key]!;
  }
}

/**
 * A worker's kernels: one operator (one WebAssembly instance) running the
 * keys of every partition it holds (see {@link PartitionState}).
 */
export class KeyedKernels {
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;

  private constructor(
    /** @internal */ readonly op: PartitionedOperator,
    /** @internal */ readonly kernel: Kernel,
    private readonly table: KeyTable,
  ) {}

  /** One operator running `spec`, for any number of partitions. */
  static async create(spec: KernelSpec): Promise<KeyedKernels> {
    const plan = planFor(normalizeSpec(spec));
    const table = new KeyTable();
    const op = new PartitionedOperator(await instantiateKernel(await compiledModule(plan.module)), plan, table);
    return new KeyedKernels(op, { plan, hash: buildHash(plan.module) }, table);
  }

  /** A new, empty partition on this operator; dispose() it when the partition is given back. */
  partition(): PartitionState {
    return new PartitionState(this, this.freeSlots.pop() ?? this.nextSlot++);
  }

  /** Keys held, over every partition. */
  get keys(): number {
    return this.op.keys;
  }

  /** Bytes of key state allocated: see KernelOperator.stateBytes. */
  get stateBytes(): number {
    return this.op.stateBytes;
  }

  /** @internal */
  allocKey(group: number, local: number): number {
    return this.table.alloc(group, local);
  }

  /** @internal The id in its partition of an operator key. */
  localOf(key: number): number {
    return this.table.local[key]!;
  }

  /** @internal Forgets a partition's groups and keys; its slot and keys go to partitions taken later. */
  release(slot: number, groups: Iterable<number>, keys: Iterable<number>): void {
    for (const group of groups) this.op.dropGroup(slot * STATE_GROUPS + group);
    for (const key of keys) this.table.release(key);
    this.freeSlots.push(slot);
  }
}

/** A partition's keys and their kernels, on its worker's operator. */
export class PartitionState {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  private readonly utf8: Uint8Array[] = [];
  /** Key group by id. */
  private groupOf = new Int32Array(64);
  /** Operator key by id. */
  private opKey = new Uint32Array(64);
  /** Per group: the batch stamp that last touched it (see touchedGroups). */
  private readonly stamp = new Int32Array(STATE_GROUPS);
  private batch = 1;
  private touched: number[] = [];
  /**
   * Ids by their key's UTF-8, an open-addressing table (id + 1 per slot, 0:
   * empty) of the keys whose UTF-8 decodes back to them: the worker finds a
   * key column's known keys from their bytes (knownKey) instead of decoding
   * each one (issue 14).
   */
  private byUtf8 = new Int32Array(64);
  private byUtf8Count = 0;
  /** Group records read by restoreGroup(), loaded by checkRestored(). */
  private pending = new Map<number, { ids: Uint32Array; keys: string[]; states: Uint8Array }>();
  private disposed = false;
  /** This partition's first group in the operator. */
  private readonly base: number;

  /** @internal Use KeyedKernels.partition(). */
  constructor(
    private readonly kernels: KeyedKernels,
    private readonly slot: number,
  ) {
    this.base = slot * STATE_GROUPS;
  }

  /** An empty partition running `spec` on an operator of its own. */
  static async create(spec: KernelSpec): Promise<PartitionState> {
    return (await KeyedKernels.create(spec)).partition();
  }

  private get op(): KernelOperator {
    if (this.disposed) throw new Error('partition state used after dispose()');
    return this.kernels.op;
  }

  private get kernel(): Kernel {
    return this.kernels.kernel;
  }

  /** Keys held. */
  get size(): number {
    return this.names.length;
  }

  /**
   * The operator key of a key (what process() takes), its dense id assigned
   * on first sight; notes its key group as touched (see takeTouched).
   */
  idOf(key: string): number {
    let id = this.ids.get(key);
    if (id === undefined) id = this.add(key, this.names.length);
    const group = this.groupOf[id]!;
    if (this.stamp[group] !== this.batch) {
      this.stamp[group] = this.batch;
      this.touched.push(group);
    }
    return this.opKey[id]!;
  }

  /** The key whose UTF-8 is `bytes[start, end)`, if this partition holds it, else undefined (the partition is decodeEntry's KnownKey). */
  knownKey(bytes: Uint8Array, start: number, end: number): string | undefined {
    const table = this.byUtf8;
    const mask = table.length - 1;
    for (let h = utf8Hash(bytes, start, end); ; h++) {
      const id = table[h & mask]! - 1;
      if (id < 0) return undefined;
      const utf8 = this.utf8[id]!;
      if (utf8.length !== end - start) continue;
      let i = 0;
      while (i < utf8.length && utf8[i] === bytes[start + i]) i++;
      if (i === utf8.length) return this.names[id];
    }
  }

  private indexUtf8(id: number): void {
    if (2 * (this.byUtf8Count + 1) > this.byUtf8.length) {
      const old = this.byUtf8;
      this.byUtf8 = new Int32Array(2 * old.length);
      this.byUtf8Count = 0;
      for (const slot of old) if (slot !== 0) this.indexUtf8(slot - 1);
    }
    const table = this.byUtf8;
    const mask = table.length - 1;
    const utf8 = this.utf8[id]!;
    let h = utf8Hash(utf8, 0, utf8.length);
    while (table[h & mask] !== 0) h++;
    table[h & mask] = id + 1;
    this.byUtf8Count++;
  }

  private add(key: string, id: number): number {
    this.ids.set(key, id);
    this.names[id] = key;
    this.utf8[id] = encoder.encode(key);
    // Only a key its bytes decode back to (not one with a lone surrogate, from a JSON k, or a leading U+FEFF, which decoding drops).
    if (roundTrips(key, this.utf8[id]!)) this.indexUtf8(id);
    if (id >= this.groupOf.length) {
      const n = Math.max(2 * this.groupOf.length, id + 1);
      const [groups, keys] = [new Int32Array(n), new Uint32Array(n)];
      groups.set(this.groupOf);
      keys.set(this.opKey);
      [this.groupOf, this.opKey] = [groups, keys];
    }
    const group = keyGroupOf(id, STATE_GROUPS);
    this.groupOf[id] = group;
    this.opKey[id] = this.kernels.allocKey(this.base + group, id);
    return id;
  }

  /**
   * Runs a batch (entries in stream order, `keys` as operator keys from
   * idOf) through the kernels, writing each part's results to its `out`.
   */
  process(parts: readonly RowsPart[]): void {
    this.op.processParts(parts);
  }

  /**
   * About how many bytes of key state the groups touched since the last
   * takeTouched hold (their keys' kernel states; a group holds about
   * keys/32 768 keys, at least one): what storing the state now writes.
   */
  pendingStateBytes(): number {
    return this.touched.length * Math.max(1, Math.ceil(this.names.length / STATE_GROUPS)) * this.op.bytesPerKey;
  }

  /** The key groups touched since the last call, and forgets them. */
  takeTouched(): number[] {
    const touched = this.touched;
    this.touched = [];
    this.batch++; // a group touched after this call is new again
    return touched;
  }

  /** Gives the partition's keys, state and place in the operator back (idempotent). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const ids = [...this.ids.values()];
    this.kernels.release(
      this.slot,
      new Set(ids.map((id) => this.groupOf[id]!)),
      ids.map((id) => this.opKey[id]!),
    );
  }

  /** A group's states as the operator holds them (ids are operator keys), or undefined. */
  private statesOf(group: number): Uint8Array | undefined {
    return this.op.snapshotGroup(this.base + group);
  }

  /**
   * One key group's state record (format 2): a kernel snapshot envelope
   * (magic, build hash, kernel parameters, CRC-32; src/snapshot.ts) whose
   * state region is the operator's group state (u32 keys K, u32 state bytes S,
   * K u32 ids, K × S bytes of state) followed by K times u32 length + UTF-8 key.
   */
  groupRecord(group: number): Uint8Array {
    const states = this.statesOf(group)!;
    const statesView = new DataView(states.buffer, states.byteOffset);
    const count = statesView.getUint32(0, true);
    let size = states.length;
    const ids = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      ids[i] = this.kernels.localOf(statesView.getUint32(8 + 4 * i, true));
      size += 4 + this.utf8[ids[i]!]!.length;
    }
    // The body is written into the envelope: one copy of the states, not two.
    return encodeSnapshotWith(this.kernel.plan, this.kernel.hash, size, (body) => {
      body.set(states);
      const view = new DataView(body.buffer, body.byteOffset, body.length);
      let at = states.length;
      for (let i = 0; i < count; i++) {
        const name = this.utf8[ids[i]!]!;
        view.setUint32(8 + 4 * i, ids[i]!, true); // the partition's ids, not the operator's keys
        view.setUint32(at, name.length, true);
        body.set(name, at + 4);
        at += 4 + name.length;
      }
    });
  }

  /**
   * Reads one group record (format 2) and keeps it until checkRestored(),
   * which loads every record: ids are only known to be dense (0..K-1) once
   * all groups are read, and nothing may be sized by an id before that (a
   * forged id of 4 billion would allocate gigabytes). Throws SnapshotError
   * for anything wrong with the record.
   */
  restoreGroup(group: number, record: Uint8Array): void {
    const body = this.open(record);
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const bad = (why: string): never => {
      throw new SnapshotError('BAD_STATE', `state of key group ${group}: ${why}`);
    };
    if (this.pending.has(group)) bad('restored twice');
    if (body.length < 8) bad('truncated');
    const count = view.getUint32(0, true);
    const statesEnd = 8 + count * (4 + view.getUint32(4, true));
    if (statesEnd > body.length) bad('truncated');
    const ids = new Uint32Array(count);
    const keys: string[] = [];
    let at = statesEnd;
    for (let i = 0; i < count; i++) {
      if (at + 4 > body.length) bad('truncated');
      const length = view.getUint32(at, true);
      if (at + 4 + length > body.length) bad('truncated');
      ids[i] = view.getUint32(8 + 4 * i, true);
      if (keyGroupOf(ids[i]!, STATE_GROUPS) !== group) bad(`key id ${ids[i]} belongs to key group ${keyGroupOf(ids[i]!, STATE_GROUPS)}`);
      keys.push(decoder.decode(body.subarray(at + 4, at + 4 + length)));
      at += 4 + length;
    }
    if (at !== body.length) bad('trailing bytes');
    this.pending.set(group, { ids, keys, states: body.slice(0, statesEnd) });
  }

  /**
   * Loads the records restoreGroup() read, once all are read: their ids must
   * be 0..K-1, each once (K keys in all), as every checkpoint writes them;
   * new keys then take the next id. Throws SnapshotError otherwise.
   */
  checkRestored(): void {
    const pending = this.pending;
    this.pending = new Map();
    const first = this.names.length;
    let total = first;
    for (const { ids } of pending.values()) total += ids.length;
    // Validate everything before the first key is added: never half-loaded.
    const seen = new Uint8Array(total); // sized by the records' bytes, not by an id
    const names = new Set<string>();
    for (const [group, { ids, keys }] of pending) {
      ids.forEach((id, i) => {
        const key = keys[i]!;
        if (id < first || id >= total) throw new SnapshotError('BAD_STATE', `state of key group ${group}: key id ${id}, but the partition's state holds ${total} keys (ids 0 to ${total - 1})`);
        if (seen[id] === 1 || names.has(key) || this.ids.has(key)) throw new SnapshotError('BAD_STATE', `state of key group ${group}: key ${JSON.stringify(key.slice(0, 80))} or id ${id} appears twice`);
        seen[id] = 1;
        names.add(key);
      });
    }
    for (const { ids, keys } of pending.values()) ids.forEach((id, i) => this.add(keys[i]!, id));
    for (const [group, { states }] of pending) {
      const view = new DataView(states.buffer);
      const count = view.getUint32(0, true);
      for (let i = 0; i < count; i++) view.setUint32(8 + 4 * i, this.opKey[view.getUint32(8 + 4 * i, true)]!, true);
      this.load(group, states);
    }
  }

  /** Every key's kernel snapshot (the core's format), in id order: the format-1 `state`. */
  snapshots(): Map<string, Uint8Array> {
    const states = new Map<number, Uint8Array>();
    for (const group of new Set(this.groupOf.subarray(0, this.names.length))) {
      const bytes = this.statesOf(group)!;
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      const [count, size] = [view.getUint32(0, true), view.getUint32(4, true)];
      for (let i = 0; i < count; i++) {
        const at = 8 + 4 * count + i * size;
        states.set(this.kernels.localOf(view.getUint32(8 + 4 * i, true)), bytes.subarray(at, at + size));
      }
    }
    const out = new Map<string, Uint8Array>();
    for (let id = 0; id < this.names.length; id++) out.set(this.names[id]!, encodeSnapshot(this.kernel.plan, this.kernel.hash, states.get(id)!));
    return out;
  }

  /** Loads every key from kernel snapshots (format 1), ids in map order. Throws SnapshotError naming the key. */
  restoreSnapshots(snapshots: ReadonlyMap<string, Uint8Array>): void {
    const groups = new Map<number, { ids: number[]; states: Uint8Array[] }>();
    for (const [key, snapshot] of snapshots) {
      let state: Uint8Array;
      try {
        state = this.open(snapshot);
      } catch (err) {
        if (err instanceof SnapshotError) throw new SnapshotError(err.code, `key ${JSON.stringify(key.slice(0, 80))}: ${err.message}`);
        throw err;
      }
      const id = this.add(key, this.names.length);
      const group = this.groupOf[id]!;
      let list = groups.get(group);
      if (list === undefined) groups.set(group, (list = { ids: [], states: [] }));
      list.ids.push(id);
      list.states.push(state);
    }
    for (const [group, { ids, states }] of groups) {
      const size = states[0]!.length;
      const bytes = new Uint8Array(8 + ids.length * (4 + size));
      const view = new DataView(bytes.buffer);
      view.setUint32(0, ids.length, true);
      view.setUint32(4, size, true);
      ids.forEach((id, i) => {
        view.setUint32(8 + 4 * i, this.opKey[id]!, true);
        if (states[i]!.length !== size) throw new SnapshotError('BAD_STATE', `key ${JSON.stringify(this.names[id]!.slice(0, 80))}: kernel state of ${states[i]!.length} bytes, expected ${size}`);
        bytes.set(states[i]!, 8 + 4 * ids.length + i * size);
      });
      this.load(group, bytes);
    }
  }

  /** A record's envelope checked (framing, CRC, build, kernel parameters): its state region. */
  private open(record: Uint8Array): Uint8Array {
    const { plan, state } = decodeSnapshot(record, buildHash);
    const want = this.kernel.plan;
    if (plan.module !== want.module || plan.code !== want.code || plan.window !== want.window || plan.minPeriods !== want.minPeriods || !Object.is(plan.p0, want.p0) || !Object.is(plan.p1, want.p1)) {
      throw new SnapshotError('OP_MISMATCH', `snapshot is of kernel ${JSON.stringify(plan)}, expected ${JSON.stringify(want)}`);
    }
    return state;
  }

  /** Hands a group's states (ids as operator keys) to the operator, which validates each key's state in WASM. */
  private load(group: number, bytes: Uint8Array): void {
    try {
      this.op.restoreGroup(this.base + group, bytes);
    } catch (err) {
      if (err instanceof CheckpointError) throw new SnapshotError('BAD_STATE', `key group ${group}: ${err.message}`);
      throw err;
    }
  }
}
