#!/usr/bin/env python3
"""Writes test/fixtures/time-*.json: pandas results for the time-window layer.

Run with Debian's python3-pandas (1.5.x):  /usr/bin/python3 scripts/make-time-fixtures.py
The tests read the JSON only; they need no Python.

- time-rolling.json:   df.rolling(window, on='ts', closed=..., min_periods=...).<op>()
                       and df.groupby('key').rolling(window, on='ts', ...).<op>()
- time-resample.json:  df.resample(size, on='ts', offset=...).<op>() and
                       df.groupby('key').resample(...).<op>(), non-empty bins only

Timestamps are integer milliseconds (pandas sees datetime64[ns] from them);
values hold NaN but no infinities (pandas' add/remove sums turn an infinity
that left the window into NaN, which streamkernel deliberately does not do).
Non-finite numbers are written as the strings "NaN", "Infinity", "-Infinity".
"""
import json
import math
import os
import sys

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'fixtures')


def enc(x):
    x = float(x)
    if math.isnan(x):
        return 'NaN'
    if math.isinf(x):
        return 'Infinity' if x > 0 else '-Infinity'
    return x


def make_data(seed, n, keys):
    rng = np.random.default_rng(seed)
    steps = rng.choice([0, 0, 100, 250, 400, 1000, 7000], size=n)  # duplicates and long gaps
    ts = 1_000_000 + np.cumsum(steps)
    values = np.round(rng.normal(50, 20, size=n) * 16) / 16
    values[rng.random(n) < 0.1] = np.nan
    key = rng.integers(0, keys, size=n)
    return pd.DataFrame({'ts_ms': ts.astype(np.int64), 'v': values, 'key': key})


OPS = ['sum', 'mean', 'count', 'min', 'max', 'var', 'std', 'median', 'quantile']


def apply(roller, op):
    if op == 'quantile':
        return roller.quantile(0.25, interpolation='linear')
    return getattr(roller, op)()


def count_rule(res, op, min_periods):
    # streamkernel applies minPeriods to non-NaN rows for count too (as for every op);
    # pandas 1.5 applied it to all rows. pandas' count is the non-NaN count, so the
    # rule is: NaN wherever it is below minPeriods (rolling by duration defaults to 1).
    if op != 'count':
        return res
    return res.where(res >= (1 if min_periods is None else min_periods))


def rolling_cases():
    cases = []
    df = make_data(1, 160, 1)
    df['ts'] = pd.to_datetime(df['ts_ms'], unit='ms')
    for window in ['1s', '2500ms', '10s']:
        for closed in ['right', 'left', 'both', 'neither']:
            for min_periods in [None, 2]:
                for op in OPS:
                    kw = {'on': 'ts', 'closed': closed}
                    if min_periods is not None:
                        kw['min_periods'] = min_periods
                    res = count_rule(apply(df[['ts', 'v']].rolling(window, **kw), op)['v'], op, min_periods)
                    cases.append({
                        'op': op, 'window': window, 'closed': closed, 'minPeriods': min_periods,
                        'keyed': False, 'expected': [enc(x) for x in res.to_numpy()],
                    })
    keyed = make_data(2, 200, 5)
    keyed['ts'] = pd.to_datetime(keyed['ts_ms'], unit='ms')
    for window in ['1s', '5s']:
        for closed in ['right', 'both', 'neither']:
            for op in OPS:
                g = keyed[['ts', 'v', 'key']].groupby('key').rolling(window, on='ts', closed=closed)
                res = count_rule(apply(g, op)['v'], op, None)
                # Result index: (key, original row). Put it back in row order.
                out = [None] * len(keyed)
                for (k, row), x in res.items():
                    out[row] = enc(x)
                cases.append({'op': op, 'window': window, 'closed': closed, 'minPeriods': None, 'keyed': True, 'expected': out})
    return {
        'pandas': pd.__version__,
        'unkeyed': {'ts': df['ts_ms'].tolist(), 'v': [enc(x) for x in df['v']]},
        'keyed': {'ts': keyed['ts_ms'].tolist(), 'v': [enc(x) for x in keyed['v']], 'key': keyed['key'].tolist()},
        'cases': cases,
    }


def resample_cases():
    cases = []
    df = make_data(3, 300, 1)
    df['ts'] = pd.to_datetime(df['ts_ms'], unit='ms')
    keyed = make_data(4, 300, 4)
    keyed['ts'] = pd.to_datetime(keyed['ts_ms'], unit='ms')
    for size, offset in [('1s', None), ('5s', '2s'), ('1min', None), ('2500ms', '500ms')]:
        for op in OPS:
            kw = {'on': 'ts', 'origin': 'epoch'}
            if offset is not None:
                kw['offset'] = offset
            r = df[['ts', 'v']].resample(size, **kw)
            res = apply(r, op)['v']
            sizes = r.size()
            bins = [{'start': int(b.value // 1_000_000), 'value': enc(x)} for b, x in res.items() if sizes[b] > 0]
            cases.append({'op': op, 'size': size, 'offset': offset, 'keyed': False, 'bins': bins})
            g = keyed[['ts', 'v', 'key']].groupby('key').resample(size, **kw)
            gres = apply(g, op)['v']
            gsizes = g.size()
            gbins = [{'key': int(k), 'start': int(b.value // 1_000_000), 'value': enc(x)} for (k, b), x in gres.items() if gsizes[(k, b)] > 0]
            cases.append({'op': op, 'size': size, 'offset': offset, 'keyed': True, 'bins': gbins})
    return {
        'pandas': pd.__version__,
        'unkeyed': {'ts': df['ts_ms'].tolist(), 'v': [enc(x) for x in df['v']]},
        'keyed': {'ts': keyed['ts_ms'].tolist(), 'v': [enc(x) for x in keyed['v']], 'key': keyed['key'].tolist()},
        'cases': cases,
    }


def write(name, data):
    path = os.path.join(OUT, name)
    with open(path, 'w') as f:
        json.dump(data, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {os.path.relpath(path, ROOT)} ({len(data["cases"])} cases, pandas {pd.__version__})')


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    write('time-rolling.json', rolling_cases())
    write('time-resample.json', resample_cases())
    sys.exit(0)
