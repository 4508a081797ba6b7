// Usage texts of the CLI. docs/CLI.md says the same at more length.

export const EXIT_CODES_TEXT = `Exit codes:
  0  success (also when stdout is closed early, e.g. piped into head)
  1  usage error: unknown command, op or option, missing or bad option value
  2  malformed input line; stderr says: line N: cannot parse "..."
  3  FILE missing or unreadable
  4  any other failure (cannot write stdout, internal error)`;

const INPUT_TEXT = `Input: one number per line from FILE, or stdin when FILE is omitted or "-".
  A number is a decimal with optional sign, fraction and exponent (42, -0.5,
  .5, 1e-3, 2.5E+8); Infinity and inf, optionally signed, are values; an
  empty line, NaN or nan is a missing value. Spaces and tabs around a number
  and CRLF line ends are fine; anything else (0x10, 1,5, abc) is an error.
Output: one result per input line on stdout, formatted as JavaScript's
  String(x): 0.1, -3, 1e+21, NaN, Infinity.`;

export const TOP_HELP = `streamkernel: rolling-window statistics over streams of numbers, exact as
pandas and the same bits however the stream is split into batches

Usage:
  streamkernel run [FILE] --value COL --op OP [--op OP ...] --window W [options]
  streamkernel rolling <op> --window W [options] [FILE]
  streamkernel ewm mean (--alpha A | --span S | --halflife H | --com C) [options] [FILE]
  streamkernel demo [--rows N] [--batch-size B]
  streamkernel bench [--quick] [--ops a,b] [--wall] [--write]
  streamkernel worker --redis URL --job NAME [options]
  streamkernel produce --redis URL --job NAME [--create SPEC] [options] [FILE]
  streamkernel help [COMMAND]
  streamkernel --help | --version

Commands:
  run       the main job: CSV or NDJSON (a file or stdin) with named value,
            time and key columns through several window ops at once, keyed,
            over count or time windows; CSV or NDJSON out; crash-safe
            checkpoints with --checkpoint DIR
  rolling   rolling sum, mean, var, std, min, max, count, median or quantile
            over the last W rows of one number per line (pandas'
            Series.rolling semantics)
  ewm       exponentially weighted mean of one number per line (pandas'
            Series.ewm(...).mean())
  demo      run the main job on a generated multi-sensor series and print a
            summary
  bench     run the benchmark suite and print its table
  worker    run a job's partitions from Redis Streams, with leases and fenced
            exactly-once commits (scale-out over processes and machines;
            needs the redis package: npm install redis)
  produce   create a Redis job and route key,value lines into its partitions

Run 'streamkernel COMMAND --help' for a command's options.

Input and output:
  run       CSV with a header line, or NDJSON, from FILE or stdin; the columns
            named by --value (numbers), --time (ms or ISO 8601) and --key.
            Writes the time, key and value columns, then one column per op,
            one row per input row, as CSV or NDJSON, to stdout or -o FILE
  rolling, ewm
            one number per line from FILE or stdin; one result per line out
  NaN or an empty value is missing; Infinity is a value.

Examples:
  streamkernel demo
  streamkernel run sensors.csv --value temp --key sensor --op mean --op std --window 100 -o stats.csv
  streamkernel run sensors.csv --value temp --time ts --op max --window 5m --output-format ndjson
  seq 1 10 | streamkernel rolling std --window 3 --min-periods 2

Exit codes:
  0  success (also when stdout is closed early, e.g. piped into head)
  1  usage error: unknown command, op, option or column, bad option value
  2  malformed input line or row, or a late row (stderr names its line)
  3  FILE missing or unreadable, or an output path not writable
  4  any other failure (cannot write stdout, internal error)
`;

