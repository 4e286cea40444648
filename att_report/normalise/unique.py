"""Work once per distinct value: agency columns repeat a lot (dates, countries, numbers)."""

from __future__ import annotations

from typing import Callable

import pandas as pd


def per_unique(series: pd.Series, func: Callable[[pd.Series], pd.DataFrame | pd.Series]):
    """Apply a vectorised `func` to the distinct values only, then spread the result back.

    Missing values count as one distinct value, so `func` sees them too.
    The result is indexed like `series`.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    if len(uniques) * 2 > len(series):  # mostly distinct: not worth the detour
        return func(series)
    result = func(pd.Series(uniques, dtype=series.dtype))
    spread = result.take(codes)
    spread.index = series.index
    return spread
