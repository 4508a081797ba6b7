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

export const TOP_HELP = `streamkernel: rolling-window statistics over a stream of numbers

Usage:
  streamkernel rolling <op> --window W [options] [FILE]
  streamkernel ewm mean (--alpha A | --span S | --halflife H | --com C) [options] [FILE]
  streamkernel demo [--rows N] [--batch-size B]
  streamkernel help [COMMAND]
  streamkernel --help | --version

Commands:
  rolling   rolling sum, mean, var, std, min, max, count, median or quantile
            over the last W rows (pandas' Series.rolling semantics)
  ewm       exponentially weighted mean (pandas' Series.ewm(...).mean())
  demo      run several kernels over built-in sample data and print a summary

Run 'streamkernel COMMAND --help' for a command's options.

${INPUT_TEXT}

${EXIT_CODES_TEXT}
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

Generates a deterministic multi-sensor series (4 sensors of a noisy sine with
a slow drift, NaN gaps, spikes and one +Infinity glitch), streams it in
batches through rolling mean, std, min, max and median kernels and an ewm
mean, and prints rows, ops, elapsed time, rows/s and sample outputs.

Options:
  --rows N          rows per sensor, 10000 to 100000000 (default: 250000)
  --batch-size B    rows per kernel call, 1 to 16777216 (default: 65536)
  -h, --help        show this help

${EXIT_CODES_TEXT}
`;
