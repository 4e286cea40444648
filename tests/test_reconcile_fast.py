"""Reconcile's fast paths give what the plain versions give: masks instead of row cuts, one-key group-bys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from att_report.reconcile import reconcile
from att_report.reconcile.common import add_codes
from att_report.reconcile.duplicates import exact_duplicates, multi_agency
from att_report.rules import RULES, RuleContext
from tests.test_reconcile_rules import CFG, frame, lic, ship


@pytest.mark.parametrize("seed", range(5))
def test_multi_agency_matches_a_groupby_nunique(seed):
    rng = np.random.default_rng(seed)
    n = 2_000
    gid = rng.integers(0, 300, n)
    agency = rng.integers(-1, 3, n)  # -1: a missing agency counts as one more, as nunique counts it
    expected = pd.Series(agency).groupby(gid).transform("nunique").to_numpy() > 1
    got = multi_agency(gid, agency)
    assert got.dtype == bool and np.array_equal(got, expected)
    assert expected.any() and not expected.all()


def test_multi_agency_of_nothing():
    assert multi_agency(np.zeros(0, dtype="int64"), np.zeros(0, dtype="int64")).shape == (0,)


def _dup_frame() -> pd.DataFrame:
    customs = [ship(), ship(record_id="S2", quantity=7), ship(record_id="S3", quantity=7),
               ship(record_id="S4", quantity=None, value=500.0, currency="USD")]
    defence = [ship(record_id="MOD-1"), ship(record_id="MOD-2", quantity=7),
               ship(record_id="MOD-3", quantity=None, value=500.0, currency="USD")]
    return frame([lic()], customs, defence)


def test_exact_duplicates_among_a_mask_equal_those_of_the_cut_rows():
    recs = add_codes(_dup_frame())
    every = exact_duplicates(recs)
    assert len(every) == 3  # S1/MOD-1, one of S2/S3 with MOD-2, S4/MOD-3 on value and currency
    among = np.ones(len(recs), dtype=bool)
    among[recs.index[recs["record_id"] == "MOD-1"]] = False  # e.g. an invalid row
    masked = exact_duplicates(recs, among=among)
    cut = exact_duplicates(add_codes(_dup_frame()[among].reset_index(drop=True)))
    pd.testing.assert_frame_equal(masked, cut)
    assert len(masked) == 2 and "MOD-1" not in masked["merged_key"].str.cat()


MASKED_RULES = ["licence-expired-before-year", "near-duplicate", "hs-category-mismatch", "quantity-outlier"]


def _scope_frame() -> pd.DataFrame:
    lics = [lic(), lic(record_id="L2", licence_no="EL-0002", date="2022-01-01", valid_until="2023-06-30"),
            lic(record_id="L3", licence_no="EL-0003", category="I", quantity=5000)]
    customs = [ship(quantity=10), ship(record_id="S2", hs_code="9302.00", date="2024-04-01"),
               ship(record_id="S3", licence_no="EL-0003", category="I", quantity=1001),
               ship(record_id="S4", quantity=30, date="2024-06-01")]
    defence = [ship(record_id="MOD-7", quantity=11, date="2024-03-06"),
               ship(record_id="MOD-8", quantity=31, date="2024-06-03")]
    return frame(lics, customs, defence)


@pytest.mark.parametrize("code", MASKED_RULES)
def test_a_rule_given_an_in_scope_mask_finds_what_it_finds_on_the_rows_in_scope(code):
    recs = add_codes(_scope_frame())
    func = RULES[code].func
    assert len(func(recs, RuleContext(CFG))), "the fixture must trigger the rule on every row"
    rng = np.random.default_rng(len(code))
    for _ in range(6):
        mask = rng.random(len(recs)) < 0.6
        masked = func(recs, RuleContext(CFG, extra={"in_scope": mask}))
        cut = func(add_codes(_scope_frame()[mask]), RuleContext(CFG))
        key = ["finding_id", "row", "message", "related"]
        pd.testing.assert_frame_equal(masked.sort_values(key).reset_index(drop=True),
                                      cut.sort_values(key).reset_index(drop=True))


def test_value_over_shipment_skips_a_shipment_without_currency_as_before():
    """One known currency on the shipments (a missing one is skipped) is compared with the licence's."""
    lics = [lic(quantity=None, value=1000.0)]
    shipped = [ship(quantity=None, value=600.0, currency="USD"),
               ship(record_id="S2", quantity=None, value=500.0, currency=None, date="2024-04-01")]
    f = reconcile(frame(lics, shipped), CFG).findings
    hit = f[f["code"] == "licence-value-exceeded"]
    assert hit["value"].tolist() == ["1,100 > 1,000"]
    mixed = [shipped[0], {**shipped[1], "currency": "EUR"}]
    f = reconcile(frame(lics, mixed), CFG).findings
    assert "licence-value-exceeded" not in set(f["code"])


def test_over_shipment_per_category_bucket_and_whole_licence():
    lics = [lic(quantity=20), lic(record_id="L1b", category="VIII.SA.1", quantity=5),
            lic(record_id="L9", licence_no="EL-0009", quantity=10)]
    shipped = [ship(quantity=15), ship(record_id="S2", category="VIII.SA.1", quantity=6, date="2024-04-01"),
               ship(record_id="S3", licence_no="EL-0009", quantity=11, date="2024-05-01")]
    f = reconcile(frame(lics, shipped), CFG).findings
    hit = f[f["code"] == "licence-quantity-exceeded"].sort_values("value")
    assert hit["value"].tolist() == ["11 > 10", "6 > 5"]
    msgs = " ".join(hit["message"])
    assert "for VIII.SA.1" in msgs and "'EL-0009' total" in msgs


