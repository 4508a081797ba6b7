// Validates user specs, fills in defaults, and maps each op onto the kernel
// module that runs it and the parameters of that module's init().
import { MAX_WINDOW, type EwmStat, type KernelSpec, type NormalizedEwmSpec, type NormalizedRollingSpec, type NormalizedSpec, type RollingOp } from './types.js';
import { checkFields, describe } from './validation.js';

/** The kernel modules in assembly/kernels/, by file name. */
export type ModuleName = 'sum' | 'minmax' | 'var' | 'median' | 'ewm' | 'timeroll';

/** How a normalized spec is run: which module, and the arguments of its init(). */
export interface KernelPlan {
  module: ModuleName;
  /** Op code within the module. */
  code: number;
  window: number;
  minPeriods: number;
  p0: number;
  p1: number;
}

const ROLLING_PLANS: Record<RollingOp, { module: ModuleName; code: number }> = {
  sum: { module: 'sum', code: 0 },
  mean: { module: 'sum', code: 1 },
  count: { module: 'sum', code: 2 },
  min: { module: 'minmax', code: 0 },
  max: { module: 'minmax', code: 1 },
  var: { module: 'var', code: 0 },
  std: { module: 'var', code: 1 },
  median: { module: 'median', code: 0 },
  quantile: { module: 'median', code: 1 },
};

const ROLLING_OPS = Object.keys(ROLLING_PLANS) as RollingOp[];
/**
 * Every op a {@link KernelSpec} can name, in the order error messages list
 * them: the one list that tests and tools enumerate, so a new op is covered
 * everywhere by adding it here.
 */
export const KERNEL_OPS: readonly KernelSpec['op'][] = [...ROLLING_OPS, 'ewm'];
const ROLLING_FIELDS = ['op', 'window', 'minPeriods', 'ddof', 'q'];
const EWM_FIELDS = ['op', 'alpha', 'span', 'halflife', 'com', 'adjust', 'minPeriods', 'stat'];
/**
 * What an ewm spec computes, by its `stat` field (absent: 'mean'); the index
 * is the ewm module's op code. The matrix tests run every one of them.
 */
export const EWM_STATS: readonly EwmStat[] = ['mean', 'var', 'std'];
/** The ways to give ewm's decay; a spec gives exactly one. */
export const EWM_DECAY_FIELDS = ['alpha', 'span', 'halflife', 'com'] as const;

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

/**
 * A normalized spec with every -0 field as 0: they are the same parameter
 * (the kernels give the same bits for both), and one spelling keeps
 * normalized specs Object.is-equal across JSON (which writes -0 as 0) and
 * snapshots (which store counts as u32).
 */
export function unsignedFields<T extends object>(spec: T): T {
  const fields = spec as Record<string, unknown>;
  for (const [k, v] of Object.entries(fields)) if (typeof v === 'number') fields[k] = v + 0; // -0 + 0 is 0
  return spec;
}

/**
 * Checks a spec and fills in its defaults. Throws `TypeError` for a wrong
 * type, a missing or unknown field, and `RangeError` for a value out of range;
 * every message names the field.
 *
 * @example
 * ```ts
 * normalizeSpec({ op: 'std', window: 20 }); // { op: 'std', window: 20, minPeriods: 20, ddof: 1 }
 * normalizeSpec({ op: 'ewm', span: 3 });    // { op: 'ewm', com: 1, alpha: 0.5, adjust: true, minPeriods: 0 }
 * normalizeSpec({ op: 'ewm', span: 3, stat: 'std' }); // { op: 'ewm', com: 1, alpha: 0.5, adjust: true, minPeriods: 0, stat: 'std' }
 * ```
 */
export function normalizeSpec(spec: unknown): NormalizedSpec {
  if (typeof spec !== 'object' || spec === null) throw new TypeError(`spec must be an object, got ${describe(spec)}`);
  const op = (spec as { op?: unknown }).op;
  if (op === 'ewm') return unsignedFields(normalizeEwm(spec as Record<string, unknown>));
  if (typeof op !== 'string' || !(ROLLING_OPS as string[]).includes(op)) {
    throw new TypeError(`op must be one of ${KERNEL_OPS.map((o) => `'${o}'`).join(', ')}, got ${describe(op)}`);
  }
  return unsignedFields(normalizeRolling(op as RollingOp, spec as Record<string, unknown>));
}

