"""Work once per distinct value: agency columns repeat a lot (dates, countries, numbers)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

#: rows sampled to tell a mostly distinct column (amounts, ids) before hashing all of it
_PROBE = 10_000


def mostly_distinct(series: pd.Series) -> bool:
    """Whether more than half of the values are distinct, estimated from an even sample.

    A column of amounts or ids at 1M rows costs ~0.5 s to factorize for
    nothing (benchmark, issue 7). Pairs of equal values in a sample of s rows
    number about s^2 / (2 * distinct), which estimates the distinct count. Only
    speed depends on it: per_unique gives the same result either way.
    """
    n = len(series)
    if n <= 5 * _PROBE:
        return False
    sample = series.iloc[::n // _PROBE]
    s = len(sample)
    repeats = s - sample.nunique(dropna=False)
    return repeats == 0 or s * s / (2 * repeats) * 2 > n


def per_unique(series: pd.Series, func: Callable[[pd.Series], pd.DataFrame | pd.Series]):
    """Apply a vectorised `func` to the distinct values only, then spread the result back.

    Missing values count as one distinct value, so `func` sees them too.
    The result is indexed like `series`.
    """
    if mostly_distinct(series):
        return func(series)
    codes, uniques = pd.factorize(series)  # NA -> -1: faster than use_na_sentinel=False on arrow strings
    n_unique = len(uniques)
    values = pd.Series(uniques, dtype=series.dtype)
    if codes.size and codes.min() < 0:
        missing = codes < 0
        first_missing = series.iloc[[int(np.argmax(missing))]]  # the missing value as the series holds it
        values = pd.concat([values, first_missing], ignore_index=True)
        codes = np.where(missing, n_unique, codes)
        n_unique += 1
    if n_unique * 2 > len(series):  # mostly distinct: not worth the detour
        return func(series)
    result = func(values)
    spread = result.take(codes)
    spread.index = series.index
    return spread