export const ROLLING_HELP = `Usage: streamkernel rolling <op> --window W [options] [FILE]

Rolling aggregate over the last W rows, the current one included, as pandas'
Series.rolling(W, min_periods=M).<op>(): NaN is missing, ±Infinity are values.

Ops:
  sum  mean  var  std  min  max  count  median  quantile

Options:
  --window W        rows in the window: an integer from 1 to 16777216 (required)
  --min-periods M   non-NaN rows a window needs for a result, else NaN:
                    an integer from 0 to W (default: W)
  --ddof D          var and std only: the divisor is n - D, D >= 0 (default: 1)
  --q Q             quantile only, and required there: Q in [0, 1], with
                    linear interpolation
  --batch-size B    rows per kernel call, 1 to 16777216 (default: 65536);
                    never changes the output
  -h, --help        show this help

${INPUT_TEXT}

${EXIT_CODES_TEXT}

Examples:
  streamkernel rolling mean --window 20 prices.txt
  seq 1 100 | streamkernel rolling quantile --window 10 --q 0.9
  streamkernel rolling std --window 50 --min-periods 2 --ddof 0 - < data.txt
`;

export const EWM_HELP = `Usage: streamkernel ewm mean (--alpha A | --span S | --halflife H | --com C) [options] [FILE]

Exponentially weighted mean, as pandas' Series.ewm(...).mean() with
ignore_na=False. Give exactly one of --alpha, --span, --halflife and --com.
For ewm var/std: streamkernel run --op ewm --ewm-stat var|std.

Options:
  --alpha A         smoothing factor, 0 < A <= 1
  --span S          span, S >= 1: alpha = 2 / (S + 1)
  --halflife H      half-life in rows, H > 0: alpha = 1 - exp(ln(0.5) / H)
  --com C           center of mass, C >= 0: alpha = 1 / (1 + C)
  --adjust BOOL     true: divide by the decaying sum of weights (pandas'
                    adjust=True); false: the recursive form (default: true)
  --min-periods M   non-NaN rows seen before results are given; earlier
                    results are NaN: an integer >= 0 (default: 0)
  --batch-size B    rows per kernel call, 1 to 16777216 (default: 65536);
                    never changes the output
  -h, --help        show this help

${INPUT_TEXT}

${EXIT_CODES_TEXT}

Examples:
  streamkernel ewm mean --span 10 prices.txt
  seq 1 100 | streamkernel ewm mean --alpha 0.1 --adjust false
`;

export const DEMO_HELP = `Usage: streamkernel demo [--rows N] [--batch-size B]

Runs the main job (streamkernel run, the same code path) on a generated,
deterministic multi-sensor series: 4 sensors reporting once a second (a noisy
sine with a slow drift, NaN outages, spikes, some readings delivered late,
a few far beyond the 5 s bound), as CSV in memory, through mean, std, min,
max and median over 1-minute time windows per sensor with
--max-out-of-order 5s --on-error skip. Prints the rows, ops, rows/s, the rows
put back in time order and the late rows skipped, and sample results.

Options:
  --rows N          readings per sensor, 1000 to 10000000 (default: 25000)
  --batch-size B    rows per batch, as run's --batch-size (default: 65536)
  -h, --help        show this help

${EXIT_CODES_TEXT}
`;

