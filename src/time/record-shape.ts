// Window records on epoch-ms times (issue 15). A number beyond ±2³¹ is no
// small integer for V8: a field that holds one becomes a double field, and a
// double field holds a box of its own in every object (16 B each). A field
// that first held a non-number stays tagged instead: it holds a pointer to a
// heap number that other fields can share. So a grid bucket's bounds are
// tagged fields (one heap number per bucket) and so are the records' `start`
// and `end`, which share them: a record of a grid window boxes no bound of
// its own (on the old shape: two boxes, 32 B a record). Values are unchanged.

/** The first value of a number field that must stay tagged (see above); set before any read. */
export const TAGGED_UNSET = null as unknown as number;

/** The record primeRecordShape made (kept, and exported, so that no bundler drops it as unused). */
export let recordShape: { key: number | string; start: number; end: number; value: number; count: number; update: boolean } | undefined;

/**
 * Makes one record with non-number bounds, once, before any record is made
 * (windows.ts calls it at load): every `{ key, start, end, value, count,
 * update }` literal shares one map (V8 maps object literals by their fields in
 * order), whose `start` and `end` this makes tagged.
 */
export function primeRecordShape(): void {
  recordShape ??= { key: 0, start: TAGGED_UNSET, end: TAGGED_UNSET, value: 0, count: 0, update: false };
}