@pytest.mark.parametrize("seed", range(3))
def test_distinct_matches_a_sorted_unique(seed):
    from att_report.reconcile.common import distinct

    rng = np.random.default_rng(seed)
    c = rng.choice(np.array([-1, 0, 3, 7, 8, 20]), 3_000)  # codes of a row cut: gaps, missing rows
    values = pd.Series([None if i < 0 else f"v{i}" for i in c], dtype="string", name="x")
    got_codes, got_values = distinct(pd.DataFrame({"x": values, "_c_x": c}), "x")
    present, first = np.unique(c, return_index=True)
    first, present = first[present >= 0], present[present >= 0]
    remap = np.full(int(c.max()) + 2, -1, dtype="int64")
    remap[present] = np.arange(len(present))
    assert np.array_equal(got_codes, remap[c])
    pd.testing.assert_series_equal(got_values, values.iloc[first].reset_index(drop=True))
    assert list(got_values) == ["v0", "v3", "v7", "v8", "v20"]


@pytest.mark.parametrize("dtype", ["string", "str", object, "large"])
def test_factorize_gives_pandas_codes(dtype):
    from att_report.reconcile.common import factorize

    values = ["b", "a", None, "b", "c", "a", None]
    if dtype == "large":  # what intake's pyarrow columns hold
        s = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([pa.array(values, type=pa.large_string())])))
    else:
        s = pd.Series(values, dtype=dtype)
    for part in (s, s.iloc[2:], s.iloc[:0]):  # a cut array has an offset
        got = factorize(part)
        assert got.dtype == np.int64
        assert np.array_equal(got, pd.factorize(part)[0])
    assert list(factorize(s)) == [0, 1, -1, 0, 2, 1, -1]
    assert list(factorize(s, sort=True)) == [1, 0, -1, 1, 2, 0, -1]


def test_licence_unused_by_year_and_without_a_year():
    """A licence is used by a shipment dated in the year (linked or out of scope); with no year, by any."""
    from dataclasses import replace

    lics = [lic(), lic(record_id="L2", licence_no="EL-0002"), lic(record_id="L3", licence_no="EL-0003"),
            lic(record_id="L4", licence_no="EL-0004")]
    shipped = [ship(date="2023-12-31"), ship(record_id="S2", licence_no="EL-0002"),
               ship(record_id="S3", licence_no="EL-0003", hs_code="9306.21")]  # out of scope, in the year
    recs = frame(lics, shipped)
    f = reconcile(recs, CFG).findings
    assert sorted(f.loc[f["code"] == "licence-unused", "value"]) == ["EL-0001", "EL-0004"]
    f = reconcile(recs, replace(CFG, year=None)).findings
    assert f.loc[f["code"] == "licence-unused", "value"].tolist() == ["EL-0004"]


def test_targets_over_many_files_with_the_same_row_numbers():
    """targets_for keys (agency, file, sheet, row) as integers: the same pairs as a merge on the four."""
    import numpy as np
    import pandas as pd

    from att_report.reconcile import targets_for

    files = [f"inputs/customs/day_{d:03d}.csv" for d in range(1, 41)]
    records = pd.DataFrame({
        "row_uid": np.arange(40 * 25),
        "src_agency": pd.array(["Customs"] * 800 + ["Licensing"] * 200, dtype="string"),
        "src_file": pd.array([f for f in files for _ in range(25)], dtype="string"),
        "src_sheet": pd.array(([None] * 25 + ["Sheet1"] * 25) * 20, dtype="string"),
        "src_row": np.tile(np.arange(2, 27), 40),
    })
    rng = np.random.default_rng(3)
    picks = rng.integers(0, len(records), 300)
    findings = pd.DataFrame({
        "finding_id": [f"F-{i:04d}" for i in range(300)] + ["F-nofile", "F-norow", "F-wrongsheet", "F-file"],
        "agency": list(records["src_agency"].iloc[picks]) + ["Customs", "Customs", "Customs", "Customs"],
        "file": list(records["src_file"].iloc[picks]) + ["nowhere.csv", files[0], files[1], files[0]],
        "sheet": [s if isinstance(s, str) else "" for s in records["src_sheet"].iloc[picks]] + ["", "", "", ""],
        "row": list(records["src_row"].iloc[picks]) + [2, 999, 2, None],
    })
    got = targets_for(findings, records)
    # the reference: a merge on the four columns as text (a missing sheet is "")
    r = records.assign(sheet=records["src_sheet"].fillna("")).rename(
        columns={"src_agency": "agency", "src_file": "file", "src_row": "row"})
    f = findings.dropna(subset=["row"]).astype({"row": "int64"})
    want = (f.merge(r[["row_uid", "agency", "file", "sheet", "row"]].astype({"agency": object, "file": object,
                                                                                "sheet": object}),
                    on=["agency", "file", "sheet", "row"])[["finding_id", "row_uid"]]
            .drop_duplicates().sort_values(["finding_id", "row_uid"]).reset_index(drop=True))
    assert len(got) == 300 and "F-nofile" not in set(got["finding_id"]) and "F-wrongsheet" not in set(
        got["finding_id"])
    assert got["finding_id"].tolist() == want["finding_id"].tolist()
    assert got["row_uid"].tolist() == want["row_uid"].tolist()
