"""Validate's fast paths give the findings the plain code gives (issue 7)."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pandera.pandas as pa

from att_report.records import make_records
from att_report.rules import RuleContext
from att_report.validate import rules as intake_rules
from att_report.validate.schema import _may_fail, canonical_schema, rule_canonical_schema


def _codes():
    from att_report.normalise.categories import load_categories

    return [c.code for c in load_categories()]


def _records(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = []
    for i in range(n):
        rows.append({
            "record_id": f"R{i}", "flow": rng.choice(["export", "import", "sideways"]),
            "basis": rng.choice(["authorized", "actual"]),
            "date": rng.choice(["2024-03-01", "1901-01-01", "2024-12-31", None]),
            "valid_until": rng.choice([None, "2025-01-01", "2200-01-01"]),
            "partner_state": rng.choice(["DEU", "FRA", "de", "XX1", None]),
            "origin_state": rng.choice([None, "USA", "usa"]),
            "intermediate_states": rng.choice([None, "DEU;FRA", "DEU,FRA"]),
            "category": rng.choice(["II", "VIII.SA.2", "IX", None]),
            "quantity": rng.choice([5, -1, None]), "value": rng.choice([10.5, -2.0, None]),
            "currency": rng.choice(["USD", "usd", None]),
        })
    records = make_records(rows)
    records.index = pd.RangeIndex(100, 100 + n)  # labels other than positions
    return records


def _reference(records: pd.DataFrame, year: int) -> pd.DataFrame:
    """The schema rule as first written: pandera over every row."""
    from att_report.rules import emit

    schema = canonical_schema(_codes(), year)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            schema.validate(records, lazy=True)
        return emit(records.iloc[:0], "schema-violation", "")
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    cases = cases[cases["index"].notna() & cases["column"].notna()]
    rows = records.loc[cases["index"].astype("int64").to_numpy()].reset_index(drop=True)
    cases = cases.reset_index(drop=True)
    messages = {(name, str(check)): check.error or str(check)
                for name, col in schema.columns.items() for check in col.checks}
    text = pd.Series([f"'{f}' {messages.get((f, c), c)}; the file has '{v}'." for f, c, v in
                      zip(cases["column"].astype(str), cases["check"].astype(str),
                          cases["failure_case"].astype(str))], index=rows.index)
    return pd.concat([emit(rows[m], "schema-violation", text[m], field=f, value=cases.loc[m, "failure_case"].astype(str))
                      for f, m in ((f, cases["column"].astype(str).eq(f))
                                   for f in sorted(cases["column"].astype(str).unique()))], ignore_index=True)


def test_schema_rule_same_findings_as_pandera_over_every_row():
    records = _records()
    ctx = RuleContext(config=SimpleNamespace(year=2024))
    got = rule_canonical_schema(records, ctx)
    want = _reference(records, 2024)
    assert len(got) > 0
    pd.testing.assert_frame_equal(got, want)


def test_schema_rule_non_nullable_missing_and_clean_frames():
    records = _records(60)
    records["withheld"] = records["withheld"].astype("boolean")
    records.loc[records.index[[3, 7]], "withheld"] = pd.NA
    ctx = RuleContext(config=SimpleNamespace(year=2024))
    pd.testing.assert_frame_equal(rule_canonical_schema(records, ctx), _reference(records, 2024))
    clean = make_records([{"record_id": "A", "flow": "export", "basis": "actual", "date": "2024-01-02",
                           "partner_state": "DEU", "quantity": 1}])
    assert rule_canonical_schema(clean, ctx).empty and _reference(clean, 2024).empty


def test_may_fail_is_a_superset_of_failures():
    records = _records()
    mask = _may_fail(records, canonical_schema(_codes(), 2024))
    assert mask is not None
    failing = set(_reference(records, 2024)["row"].astype(int))
    flagged = set(records.loc[mask, "src_row"].astype(int))
    assert failing <= flagged


def test_status_is_reads_missing_as_blank():
    records = pd.DataFrame({"st_x": pd.Series(["ok", None, "invalid", "blank"], dtype="str")})
    assert intake_rules._status_is(records, "x", "blank").tolist() == [False, True, False, True]
    assert intake_rules._status_is(records, "x", "invalid", "ok").tolist() == [True, False, True, False]
    records = pd.DataFrame({"st_x": pd.Series(["ok", None], dtype="string")})
    assert intake_rules._status_is(records, "x", "blank").tolist() == [False, True]


def test_rows_keeps_only_what_emit_reads():
    records = _records(10)
    picked = intake_rules._rows(records, records["flow"].eq("sideways"))
    assert list(picked.columns) == ["src_agency", "src_file", "src_sheet", "src_row", "record_id"]
    assert picked.index.equals(records.index[records["flow"].eq("sideways").to_numpy()])


def test_may_fail_with_an_all_blank_text_column():
    records = _records(50)
    records["origin_state"] = pd.Series(pd.NA, index=records.index, dtype="string")
    records["currency"] = pd.Series("usd", index=records.index, dtype="string")
    mask = _may_fail(records, canonical_schema(_codes(), 2024))
    assert mask is not None and mask.sum() >= 50  # every row fails on currency
    ctx = RuleContext(config=SimpleNamespace(year=2024))
    pd.testing.assert_frame_equal(rule_canonical_schema(records, ctx), _reference(records, 2024))


def test_blank_check_matches_strip_for_every_character():
    # arrow's utf8_is_space must agree with the strip pandas runs (utf8_trim_whitespace) on every character
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    values = chars + ["", "  ", " a ", "\u3000\u00a0", "a", None]
    for s in (pd.Series(values, dtype="string"), pd.Series(values, dtype="str"), pd.Series(values, dtype=object)):
        want = s.astype("string").str.strip().fillna("").eq("")
        got = intake_rules._blank(s)
        assert got.tolist() == want.tolist()
        assert got.index.equals(s.index)


def test_longer_than_counts_characters_not_bytes():
    values = ["a" * 10, "é" * 10, "é" * 6, "ab", None, "x" * 11]
    for s in (pd.Series(values, dtype="string"), pd.Series(values, dtype="str"), pd.Series(values, dtype=object)):
        want = (s.astype("string").str.len() > 10).fillna(False)
        assert intake_rules._longer_than(s, 10).tolist() == want.tolist()
