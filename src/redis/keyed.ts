// One partition's keyed state: the scheduler's keyed kernel operator (ONE
// WebAssembly instance for all the partition's keys, each key's state in a
// slab), behind string keys.
//
// Keys get dense ids (0, 1, 2, … in order of first sight, kept in the
// checkpoint), and ids fall into STATE_GROUPS key groups (keyGroupOf), the
// unit of an incremental commit: a format-2 commit rewrites only the groups
// its rows touched. Groups are many and small (a few keys each even at
// 100 000 keys per partition), so a commit's state grows with the keys it
// touched, not with the keys the partition holds.
import { buildHash, compiledModule } from '../engine.js';
import { SnapshotError } from '../errors.js';
import { createKernelOperator, type GroupOperator, type RowsPart } from '../scheduler/operator.js';
import { CheckpointError } from '../scheduler/errors.js';
import { keyGroupOf } from '../scheduler/hash.js';
import { decodeSnapshot, encodeSnapshot } from '../snapshot.js';
import { normalizeSpec, planFor, type KernelPlan } from '../spec.js';
import type { KernelSpec } from '../types.js';

/** Key groups of a partition's state (format 2: one hash field each). Part of the checkpoint format: do not change. */
export const STATE_GROUPS = 32_768;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The kernel plan of a spec and its module's build hash: what every state record is checked against. */
interface Kernel {
  plan: KernelPlan;
  hash: string;
}

/** A partition's keys and their kernels, over one WebAssembly instance. */
export class PartitionState {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  private readonly utf8: Uint8Array[] = [];
  /** Key group by id. */
  private groupOf = new Int32Array(64);
  /** Per group: the batch stamp that last touched it (see touchedGroups). */
  private readonly stamp = new Int32Array(STATE_GROUPS);
  private batch = 1;
  private touched: number[] = [];

  private constructor(
    private readonly op: GroupOperator,
    private readonly kernel: Kernel,
  ) {}

  /** An empty partition running `spec`. */
  static async create(spec: KernelSpec): Promise<PartitionState> {
    const plan = planFor(normalizeSpec(spec));
    const op = await createKernelOperator(await compiledModule(plan.module), normalizeSpec(spec), STATE_GROUPS);
    return new PartitionState(op, { plan, hash: buildHash(plan.module) });
  }

  /** Keys held. */
  get size(): number {
    return this.names.length;
  }

  /** The dense id of a key, assigned on first sight. */
  idOf(key: string): number {
    let id = this.ids.get(key);
    if (id === undefined) id = this.add(key, this.names.length);
    return id;
  }

  private add(key: string, id: number): number {
    this.ids.set(key, id);
    this.names[id] = key;
    this.utf8[id] = encoder.encode(key);
    if (id >= this.groupOf.length) {
      const grown = new Int32Array(Math.max(2 * this.groupOf.length, id + 1));
      grown.set(this.groupOf);
      this.groupOf = grown;
    }
    this.groupOf[id] = keyGroupOf(id, STATE_GROUPS);
    return id;
  }

  /**
   * Runs a batch (entries in stream order, `keys` as ids from idOf) through
   * the kernels, writing each part's results to its `out`, and notes the
   * key groups it touched.
   */
  process(parts: readonly RowsPart[]): void {
    const stamp = this.batch;
    for (const { keys } of parts) {
      for (let i = 0; i < keys!.length; i++) {
        const group = this.groupOf[keys![i]!]!;
        if (this.stamp[group] !== stamp) {
          this.stamp[group] = stamp;
          this.touched.push(group);
        }
      }
    }
    this.op.processParts(parts);
  }

  /** The key groups touched since the last call, and forgets them. */
  takeTouched(): number[] {
    const touched = this.touched;
    this.touched = [];
    this.batch++; // a group touched after this call is new again
    return touched;
  }

  /**
   * One key group's state record (format 2): a kernel snapshot envelope
   * (magic, build hash, kernel parameters, CRC-32; src/snapshot.ts) whose
   * state region is the operator's group state (u32 keys K, u32 state bytes S,
   * K u32 ids, K × S state bytes) followed by K times u32 length + UTF-8 key.
   */
  groupRecord(group: number): Uint8Array {
    const states = this.op.snapshotGroup(group)!;
    const count = new DataView(states.buffer, states.byteOffset).getUint32(0, true);
    const ids = new Uint32Array(count);
    let size = states.length;
    for (let i = 0; i < count; i++) {
      ids[i] = new DataView(states.buffer, states.byteOffset).getUint32(8 + 4 * i, true);
      size += 4 + this.utf8[ids[i]!]!.length;
    }
    const body = new Uint8Array(size);
    body.set(states);
    const view = new DataView(body.buffer);
    let at = states.length;
    for (const id of ids) {
      const name = this.utf8[id]!;
      view.setUint32(at, name.length, true);
      body.set(name, at + 4);
      at += 4 + name.length;
    }
    return encodeSnapshot(this.kernel.plan, this.kernel.hash, body);
  }

  /** Loads one group record (format 2). Throws SnapshotError for anything wrong with it. */
  restoreGroup(group: number, record: Uint8Array): void {
    const body = this.open(record);
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const bad = (why: string): never => {
      throw new SnapshotError('BAD_STATE', `state of key group ${group}: ${why}`);
    };
    if (body.length < 8) bad('truncated');
    const count = view.getUint32(0, true);
    const statesEnd = 8 + count * (4 + view.getUint32(4, true));
    if (statesEnd > body.length) bad('truncated');
    let at = statesEnd;
    for (let i = 0; i < count; i++) {
      if (at + 4 > body.length) bad('truncated');
      const length = view.getUint32(at, true);
      if (at + 4 + length > body.length) bad('truncated');
      const id = view.getUint32(8 + 4 * i, true);
      const key = decoder.decode(body.subarray(at + 4, at + 4 + length));
      if (this.ids.has(key) || this.names[id] !== undefined) bad(`key ${JSON.stringify(key.slice(0, 80))} or id ${id} appears twice`);
      this.add(key, id);
      at += 4 + length;
    }
    if (at !== body.length) bad('trailing bytes');
    this.load(group, body.subarray(0, statesEnd));
  }

  /** Checks ids are dense (0..K-1) once every group is loaded: new keys take the next id. */
  checkRestored(): void {
    for (let id = 0; id < this.names.length; id++) {
      if (this.names[id] === undefined) throw new SnapshotError('BAD_STATE', `the partition's state lacks key id ${id} of ${this.names.length}`);
    }
  }

  /** Every key's kernel snapshot (the core's format), in id order: the format-1 `state`. */
  snapshots(): Map<string, Uint8Array> {
    const states = new Map<number, Uint8Array>();
    for (const group of new Set(this.groupOf.subarray(0, this.names.length))) {
      const bytes = this.op.snapshotGroup(group)!;
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      const [count, size] = [view.getUint32(0, true), view.getUint32(4, true)];
      for (let i = 0; i < count; i++) {
        const at = 8 + 4 * count + i * size;
        states.set(view.getUint32(8 + 4 * i, true), bytes.subarray(at, at + size));
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
        view.setUint32(8 + 4 * i, id, true);
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

  /** Hands a group's states to the operator, which validates each key's state in WASM. */
  private load(group: number, bytes: Uint8Array): void {
    try {
      this.op.restoreGroup(group, bytes);
    } catch (err) {
      if (err instanceof CheckpointError) throw new SnapshotError('BAD_STATE', err.message);
      throw err;
    }
  }
}