export const RUN_HELP = `Usage: streamkernel run [FILE] --value COL --op OP [--op OP ...] --window W [options]
       streamkernel run [FILE] --time COL --value COL --op OP [--op OP ...]
                        --tumbling SIZE | --hopping SIZE --step STEP | --session GAP [options]

Reads CSV (with a header line) or NDJSON from FILE, or stdin when FILE is
omitted or "-", as a stream; runs every --op over the value column (per key
with --key) and writes one output row per input row: the time, key and value
columns, then one column per op. Count windows: --window ROWS. Time windows:
--window 5s (ms, s, m, h, d) with --time COL; each key's rows must then be in
time order, or at most --max-out-of-order behind the key's latest time.
pandas' rolling semantics: NaN is missing, ±Infinity are values.

Window records (--tumbling, --hopping, --session; one of them, with --time):
one output row per key and window instead: the key column (with --key),
window_start, window_end (in the input's time format: ms numbers or ISO
dates), then one column per op; with --allowed-lateness also an update
column (true when a late row changed a window written before). Rows come out
as windows close: in order of the input row whose time closed them, windows
closed by one row by end, key (in order of first appearance), start; at the
end of the input, the windows still open in that order. The same bytes for
any --batch-size and --workers.

Ops: sum mean var std min max count median quantile ewm (count windows),
     first last (time windows and window records only; ewm: count windows only)

Columns and windows:
  --value COL           the column of numbers (required)
  --time COL            the time column: numbers (ms) or ISO 8601 dates (UTC
                        unless they name a zone)
  --key COL             one series per key: separate windows for each key
  --op OP               an op to run; repeat for several (required)
  --window W            rows (an integer), or a duration such as 5s, 1m30s
  --min-periods M       non-NaN rows a window needs for a result
                        (default: W for count windows, 1 for time windows,
                        0 for window records); for ewm, non-NaN rows seen
                        before its results are given (default: 0)
  --ddof D              var and std: the divisor is n - D (default: 1)
  --q Q                 quantile: Q in [0, 1] (required with quantile)
  --closed SIDE         time windows: right, left, both or neither (default: right)
  --max-out-of-order D  time windows: rows up to D (e.g. 5s) behind their key's
                        latest time are put in time order; output stays in
                        input order (rows wait until their results are known).
                        Rows further behind are late: --on-error fail stops,
                        skip leaves them out and counts them (default: 0).
                        Window records: the watermark is the latest time
                        (of any key) - D
  --tumbling SIZE       window records: epoch-aligned windows [start, start + SIZE)
  --hopping SIZE        window records: windows of SIZE starting every --step
  --step STEP           --hopping only: a duration > 0, at most SIZE
  --offset D            --tumbling and --hopping: shift the window grid from the
                        epoch by D, e.g. --tumbling 1d --offset 6h (default: 0)
  --session GAP         window records: per key, rows less than GAP apart
  --allowed-lateness D  window records: a window still takes late rows until
                        the watermark is D past its end, and is written again
                        (update true); later rows are late: --on-error fail
                        stops, skip counts them (default: 0)
  --span S | --alpha A | --halflife H | --com C [--adjust BOOL]
                        ewm's decay, exactly one (ewm runs over rows)
  --ewm-stat S          ewm's statistic: mean (default; column ewm), var or
                        std (pandas' ewm var(bias=False), std; column ewm_var
                        or ewm_std)

Input and output:
  --format F            input format, csv or ndjson (default: from FILE's
                        extension, .ndjson/.jsonl → ndjson, else csv)
  --delimiter C         CSV field delimiter (default: ,)
  -o, --output FILE     write to FILE instead of stdout; it appears only when
                        the run succeeds (or is resumable with --checkpoint);
                        a symlink is written through, a FIFO or device in
                        place; never the input, by any name
  --output-format F     csv or ndjson (default: from --output's extension,
                        else the input format)
  --on-error MODE       fail (default): a malformed row stops the run with its
                        line number; skip: leave it out and count it
  --batch-size B        rows per batch (default: 65536); never changes output
  --max-delay D         stdin (a pipe or terminal): the longest a row read waits
                        for its result while more input keeps coming. Results
                        are written as soon as the input has nothing more to
                        give, or once the oldest row waiting is D old; a fast
                        input still runs in full batches; also FILE --follow.
                        0 writes after every read (default: 50ms)
  --follow              with FILE: keep reading what is appended to it, as
                        tail -F (results as rows arrive, see --max-delay);
                        a truncated FILE is read again from its start, a
                        rotated one (a new file under its name) after the old
                        one's end (a CSV header line there is skipped); SIGINT
                        or SIGTERM ends the run as the end of a FILE would
  --idle-timeout D      live input (stdin, --follow) with --max-out-of-order:
                        after D with no row, every key's latest time moves on
                        by the time gone by, so rows held for reordering are
                        written; the output then depends on when rows arrive
                        (default: off)
  --workers N           threads (default: 1, in process); N > 1 runs each
                        op, whatever its window, on the parallel scheduler
                        (keyed: N-1 worker threads per op, the main thread,
                        which reads and writes the rows, being the Nth;
                        unkeyed: one per op); output is byte for byte that
                        of --workers 1

Checkpoints (needs FILE and --output):
  --checkpoint DIR      keep a checkpoint in DIR; after a crash or kill -9 the
                        same command resumes from it (with any --workers), and
                        the output file ends up byte for byte as an
                        uninterrupted run's
  --checkpoint-every N  rows between checkpoints (default: 1000000)

Progress:
  --progress            always show the progress bar and summary on stderr
  -q, --quiet           never show them (nor the skipped-rows summary)
                        (default: both when stderr is a terminal; when not,
                        only a summary when rows were skipped)
  -h, --help            show this help

Exit codes:
  0  success (also when stdout is closed early)
  1  usage error, an unknown column (the message lists the available ones),
     a checkpoint of another run in DIR, or --output or --checkpoint DIR
     naming the input (by any path, link or hard link)
  2  malformed or late row: stderr names its line (or data row when rows
     span several lines)
  3  FILE missing or unreadable, or an output/checkpoint path not writable
     (also a checkpoint due that cannot be written: the previous one stays)
  4  any other failure (a corrupt checkpoint, or one whose fields do not fit
     the files, named in the message; an internal error)

Examples:
  streamkernel run data.csv --value temp --key sensor --op mean --op std --window 100
  streamkernel run data.csv --value temp --time ts --op max --window 5m -o out.ndjson
  streamkernel run data.csv --time ts --key sensor --value temp --op mean --op max --tumbling 1m -o per-minute.csv
  streamkernel run data.csv --time ts --key sensor --value temp --op mean --hopping 5m --step 1m
  streamkernel run data.csv --time ts --key sensor --value temp --op count --op sum --session 30m
  cat events.ndjson | streamkernel run --format ndjson --value v --op ewm --span 20
  streamkernel run big.csv --value v --op median --window 1000 -o out.csv --checkpoint .ck
`;