function normalizeRolling(op: RollingOp, spec: Record<string, unknown>): NormalizedSpec {
  checkFields(spec, ROLLING_FIELDS, `'${op}'`);
  const { window, minPeriods, ddof, q } = spec;
  if (!isInteger(window) || window < 1 || window > MAX_WINDOW) {
    throw new RangeError(`window must be an integer from 1 to ${MAX_WINDOW}, got ${describe(window)}`);
  }
  const normalized: NormalizedRollingSpec = { op, window, minPeriods: window };
  if (minPeriods !== undefined) {
    if (!isInteger(minPeriods) || minPeriods < 0 || minPeriods > window) {
      throw new RangeError(`minPeriods must be an integer from 0 to window (${window}), got ${describe(minPeriods)}`);
    }
    normalized.minPeriods = minPeriods;
  }
  if (op === 'var' || op === 'std') {
    normalized.ddof = 1;
    if (ddof !== undefined) {
      if (!isInteger(ddof) || ddof < 0 || ddof > MAX_WINDOW) {
        throw new RangeError(`ddof must be a non-negative integer, got ${describe(ddof)}`);
      }
      normalized.ddof = ddof;
    }
  } else if (ddof !== undefined) {
    throw new TypeError(`ddof applies only to 'var' and 'std', not to '${op}'`);
  }
  if (op === 'quantile') {
    if (q === undefined) throw new TypeError(`q is required for 'quantile'`);
    if (typeof q !== 'number' || !(q >= 0 && q <= 1)) throw new RangeError(`q must be a number in [0, 1], got ${describe(q)}`);
    normalized.q = q;
  } else if (q !== undefined) {
    throw new TypeError(`q applies only to 'quantile', not to '${op}'`);
  }
  return normalized;
}

