"""The fast paths of normalise/validate give exactly what the plain definitions give (issue 7).

Each fast path (byte scan before the cleaning regexes, pyarrow's float parser,
RE2 on ASCII licence numbers, per-distinct-value work, pandera on the rows
that may fail) is compared with the straightforward code it replaces.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from att_report.normalise import identifiers, text
from att_report.normalise.numbers import _to_float, parse_numbers
from att_report.normalise.unique import mostly_distinct, per_unique


def _reference_clean(series: pd.Series):
    """clean_text as first written: the regexes over every value."""
    t = series.astype("string")
    cleaned = text._clean_values(t)
    cleaned = cleaned.mask(cleaned == "", pd.NA)
    changed = (cleaned != t).fillna(False) & cleaned.notna()
    return cleaned, changed.astype(bool), t.str.contains(text.CONTROL, regex=True, na=False)


def _every_character_in_every_place() -> list[str | None]:
    values: list[str | None] = [None, "", " ", "  x  ", "\u200b", "x\u200b", "\u3000\u3000", "\x00", "a\tb",
                                "中国 ", " 中国", "x \u200b", "\u200b x", "\ufeffA", "A\x85"]
    for cp in range(0x3100):  # every Unicode space and zero-width character is below U+3100 ...
        ch = chr(cp)
        if not 0xD800 <= cp <= 0xDFFF:
            values += [ch, ch + "a", "a" + ch, "a" + ch + "b", "é" + ch, ch + "é"]
    for cp in (0xFEFF, 0xFF10, 0xFFFD, 0x1F600):  # ... except the BOM; and a few above
        values += [chr(cp), "a" + chr(cp), chr(cp) + "a"]
    return values


def test_clean_text_matches_the_regexes_for_every_character():
    values = _every_character_in_every_place()
    arrow = pa.array(values, type=pa.large_string())
    chunked = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(
        [arrow.slice(0, 1000), arrow.slice(1000, 3), arrow.slice(1003)])))
    for series in (pd.Series(values, dtype="string"), chunked, pd.Series(values, dtype=object)):
        want = _reference_clean(series)
        got = text.scan_text(series)
        for w, g in zip(want, got):
            pd.testing.assert_series_equal(w, g, check_names=False)
        cleaned, changed = text.clean_text(series)
        assert cleaned.equals(want[0]) and changed.equals(want[1])


def test_scan_flags_what_the_regexes_change():
    s = pd.Series(["ok", " lead", "trail\u00a0", "in\u200bside", "ctl\x07", "\t", "a b", None], dtype="string")
    cleaned, changed, control = text.scan_text(s)
    assert cleaned.tolist()[:5] == ["ok", "lead", "trail", "inside", "ctl"]
    assert cleaned.isna().tolist() == [False] * 5 + [True, False, True]
    assert changed.tolist() == [False, True, True, True, True, False, False, False]
    assert control.tolist() == [False, False, False, False, True, False, False, False]


def _numbers(rng: random.Random, n: int) -> list[str | None]:
    def one():
        k = rng.random()
        if k < 0.3:
            return str(rng.randint(0, 10 ** rng.randint(1, 15)))
        if k < 0.6:
            whole = str(rng.randint(0, 10 ** rng.randint(0, 9)))
            frac = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 7)))
            return ("-" if rng.random() < 0.2 else "") + whole + "." + frac
        if k < 0.7:
            return "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 14)))
        if k < 0.8:
            return rng.choice(["-0", "-0.0", "0", "0.", "-.0", "00", "-00.000", None])
        if k < 0.9:
            return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 15)))
        return rng.choice(["1e5", "+3", "1.5E-3", "abc", "", "309722699.74000001", "1340952232.980000019",
                           "-1340952232.980000019", "99999999999999999999", "-12345678901234567",
                           "0.1000000000000000055511151231257827", "12345678901234567890.5", "1.7976931348623157e309"])
    return [one() for _ in range(n)]


def test_float_parse_matches_to_numeric():
    rng = random.Random(7)
    for _ in range(150):
        values = _numbers(rng, rng.randint(1, 400))
        s = pd.Series(values, dtype="string")
        want = pd.to_numeric(s, errors="coerce").astype("Float64")
        got = _to_float(s)
        pd.testing.assert_series_equal(got, want)
        # and the sign of zero
        assert (np.signbit(got.fillna(1.0).to_numpy(float)) == np.signbit(want.fillna(1.0).to_numpy(float))).all()


def test_float_parse_fast_path_taken_for_short_decimals():
    s = pd.Series(["12.5", "7", "-3.25", None, ".5", "100."], dtype="string")
    got = _to_float(s)
    assert got.tolist()[:3] == [12.5, 7.0, -3.25] and got.isna().tolist()[3] and got.tolist()[4:] == [0.5, 100.0]
    assert str(got.dtype) == "Float64"


def test_licence_key_matches_python_regex_for_every_character():
    def reference(values: pd.Series) -> pd.Series:
        t = values.astype("string").str.upper().str.replace(r"[\s\-_/.\u00a0]+", "", regex=True)
        numeric = t.str.fullmatch(r"\d+").fillna(False)
        stripped = t.str.lstrip("0").mask(t.str.lstrip("0") == "", "0")
        out = t.where(~numeric, stripped)
        return out.mask(out == "", pd.NA)

    values: list[str | None] = [None, "", "EL-2024/0012", "el 2024 0012", "00140915", "0000", "a\x1cb", "x\u2003y"]
    for cp in list(range(0x3100)) + [0xFEFF, 0xFF10]:
        if not 0xD800 <= cp <= 0xDFFF:
            ch = chr(cp)
            values += [ch, "a" + ch + "b", "00" + ch + "12"]
    s = pd.Series(values, dtype="string")
    pd.testing.assert_series_equal(identifiers._licence_key(s), reference(s))
    assert identifiers.licence_key(pd.Series(["EL-2024/0012", "el 2024 0012"] * 3)).tolist() == ["EL20240012"] * 6


def test_per_unique_same_result_either_way():
    rng = np.random.default_rng(3)
    repeated = pd.Series(rng.choice(["1", "2,5", None, "x", "3"], size=60_000), dtype="string")
    distinct = pd.Series([str(i) for i in range(60_000)], dtype="string")
    assert not mostly_distinct(repeated) and mostly_distinct(distinct)
    for s in (repeated, distinct, repeated.iloc[:100]):
        pd.testing.assert_series_equal(per_unique(s, lambda x: x.str.upper()), s.str.upper())
        pd.testing.assert_series_equal(per_unique(s, lambda x: x.isna()), s.isna())


def test_per_unique_keeps_missing_values_and_index():
    s = pd.Series([1.0, np.nan, 2.0] * 4, index=range(10, 22))
    out = per_unique(s, lambda x: x * 2)
    assert out.index.tolist() == list(range(10, 22))
    assert out.iloc[:3].tolist()[0] == 2.0 and np.isnan(out.iloc[1]) and out.iloc[2] == 4.0


@pytest.mark.parametrize("decimal", [".", ","])
def test_parse_numbers_same_per_unique_and_direct(decimal):
    rng = random.Random(11)
    s = pd.Series(_numbers(rng, 3000) + ["1 000,5", "1,000.5", "(12)", "１２３"], dtype="string")
    from att_report.normalise.numbers import _parse_numbers

    pd.testing.assert_frame_equal(parse_numbers(s, decimal), _parse_numbers(s, decimal))


def test_non_ascii_check_matches_the_regex():
    values = [None, "", "abc", "１２３", "a\x7f", "\x80", "é", "12 345", "٣"]
    s = pd.Series(values, dtype="string")
    want = s.str.contains(r"[^\x00-\x7f]", regex=True, na=False)
    assert text._non_ascii(s).tolist() == want.tolist()
    out, changed = text.ascii_digits(s)
    assert out.tolist()[3] == "123" and changed.tolist() == [False, False, False, True, False, False, False, False, True]


def test_small_vocabularies_status_per_distinct_value():
    from att_report.normalise.canonical import _FLOW_MAP, _coded

    s = pd.Series(["Export", None, "sideways", "IMP", "export"] * 30, dtype="string")
    coded = per_unique(s, lambda x: _coded(x, _FLOW_MAP))
    assert coded["value"].tolist()[:5] == ["export", pd.NA, pd.NA, "import", "export"]
    assert coded["status"].tolist()[:5] == ["ok", "blank", "invalid", "ok", "ok"]
    assert coded.index.equals(s.index)


def test_resolvers_categorical_statuses_same_texts():
    from att_report.normalise import categories, countries, currency

    s = pd.Series(["Germany", "Frnace", None, "Various", "DEU", "", "Germany"] * 20, dtype="string")
    cases = [
        (countries.resolve_countries, s),
        (countries.resolve_country_list, pd.Series(["Germany; Frnace", None, "EU", "FRA;DEU"] * 20, dtype="string")),
        (categories.resolve_categories, pd.Series(["IV.a", "4", None, "tanks", "zz"] * 20, dtype="string")),
        (categories.hs_lookup, pd.Series(["9301.10", None, "9303", "12"] * 20, dtype="string")),
        (currency.resolve_currencies, pd.Series(["usd", "$", None, "EURO", "xx"] * 20, dtype="string")),
    ]
    for func, values in cases:
        plain, coded = func(values), func(values, categorical=True)
        assert list(plain.columns) == list(coded.columns)
        for name in plain.columns:
            if isinstance(coded[name].dtype, pd.CategoricalDtype):
                assert coded[name].astype("string").equals(plain[name].astype("string")), name
            else:
                pd.testing.assert_series_equal(coded[name], plain[name])
        assert isinstance(coded["status" if "status" in coded else "candidates"].dtype, pd.CategoricalDtype)


def test_settings_per_agency_parse_each_row_with_its_agency_setting():
    from att_report.normalise.canonical import _by_setting
    from att_report.normalise.dates import parse_dates

    text = pd.Series(["03/04/2024", "2024-05-06", "03/04/2024", None, "13/01/2024", "03/04/2024"], dtype="string")
    which = np.array([0, 1, 2, 0, 1, 3])
    orders = ["DMY", "MDY", "DMY", None]  # agencies 0 and 2 share a setting; 3: none
    got = _by_setting(text, which, orders, parse_dates)
    want = pd.concat([parse_dates(text.iloc[[0, 2, 3]], "DMY"), parse_dates(text.iloc[[1, 4]], "MDY"),
                      parse_dates(text.iloc[[5]], None)]).reindex(text.index)
    pd.testing.assert_frame_equal(got, want)
    assert got["date"].tolist()[0] == pd.Timestamp("2024-04-03") and got["status"].tolist()[5] == "ambiguous"
    one = _by_setting(text, np.zeros(len(text), dtype=int), ["DMY"], parse_dates)
    pd.testing.assert_frame_equal(one, parse_dates(text, "DMY"))


@given(st.lists(st.integers(min_value=0, max_value=20), max_size=200))
def test_first_appearances_are_the_distinct_codes_in_order_of_first_appearance(values):
    from att_report.normalise.unique import first_appearances

    codes = np.asarray(values, dtype=np.intp)
    expected = list(dict.fromkeys(values))  # distinct, as first seen
    assert first_appearances(codes, 21).tolist() == expected
