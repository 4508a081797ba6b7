// Owns the WebAssembly side: compiles each kernel module once, instantiates
// one private instance per kernel, and keeps Float64Array views on its memory
// (rebuilt only when memory grows). Every kernel module exports the same ABI,
// defined in assembly/common.ts.
import { WASM_MODULES } from './generated/wasm.js';
import type { KernelPlan, ModuleName } from './spec.js';

/** The exports every kernel module shares (see assembly/common.ts). */
export interface KernelExports {
  memory: WebAssembly.Memory;
  init(op: number, window: number, minPeriods: number, p0: number, p1: number): number;
  update(rows: number): void;
  /** One row through update(): its result, with the same state as update() of that row alone. */
  pushValue(value: number): number;
  reset(): void;
  validate(): number;
  statePtr(): number;
  stateSize(): number;
  inputPtr(): number;
  outputPtr(): number;
  capacity(): number;
  reserve(rows: number): number;
  /** Points the kernel at another state region of stateSize() bytes (the scheduler's per-key states). */
  useState(ptr: number): void;
  /** A new 64-aligned region that never moves; 0 when memory cannot grow. */
  alloc(bytes: number): number;
  /** Runs `n` keys' rows in one call: a table of `u32 state, u32 input, u32 output, i32 rows` per key. */
  runKeys(n: number, table: number): void;
}

/** Status codes of init() and validate(). */
export const STATUS_OK = 0;
export const STATUS_BAD_PARAMS = 1;
export const STATUS_OUT_OF_MEMORY = 2;
export const STATUS_BAD_STATE = 3;

/** The most rows an IO buffer may hold (must match reserve() in assembly/common.ts). */
export const MAX_IO_ROWS = 1 << 26;

function embedded(name: ModuleName): { buildHash: string; base64: string } {
  const module = WASM_MODULES[name];
  if (module === undefined) throw new Error(`kernel module '${name}' is missing from this build`);
  return module;
}

const compiled = new Map<ModuleName, Promise<WebAssembly.Module>>();

/** Node's Buffer where there is one: it decodes in native code, where the loop below costs a cold start milliseconds. */
const NodeBuffer = (globalThis as { Buffer?: { from(text: string, encoding: 'base64'): Uint8Array } }).Buffer;

function decodeBase64(base64: string): Uint8Array {
  if (NodeBuffer !== undefined) return NodeBuffer.from(base64, 'base64');
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * The exports of an instance of a small embedded module that is not a kernel
 * (`crc32`, `dtoa`), compiled synchronously; undefined where that is refused
 * (a browser's main thread refuses modules over 4 KB) or the module is not in
 * this build: the caller then does the work in JavaScript. `imports`: what
 * the module imports (`keygroup`: a kernel instance's memory and runKeys).
 */
export function instantiateSync<T>(name: string, imports?: WebAssembly.Imports): T | undefined {
  const module = WASM_MODULES[name];
  if (module === undefined) return undefined;
  try {
    // Compiled once per thread: a module with an instance per user (the CSV scanner's) is not compiled again for each.
    let compiledSync = syncModules.get(name);
    if (compiledSync === undefined) syncModules.set(name, (compiledSync = new WebAssembly.Module(decodeBase64(module.base64) as BufferSource)));
    return new WebAssembly.Instance(compiledSync, imports).exports as unknown as T;
  } catch {
    return undefined;
  }
}

const syncModules = new Map<string, WebAssembly.Module>();

/** The compiled module, compiled on first use and shared by every kernel of the module. */
export function compiledModule(name: ModuleName): Promise<WebAssembly.Module> {
  let module = compiled.get(name);
  if (module === undefined) {
    module = WebAssembly.compile(decodeBase64(embedded(name).base64) as BufferSource);
    compiled.set(name, module);
  }
  return module;
}

/**
 * A fresh, private instance of a compiled kernel module, typed as its exports.
 * Kernel modules import nothing (stub runtime, no abort), so none are passed.
 */
export async function instantiateKernel<Exports = KernelExports>(module: WebAssembly.Module): Promise<Exports> {
  const instance = await WebAssembly.instantiate(module);
  return instance.exports as unknown as Exports;
}

/** The first 8 bytes of the SHA-256 of the module's WASM bytes, as hex. */
export function buildHash(name: ModuleName): string {
  return embedded(name).buildHash;
}

/** One kernel's private WASM instance and views on its memory. */
export class KernelInstance {
  readonly exports: KernelExports;
  private buffer: ArrayBuffer | undefined;
  private inputView = new Float64Array(0);
  private outputView = new Float64Array(0);

  private constructor(exports: KernelExports) {
    this.exports = exports;
  }

  /** A new instance with init() applied; throws RangeError when the plan cannot run. */
  static async create(plan: KernelPlan): Promise<KernelInstance> {
    const kernel = new KernelInstance(await instantiateKernel(await compiledModule(plan.module)));
    kernel.init(plan);
    return kernel;
  }

  private init(plan: KernelPlan): void {
    const status = this.exports.init(plan.code, plan.window, plan.minPeriods, plan.p0, plan.p1);
    if (status === STATUS_OUT_OF_MEMORY) throw new RangeError(`not enough WebAssembly memory for a window of ${plan.window} rows`);
    if (status !== STATUS_OK) throw new RangeError(`kernel module '${plan.module}' refused its parameters (status ${status})`);
  }

  /** The input buffer, `capacity` rows, as a view on WASM memory; rebuilt only after memory grows. */
  get input(): Float64Array {
    this.refreshViews();
    return this.inputView;
  }

  /** The output buffer, `capacity` rows, as a view on WASM memory; rebuilt only after memory grows. */
  get output(): Float64Array {
    this.refreshViews();
    return this.outputView;
  }

  private refreshViews(): void {
    const buffer = this.exports.memory.buffer as ArrayBuffer;
    const capacity = this.exports.capacity();
    if (buffer !== this.buffer || this.inputView.length !== capacity) {
      this.buffer = buffer;
      this.inputView = new Float64Array(buffer, this.exports.inputPtr(), capacity);
      this.outputView = new Float64Array(buffer, this.exports.outputPtr(), capacity);
    }
  }

  /** Makes the IO buffers hold at least `rows` rows. */
  reserve(rows: number): void {
    if (rows > MAX_IO_ROWS) throw new RangeError(`cannot buffer more than ${MAX_IO_ROWS} rows at once, asked for ${rows}`);
    if (this.exports.reserve(rows) !== 1) throw new RangeError(`not enough WebAssembly memory to buffer ${rows} rows`);
  }

  /** The state region: what a snapshot carries. A view, valid until memory grows. */
  state(): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer, this.exports.statePtr(), this.exports.stateSize());
  }
}