export const BENCH_HELP = `Usage: streamkernel bench [--quick] [--ops a,b] [--wall] [--write]

Runs the benchmark suite (every op at 1e6 and 1e7 rows, windows 100 and
10000: streamkernel with data already in WASM memory, end to end from a JS
Float64Array, the plain-JS loop, a memory copy and bottleneck's move_* when
/usr/bin/python3 has it; then one row at a time, pushValue against plain JS)
and prints its table, in million rows/s. Each sample is the process's CPU
time (bottleneck's too), which a loaded machine disturbs far less than wall
time.

Options:
  --quick       1e6 rows only
  --ops a,b     only these ops (sum, mean, count, var, std, min, max, median,
                quantile, ewm, ewm_var, ewm_std)
  --wall        samples in wall time instead of CPU time
  --write       also write bench/RESULTS.md (in a checkout of streamkernel)
  -h, --help    show this help
`;

/** Edits (insert, delete, substitute, swap two neighbours) between `a` and `b`. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * `; did you mean 'x'?` for the candidate closest to a mistyped `given` (a
 * typo of at most 1 edit, 2 from 5 characters on, or the start of just one
 * candidate), else ''. For the end of "unknown option/command/op" messages.
 */
export function didYouMean(given: string, candidates: readonly string[]): string {
  const prefixed = given.length >= 3 ? candidates.filter((c) => c.startsWith(given)) : [];
  if (prefixed.length === 1) return `; did you mean '${prefixed[0]}'?`;
  const limit = given.replace(/^-+/, '').length >= 5 ? 2 : 1;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    const distance = editDistance(given, c);
    if (distance < bestDistance) [best, bestDistance] = [c, distance];
  }
  return best === undefined ? '' : `; did you mean '${best}'?`;
}
