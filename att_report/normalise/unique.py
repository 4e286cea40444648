"""Work once per distinct value: agency columns repeat a lot (dates, countries, numbers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

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


def _arrow_text(values) -> "pa.Array | None":
    """The values as one pyarrow string array (no copy for one chunk), or None when not arrow-backed text."""
    import pyarrow as pa

    array = getattr(values, "array", values)
    # "string" (NA semantics) only: the "str" dtype's arrays answer NaN, and pandas handles them
    if type(array) is not pd.arrays.ArrowStringArray or array.dtype.na_value is not pd.NA:
        return None
    data = array._pa_array
    if not (pa.types.is_string(data.type) or pa.types.is_large_string(data.type)):
        return None
    if isinstance(data, pa.ChunkedArray):
        data = data.chunk(0) if data.num_chunks == 1 else data.combine_chunks()
    return data


def text_bytes(arr: "pa.Array") -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data) of one arrow string array: value i's UTF-8 bytes are data[offsets[i]:offsets[i + 1]].

    Views of the array's own buffers, offsets counted from 0 (a sliced array
    starts inside its buffers); data is empty when no value has a byte.
    """
    import pyarrow as pa

    n = len(arr)
    off_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=off_type)[arr.offset:arr.offset + n + 1].astype(np.int64)
    if not n or buffers[2] is None:
        return np.zeros(n + 1, dtype=np.int64), np.empty(0, dtype=np.uint8)
    data = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    return offsets - offsets[0], data


def factorize(values) -> tuple[np.ndarray, pd.api.extensions.ExtensionArray | np.ndarray]:
    """pd.factorize(values): (codes, uniques), NA -> -1, uniques in order of first appearance.

    Arrow-backed text is dictionary-encoded as one array: pandas encodes the
    chunked array, which pyarrow splits in batches whose dictionaries are
    then unified, about twice the cost at 1M distinct values (benchmark,
    issue 7). The result is the same (tests/test_normalise_fast.py).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    data = _arrow_text(values)
    if data is None:
        return pd.factorize(values)
    encoded = pc.dictionary_encode(data)
    indices = encoded.indices
    if indices.null_count:
        indices = pc.fill_null(indices, -1)
    codes = np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.intp)
    uniques = pd.arrays.ArrowStringArray(pa.chunked_array([encoded.dictionary], type=encoded.dictionary.type))
    return codes, uniques


def first_appearances(codes: np.ndarray, size: int) -> np.ndarray:
    """The distinct values of `codes` (integers in [0, size)) in order of first appearance.

    np.unique(codes, return_index=True) and a sort by the index give the same,
    but sort every row: 0.13 s for 1M codes against 5 ms (benchmark, issue 7).
    """
    first = np.full(size, len(codes), dtype=np.intp)
    np.minimum.at(first, codes, np.arange(len(codes), dtype=np.intp))
    present = np.flatnonzero(first < len(codes))
    return present[np.argsort(first[present], kind="stable")]


def _spread_array(array, codes: np.ndarray):
    """array.take(codes) (codes >= 0); arrow text through pyarrow's take, without pandas' checks and copies."""
    import pyarrow as pa

    data = _arrow_text(array)
    if data is None:
        return array.take(codes)
    taken = data.take(pa.array(codes, type=pa.int64()))
    return pd.arrays.ArrowStringArray(pa.chunked_array([taken], type=taken.type))


def spread(result: pd.DataFrame | pd.Series, codes: np.ndarray, index: pd.Index):
    """result.take(codes) indexed by `index`: a per-unique result back on every row."""
    if isinstance(result, pd.Series):
        return pd.Series(_spread_array(result.array, codes), index=index, name=result.name)
    columns = {c: _spread_array(result[c].array, codes) for c in result.columns}
    return pd.DataFrame(columns, index=index, columns=result.columns)


def per_unique(series: pd.Series, func: Callable[[pd.Series], pd.DataFrame | pd.Series]):
    """Apply a vectorised `func` to the distinct values only, then spread the result back.

    Missing values count as one distinct value, so `func` sees them too.
    The result is indexed like `series`.
    """
    if mostly_distinct(series):
        return func(series)
    codes, uniques = factorize(series)  # NA -> -1: faster than use_na_sentinel=False on arrow strings
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
    return spread(func(values), codes, series.index)
