"""Byte-level and factorize-once fast paths of normalise give what their definitions give (issue 7).

Each is compared with the plain code it stands in for, on hypothesis inputs
mixing NA, empty, spaces, separators, unicode digits and odd numbers, as
one arrow chunk, several chunks and a slice (non-zero array offset).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from att_report.normalise import text as text_mod
from att_report.normalise.canonical import _by_setting
from att_report.normalise.dates import parse_dates
from att_report.normalise.identifiers import _licence_key, licence_key
from att_report.normalise.numbers import _parse_numbers, _parse_text_numbers, parse_numbers
from att_report.normalise.unique import factorize, per_unique, spread

_PIECES = ["0", "00", "1", "12", "7", "-", ".", ",", " ", "+", "e", "(", ")", "a", "Z", "/", "_", "\t", "\u00a0",
           "\u200b", "é", "１", "٣", "-0", "0.0", "1234567890123456", "2024-01-02", "03/04/2024", "\x01", "中"]
_values = st.lists(st.one_of(st.none(), st.lists(st.sampled_from(_PIECES), max_size=6).map("".join)), max_size=40)


def _layouts(values: list[str | None]):
    """The same values as one chunk, as two chunks, and as a slice of a longer array."""
    one = pd.Series(values, dtype="string")
    yield one
    if len(values) > 1:
        half = len(values) // 2
        chunks = pa.chunked_array([pa.array(values[:half], pa.large_string()), pa.array(values[half:], pa.large_string())])
        yield pd.Series(pd.arrays.ArrowStringArray(chunks))
    longer = pd.Series(["pad", None, *values], dtype="string").iloc[2:]
    yield longer


@settings(max_examples=50, deadline=None)
@given(_values)
def test_factorize_is_pandas_factorize(values):
    for series in _layouts(values):
        codes, uniques = factorize(series)
        want_codes, want_uniques = pd.factorize(series)
        assert codes.dtype == want_codes.dtype and np.array_equal(codes, want_codes)
        assert list(uniques) == list(want_uniques)
        if len(codes) and (codes >= 0).any():
            taken = spread(pd.Series(uniques, dtype="string"), codes[codes >= 0], pd.RangeIndex((codes >= 0).sum()))
            pd.testing.assert_series_equal(taken, series[codes >= 0].reset_index(drop=True), check_names=False)


@settings(max_examples=60, deadline=None)
@given(_values, st.sampled_from([".", ","]))
def test_plain_decimals_from_bytes_parse_as_the_definition(values, decimal):
    for series in _layouts(values):
        got, want = _parse_numbers(series, decimal), _parse_text_numbers(series, decimal)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert list(got.dtypes) == list(want.dtypes)
        signs = [np.signbit(f["number"].to_numpy(dtype=float, na_value=np.nan)) for f in (got, want)]
        assert np.array_equal(*signs)  # -0.0 stays what to_numeric made of it


def test_plain_decimals_cover_the_column_and_its_coupled_cases():
    amounts = pd.Series([f"{i * 7.31:.2f}" for i in range(2000)] + ["-12", ".5", "5."], dtype="string")
    pd.testing.assert_frame_equal(parse_numbers(amounts), _parse_text_numbers(amounts), check_exact=True)
    # a negative zero or a 16+ digit integer makes the whole column go through to_numeric
    for odd in ("-0", "-0.00", " -0", "12345678901234567"):
        s = pd.Series(["1", "2.5", odd, "4"], dtype="string")
        pd.testing.assert_frame_equal(_parse_numbers(s), _parse_text_numbers(s), check_exact=True)


@settings(max_examples=60, deadline=None)
@given(_values)
def test_licence_keys_from_bytes_are_the_definition(values):
    for series in _layouts(values):
        pd.testing.assert_series_equal(licence_key(series), per_unique(series, _licence_key), check_names=False)


def test_licence_keys_every_ascii_character():
    values = [f"a{chr(c)}0{chr(c)}" for c in range(128)] + [f"0{chr(c)}01" for c in range(128)] + ["", None, "000"]
    series = pd.Series(values, dtype="string")
    pd.testing.assert_series_equal(licence_key(series), per_unique(series, _licence_key), check_names=False)


def _reference_by_setting(series, which, values, func):
    """_by_setting as first written: split the rows per setting, concat, reorder."""
    distinct: dict = {}
    present = np.flatnonzero(np.bincount(which, minlength=len(values)))
    first = {int(k): int(np.argmax(which == k)) for k in present}
    for k in sorted(present, key=lambda k: first[int(k)]):
        distinct.setdefault(values[k], []).append(int(k))
    if len(distinct) <= 1:
        return func(series, next(iter(distinct), None))
    pieces, positions = [], []
    for value, ks in distinct.items():
        at = np.flatnonzero(np.isin(which, ks))
        positions.append(at)
        pieces.append(func(series.iloc[at], value))
    out = pd.concat(pieces)
    back = np.empty(len(series), dtype=np.intp)
    back[np.concatenate(positions)] = np.arange(len(series))
    out = out.iloc[back]
    out.index = series.index
    return out


_dates = st.lists(st.one_of(st.none(), st.sampled_from(["2024-01-02", "2024-01-02 00:00:00", "03/04/2024", "13/01/2024",
                                                         "01/13/2024", "", "x", "45000", "60", "1 March 2024",
                                                         "2024-02-30", "03/04/24"])), min_size=1, max_size=30)


@settings(max_examples=50, deadline=None)
@given(_dates, st.data())
def test_by_setting_is_split_concat_reorder(dates, data):
    series = pd.Series(dates, dtype="string", index=pd.RangeIndex(5, 5 + len(dates)))
    settings_ = [None, "DMY", "MDY", "YMD", "DMY"]
    which = np.array(data.draw(st.lists(st.integers(0, 4), min_size=len(dates), max_size=len(dates))))
    got = _by_setting(series, which, settings_, parse_dates)
    want = _reference_by_setting(series, which, settings_, parse_dates)
    pd.testing.assert_frame_equal(got, want)
    assert list(got.dtypes) == list(want.dtypes)
    decimals = [".", ",", ".", ",", "."]
    numbers = pd.Series([d and d.replace("/", ",") for d in dates], dtype="string")
    pd.testing.assert_frame_equal(_by_setting(numbers, which, decimals, parse_numbers),
                                  _reference_by_setting(numbers, which, decimals, parse_numbers))


def test_by_setting_mostly_distinct_column_split_per_setting(monkeypatch):
    import att_report.normalise.canonical as canonical

    monkeypatch.setattr(canonical, "mostly_distinct", lambda s: True)
    values = pd.Series([f"{i},5" if i % 3 else f"{i}.25" for i in range(300)] + [None], dtype="string")
    which = np.array([i % 2 for i in range(301)])
    got = _by_setting(values, which, [".", ","], parse_numbers)
    want = _reference_by_setting(values, which, [".", ","], parse_numbers)
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("values", [
    ["abc", "a b", " ab", "ab ", None, "", "x"],
    ["ABC", "DEF", None],
    ["a\x7f", "\x7fa", "a~", " ~ "],
])
def test_scan_printable_ascii_shortcut(values):
    series = pd.Series(values * 3, dtype="string")
    cleaned, changed, control = text_mod.scan_text(series)
    t = series.astype("string")
    want = text_mod._clean_values(t)
    want = want.mask(want == "", pd.NA)
    pd.testing.assert_series_equal(cleaned, want, check_names=False)
    assert changed.tolist() == ((want != t).fillna(False) & want.notna()).astype(bool).tolist()
    assert control.tolist() == t.str.contains(text_mod.CONTROL, regex=True, na=False).tolist()
