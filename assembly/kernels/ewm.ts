// Exponentially weighted mean, pandas' `ewm(com=…, adjust=…, ignore_na=False).mean()`,
// reproducing its recurrence operation for operation so the results are the
// same bits. The parameter is the centre of mass, from which pandas derives
// alpha = 1 / (1 + com); the TS layer converts alpha, span and halflife to com
// exactly as pandas does.
//
// Ops 1 and 2 are pandas' `ewm(...).var(bias=False)` and `.std()`: its ewmcov
// recurrence with both series the same, again operation for operation (the
// mean there is computed with the same operations as op 0's).
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
  beginKeys,
  endKeys,
  enterKey,
} from '../common';
export { statePtr, stateSize, inputPtr, outputPtr, capacity, reserve, useState, alloc } from '../common';

const FAMILY: i32 = 5;
const OP_MEAN: i32 = 0;
const OP_VAR: i32 = 1;
const OP_STD: i32 = 2;

const S_WEIGHTED: usize = HEADER_BYTES; // f64: the running mean (NaN before the first observation)
const S_OLD_WT: usize = HEADER_BYTES + 8; // f64: pandas' old_wt
const S_NOBS: usize = HEADER_BYTES + 16; // f64: non-NaN rows seen (exact to 2⁵³)
const STATE_BYTES: usize = HEADER_BYTES + 24;
// var/std only, after the mean's fields (so the mean's state stays as it was):
const S_COV: usize = HEADER_BYTES + 24; // f64: pandas' cov (the biased variance)
const S_SUM_WT: usize = HEADER_BYTES + 32; // f64: pandas' sum_wt
const S_SUM_WT2: usize = HEADER_BYTES + 40; // f64: pandas' sum_wt2
const VAR_STATE_BYTES: usize = HEADER_BYTES + 48;

// The weights, derived from the parameters once in init(): a row at a time
// (pushValue), recomputing them per call would add a division to each row.
let gAdjust = false;
let gOldWtFactor: f64 = 0;
let gNewWt: f64 = 0;

function setWeights(): void {
  gAdjust = gP1 == 1;
  const alpha: f64 = 1.0 / (1.0 + gP0);
  gOldWtFactor = 1.0 - alpha;
  gNewWt = gAdjust ? 1.0 : alpha;
}

export function init(op: i32, window: i32, minPeriods: i32, p0: f64, p1: f64): i32 {
  if (op < OP_MEAN || op > OP_STD || window != 0 || minPeriods < 0 || !(p0 >= 0) || p0 == Infinity || (p1 != 0 && p1 != 1)) return ERR_PARAMS;
  if (!allocState(FAMILY, op, window, minPeriods, p0, p1, op == OP_MEAN ? STATE_BYTES : VAR_STATE_BYTES)) return ERR_MEMORY;
  setWeights();
  const s = statePtr();
  store<f64>(s + S_WEIGHTED, NaN);
  store<f64>(s + S_OLD_WT, 1);
  store<f64>(s + S_NOBS, 0);
  if (op != OP_MEAN) {
    store<f64>(s + S_COV, 0);
    store<f64>(s + S_SUM_WT, 1);
    store<f64>(s + S_SUM_WT2, 1);
  }
  return OK;
}

export function reset(): void {
  init(gOp, 0, gMinPeriods, gP0, gP1);
}

export function update(n: i32): void {
  if (gOp == OP_MEAN) updateMean(n);
  else updateVar(n, gOp == OP_STD);
}

