/** The input cut at byte positions `cuts` (any order, repeats and out-of-range ones ignored), as a stream would give it. */
export function* splitAt(input: Uint8Array, cuts: readonly number[]): Generator<Uint8Array> {
  let at = 0;
  for (const c of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (c <= at || c >= input.length) continue;
    yield input.slice(at, c);
    at = c;
  }
  yield input.slice(at);
}
