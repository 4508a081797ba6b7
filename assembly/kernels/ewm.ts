// Exponentially weighted mean, pandas' `ewm(com=…, adjust=…, ignore_na=False).mean()`,
// reproducing its recurrence operation for operation so the results are the
// same bits. The parameter is the centre of mass, from which pandas derives
// alpha = 1 / (1 + com); the TS layer converts alpha, span and halflife to com
// exactly as pandas does.
//
// ±Inf are values: their weight never decays to zero, so a mean that has seen
// one stays infinite (or NaN after both signs) until pandas' rule restarts it at
// the next observation.
import {
  allocState,
  ERR_MEMORY,
  ERR_PARAMS,
  ERR_STATE,
  gMinPeriods,
  gOp,
  gP0,
  gP1,
  headerMatches,
  HEADER_BYTES,
  inputPtr,
  OK,
  rowIn,
  rowOut,
  outputPtr,
  statePtr,
} from '../common';
export { statePtr, stateSize, inputPtr, outputPtr, capacity, reserve } from '../common';

const FAMILY: i32 = 5;

const S_WEIGHTED: usize = HEADER_BYTES; // f64: the running mean (NaN before the first observation)
const S_OLD_WT: usize = HEADER_BYTES + 8; // f64: pandas' old_wt
const S_NOBS: usize = HEADER_BYTES + 16; // f64: non-NaN rows seen (exact to 2⁵³)
const STATE_BYTES: usize = HEADER_BYTES + 24;

export function init(op: i32, window: i32, minPeriods: i32, p0: f64, p1: f64): i32 {
  if (op != 0 || window != 0 || minPeriods < 0 || !(p0 >= 0) || p0 == Infinity || (p1 != 0 && p1 != 1)) return ERR_PARAMS;
  if (!allocState(FAMILY, op, window, minPeriods, p0, p1, STATE_BYTES)) return ERR_MEMORY;
  const s = statePtr();
  store<f64>(s + S_WEIGHTED, NaN);
  store<f64>(s + S_OLD_WT, 1);
  store<f64>(s + S_NOBS, 0);
  return OK;
}

export function reset(): void {
  init(gOp, 0, gMinPeriods, gP0, gP1);
}

export function update(n: i32): void {
  const s = statePtr();
  const minPeriods = <f64>gMinPeriods;
  const adjust = gP1 == 1;
  const alpha: f64 = 1.0 / (1.0 + gP0);
  const oldWtFactor: f64 = 1.0 - alpha;
  const newWt: f64 = adjust ? 1.0 : alpha;
  const input = inputPtr();
  const output = outputPtr();
  let weighted = load<f64>(s + S_WEIGHTED);
  let oldWt = load<f64>(s + S_OLD_WT);
  let nobs = load<f64>(s + S_NOBS);
  for (let i = 0; i < n; i++) {
    const cur = load<f64>(input + (<usize>i << 3));
    const isObservation = cur == cur;
    if (isObservation) nobs += 1;
    if (weighted == weighted) {
      // ignore_na=False: the weight decays on every row, missing or not.
      oldWt *= oldWtFactor;
      if (isObservation) {
        // pandas' guard against rounding on constant series.
        if (weighted != cur) {
          weighted = oldWt * weighted + newWt * cur;
          weighted /= oldWt + newWt;
        }
        oldWt = adjust ? oldWt + newWt : 1.0;
      }
    } else if (isObservation) {
      weighted = cur;
    }
    store<f64>(output + (<usize>i << 3), nobs >= minPeriods ? weighted : NaN);
  }
  store<f64>(s + S_WEIGHTED, weighted);
  store<f64>(s + S_OLD_WT, oldWt);
  store<f64>(s + S_NOBS, nobs);
}

/** Checks a restored state: the count is a whole number, the weight not negative. */
export function validate(): i32 {
  if (!headerMatches()) return ERR_STATE;
  const s = statePtr();
  const nobs = load<f64>(s + S_NOBS);
  const oldWt = load<f64>(s + S_OLD_WT);
  if (!(nobs >= 0) || nobs != Math.floor(nobs) || nobs > 9007199254740992) return ERR_STATE;
  if (!(oldWt >= 0) || oldWt == Infinity) return ERR_STATE;
  return OK;
}

/** One row, for kernel.pushValue(): the same results and state as update() of that row alone. */
export function pushValue(x: f64): f64 {
  update(rowIn(x));
  return rowOut();
}