function normalizeEwm(spec: Record<string, unknown>): NormalizedSpec {
  checkFields(spec, EWM_FIELDS, `'ewm'`);
  const given = EWM_DECAY_FIELDS.filter((field) => spec[field] !== undefined);
  if (given.length !== 1) {
    const got = given.length === 0 ? 'none' : given.join(' and ');
    throw new TypeError(`exactly one of alpha, span, halflife, com is required, got ${got}`);
  }
  const field = given[0]!;
  const value = spec[field];
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${field} must be a number, got ${describe(value)}`);
  // pandas derives everything from the centre of mass; doing the same keeps results bit-identical.
  let com: number;
  switch (field) {
    case 'alpha':
      if (!(value > 0 && value <= 1)) throw new RangeError(`alpha must be in (0, 1], got ${value}`);
      com = (1 - value) / value;
      break;
    case 'span':
      if (!(value >= 1 && value < Infinity)) throw new RangeError(`span must be a finite number ≥ 1, got ${value}`);
      com = (value - 1) / 2;
      break;
    case 'halflife':
      if (!(value > 0 && value < Infinity)) throw new RangeError(`halflife must be a finite number > 0, got ${value}`);
      com = 1 / (1 - Math.exp(Math.log(0.5) / value)) - 1;
      break;
    case 'com':
      if (!(value >= 0 && value < Infinity)) throw new RangeError(`com must be a finite number ≥ 0, got ${value}`);
      com = value;
      break;
  }
  // A decay too slow for doubles: com overflows, which no kernel runs and no checkpoint's JSON holds.
  if (com === Infinity) throw new RangeError(`${field} must give a finite centre of mass (com), got ${value}`);
  const adjust = spec.adjust ?? true;
  if (typeof adjust !== 'boolean') throw new TypeError(`adjust must be a boolean, got ${describe(adjust)}`);
  const minPeriods = spec.minPeriods ?? 0;
  if (!isInteger(minPeriods) || minPeriods < 0 || minPeriods > 0x7fffffff) {
    throw new RangeError(`minPeriods must be a non-negative integer, got ${describe(minPeriods)}`);
  }
  const stat = spec.stat === undefined ? 'mean' : spec.stat;
  if (typeof stat !== 'string' || !(EWM_STATS as string[]).includes(stat)) {
    throw new TypeError(`stat must be one of ${EWM_STATS.map((s) => `'${s}'`).join(', ')}, got ${describe(stat)}`);
  }
  const normalized: NormalizedEwmSpec = { op: 'ewm', com, alpha: 1 / (1 + com), adjust, minPeriods };
  // Present only when not the mean, so that specs (and checkpoints) of the mean stay as they were.
  if (stat !== 'mean') normalized.stat = stat as EwmStat;
  return normalized;
}

/** Same normalized spec: the same fields, each Object.is-equal. */
export function sameSpec(a: NormalizedSpec, b: NormalizedSpec): boolean {
  return sameFields(a, b);
}

/** Whether two normalized specs of any kind have the same fields, each Object.is-equal. */
export function sameFields(a: object, b: object): boolean {
  return differingField(a, b) === undefined;
}

/** The first field in which two specs differ (present in one only, or not Object.is-equal), or undefined. */
function differingField(a: object, b: object): string | undefined {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  return [...new Set([...Object.keys(x), ...Object.keys(y)])].find((k) => !Object.is(x[k], y[k]));
}

function show(value: unknown): string {
  return Object.is(value, -0) ? '-0' : describe(value);
}

/**
 * Reads back a spec that {@link normalizeSpec} returned (as stored in a
 * checkpoint): returns it when it is exactly a normalized spec, and throws
 * `TypeError`/`RangeError` naming the field otherwise. A normalized ewm spec
 * holds `com` and the `alpha` derived from it, so it is checked as the
 * input spec with `com` alone, and `alpha` must then be the derived one.
 *
 * @example
 * ```ts
 * specFromNormalized(normalizeSpec({ op: 'ewm', span: 10 })); // { op: 'ewm', com: 4.5, alpha: 0.18181818181818182, adjust: true, minPeriods: 0 }
 * specFromNormalized({ op: 'mean', window: 5 });              // RangeError: minPeriods must be 5 in a normalized spec, got undefined
 * ```
 */
export function specFromNormalized(value: unknown): NormalizedSpec {
  if (typeof value !== 'object' || value === null) throw new TypeError(`spec must be an object, got ${describe(value)}`);
  const given = value as Record<string, unknown>;
  const input = { ...given };
  if (given.op === 'ewm' && given.com !== undefined) delete input.alpha;
  const spec = normalizeSpec(input);
  const field = differingField(spec, given);
  if (field !== undefined) {
    const want = (spec as unknown as Record<string, unknown>)[field];
    throw new RangeError(`${field} must be ${want === undefined ? 'absent' : show(want)} in a normalized spec, got ${show(given[field])}`);
  }
  return spec;
}

/** The module and init() arguments that run a normalized spec. */
export function planFor(spec: NormalizedSpec): KernelPlan {
  if (spec.op === 'ewm') {
    const code = EWM_STATS.indexOf(spec.stat ?? 'mean');
    return { module: 'ewm', code, window: 0, minPeriods: spec.minPeriods, p0: spec.com, p1: spec.adjust ? 1 : 0 };
  }
  const { module, code } = ROLLING_PLANS[spec.op];
  const p0 = spec.ddof ?? spec.q ?? 0;
  return { module, code, window: spec.window, minPeriods: spec.minPeriods, p0, p1: 0 };
}

/** The spec, in input form, whose plan this is; undefined when no op has this plan. */
function specOfPlan(plan: KernelPlan): KernelSpec | undefined {
  if (plan.module === 'ewm') {
    const stat = EWM_STATS[plan.code];
    if (stat === undefined || plan.window !== 0 || (plan.p1 !== 0 && plan.p1 !== 1)) return undefined;
    return { op: 'ewm', com: plan.p0, adjust: plan.p1 === 1, minPeriods: plan.minPeriods, ...(stat === 'mean' ? {} : { stat }) };
  }
  const op = ROLLING_OPS.find((o) => ROLLING_PLANS[o].module === plan.module && ROLLING_PLANS[o].code === plan.code);
  if (op === undefined || plan.p1 !== 0) return undefined;
  if (op === 'var' || op === 'std') return { op, window: plan.window, minPeriods: plan.minPeriods, ddof: plan.p0 };
  if (op === 'quantile') return { op, window: plan.window, minPeriods: plan.minPeriods, q: plan.p0 };
  return plan.p0 === 0 ? { op, window: plan.window, minPeriods: plan.minPeriods } : undefined;
}

/**
 * The inverse of {@link planFor}, for plans read from untrusted snapshots:
 * undefined unless the plan is exactly that of a valid spec.
 */
export function specForPlan(plan: KernelPlan): NormalizedSpec | undefined {
  const input = specOfPlan(plan);
  if (input === undefined) return undefined;
  let spec: NormalizedSpec;
  try {
    spec = normalizeSpec(input);
  } catch {
    return undefined;
  }
  const again = planFor(spec);
  const same = (Object.keys(again) as (keyof KernelPlan)[]).every((k) => Object.is(again[k], plan[k]));
  return same ? spec : undefined;
}