function updateMean(n: i32): void {
  const s = statePtr();
  const minPeriods = <f64>gMinPeriods;
  const adjust = gAdjust;
  const oldWtFactor = gOldWtFactor;
  const newWt = gNewWt;
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

/** pandas' ewmcov(x, x, bias=False), one row at a time; std is its zsqrt. */
function updateVar(n: i32, std: bool): void {
  const s = statePtr();
  const minPeriods = <f64>gMinPeriods;
  const adjust = gAdjust;
  const oldWtFactor = gOldWtFactor;
  const newWt = gNewWt;
  const input = inputPtr();
  const output = outputPtr();
  let mean = load<f64>(s + S_WEIGHTED);
  let oldWt = load<f64>(s + S_OLD_WT);
  let nobs = load<f64>(s + S_NOBS);
  let cov = load<f64>(s + S_COV);
  let sumWt = load<f64>(s + S_SUM_WT);
  let sumWt2 = load<f64>(s + S_SUM_WT2);
  for (let i = 0; i < n; i++) {
    const cur = load<f64>(input + (<usize>i << 3));
    const isObservation = cur == cur;
    if (isObservation) nobs += 1;
    if (mean == mean) {
      // ignore_na=False: the weights decay on every row, missing or not.
      sumWt *= oldWtFactor;
      sumWt2 *= oldWtFactor * oldWtFactor;
      oldWt *= oldWtFactor;
      if (isObservation) {
        const oldMean = mean;
        if (mean != cur) mean = (oldWt * oldMean + newWt * cur) / (oldWt + newWt);
        const d = oldMean - mean;
        const e = cur - mean;
        cov = (oldWt * (cov + d * d) + newWt * (e * e)) / (oldWt + newWt);
        sumWt += newWt;
        sumWt2 += newWt * newWt;
        oldWt += newWt;
        if (!adjust) {
          sumWt /= oldWt;
          sumWt2 /= oldWt * oldWt;
          oldWt = 1.0;
        }
      }
    } else if (isObservation) {
      mean = cur;
    }
    let y: f64 = NaN;
    if (nobs >= minPeriods) {
      // bias=False: scale the biased variance by the effective sample size.
      const numerator = sumWt * sumWt;
      const denominator = numerator - sumWt2;
      if (denominator > 0) y = (numerator / denominator) * cov;
    }
    // pandas' zsqrt: a negative variance gives 0.
    if (std) y = y < 0 ? 0 : Math.sqrt(y);
    store<f64>(output + (<usize>i << 3), y);
  }
  store<f64>(s + S_WEIGHTED, mean);
  store<f64>(s + S_OLD_WT, oldWt);
  store<f64>(s + S_NOBS, nobs);
  store<f64>(s + S_COV, cov);
  store<f64>(s + S_SUM_WT, sumWt);
  store<f64>(s + S_SUM_WT2, sumWt2);
}

/** A weight sum of var/std: finite and not negative. */
function isWeight(x: f64): bool {
  return x >= 0 && x != Infinity;
}

/** Checks a restored state: the count is a whole number, the weights not negative. */
export function validate(): i32 {
  if (!headerMatches()) return ERR_STATE;
  const s = statePtr();
  const nobs = load<f64>(s + S_NOBS);
  const oldWt = load<f64>(s + S_OLD_WT);
  if (!(nobs >= 0) || nobs != Math.floor(nobs) || nobs > 9007199254740992) return ERR_STATE;
  if (!isWeight(oldWt)) return ERR_STATE;
  if (gOp == OP_MEAN) return OK;
  // var/std: the weight sums are finite and not negative; cov, a weighted mean of squares, is NaN or ≥ 0.
  const cov = load<f64>(s + S_COV);
  if (!isWeight(load<f64>(s + S_SUM_WT)) || !isWeight(load<f64>(s + S_SUM_WT2)) || cov < 0) return ERR_STATE;
  return OK;
}

/** One row, for kernel.pushValue(): the same results and state as update() of that row alone. */
export function pushValue(x: f64): f64 {
  update(rowIn(x));
  return rowOut();
}

/** Runs `n` keys' rows in one call, each on its own state (a table of enterKey entries, common.ts). */
export function runKeys(n: i32, table: usize): void {
  beginKeys();
  for (let k = 0; k < n; k++) update(enterKey(table, k));
  endKeys();
}
