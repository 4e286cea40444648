"""compile's coded fast paths against the plain ones they replace.

compile_report codes the text columns once over every record and hands the
codes of the reported rows to build_lines and compress_sources; these tests
check, on random rows with NA, blanks, unicode and formula-like text, that
the coded paths give exactly what the paths reading the texts give.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from att_report.compile import lines as L
from att_report.records import AccountingError, check_dispositions, make_records
from tests.test_compile_fixtures import make_config

TEXTS = ["rifle", "", None, "pistol; spare", "Rifle", "Gewehr ü", "=1+1", "步枪"]
STATES = ["AUS", "FRA", "", None, "NZL"]


def _records(n: int, seed: int) -> pd.DataFrame:
    rnd = random.Random(seed)
    pick = lambda values: pd.array([rnd.choice(values) for _ in range(n)], dtype="string")  # noqa: E731
    return pd.DataFrame({
        "row_uid": np.array(rnd.sample(range(5 * n), n), dtype="int64"),
        "src_agency": pick(["Customs", "Defence", "", None]),
        "src_file": pick(["b.xlsx", "a.csv", "=c.xlsx"]),
        "src_sheet": pick(["S1", "", None]),
        "src_row": pd.array([rnd.choice([None, *range(2, 60)]) for _ in range(n)], dtype="Int64"),
        "flow": pick(["export", "import", None]),
        "basis": pick(["actual", "authorized", ""]),
        "category": pick(["I", "II", "VIII.SA.2", "", None]),
        "partner_state": pick(STATES), "origin_state": pick(STATES), "intermediate_states": pick(["", "AUS;FRA", None]),
        "description": pick(TEXTS), "comments": pick(TEXTS),
        "also_from": pick(["", None, "Defence:d.csv:7", "Customs:x.xlsx:3;bad item"]),
        "quantity": pd.array([rnd.choice([None, 1, 5, 20]) for _ in range(n)], dtype="Int64"),
        "value_rc": pd.array([rnd.choice([None, 1.5, 100.0]) for _ in range(n)], dtype="Float64"),
        "value_bad": np.array([rnd.random() < 0.1 for _ in range(n)]),
        "date": pd.to_datetime([f"2024-0{rnd.randrange(1, 10)}-1{rnd.randrange(10)}" for _ in range(n)]),
    }, index=pd.Index(rnd.sample(range(10 * n), n)))


def _coded(records: pd.DataFrame, positions: np.ndarray) -> dict:
    at = {key: L.text_codes_at(records[col], positions) for key, col in L.LINE_KEY_COLUMNS.items()}
    for key in ("description", "comments"):
        at[key] = L.text_codes_at(records[key], positions)
    return at


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("aggregate", ["per_partner", "per_transfer"])
def test_build_lines_coded_matches_texts(seed, aggregate):
    records = _records(600, seed)
    positions = np.sort(np.random.default_rng(seed).choice(len(records), 450, replace=False))
    rows = records.iloc[positions]
    config = make_config(exports={"aggregate": aggregate})
    order = {"I": 0, "II": 1, "VIII.SA.2": 2}
    plain, plain_pos = L.build_lines(rows, config, order)
    coded, coded_pos = L.build_lines(rows[["quantity", "value_rc", "value_bad", "row_uid", "date"]], config, order,
                                     _coded(records, positions))
    pd.testing.assert_frame_equal(coded, plain)
    np.testing.assert_array_equal(coded_pos, plain_pos)
    # every row's line has the row's keys
    assert (plain["category"].to_numpy()[plain_pos] == rows["category"].fillna("").to_numpy()).all()


@pytest.mark.parametrize("seed", [4, 5])
@pytest.mark.parametrize("two_keys", [False, True])
def test_compress_sources_coded_matches_texts(seed, two_keys, monkeypatch):
    if two_keys:
        monkeypatch.setattr(L, "_KEY_LIMIT", 0.0)
    records = _records(800, seed)
    positions = np.sort(np.random.default_rng(seed).choice(len(records), 500, replace=False))
    rows = records.iloc[positions]
    line_texts = np.array([f"EXP-ACT-{i:04d}" for i in range(9)] + ["IMP-AUT-0001"], dtype=object)
    line_pos = np.random.default_rng(seed).integers(0, len(line_texts), len(rows))
    plain = L.compress_sources(rows.assign(line_id=pd.array(line_texts[line_pos], dtype="string")))
    has = rows["also_from"].fillna("").ne("").to_numpy()
    also = L._also_from(pd.DataFrame({"line_id": pd.array(line_texts[line_pos[has]], dtype="string"),
                                      "also_from": rows["also_from"][has].array}))
    coded = L.compress_sources(rows.iloc[0:0], {
        "line_id": (line_pos, line_texts),
        "agency": L.text_codes_at(records["src_agency"], positions),
        "file": L.text_codes_at(records["src_file"], positions),
        "sheet": L.text_codes_at(records["src_sheet"], positions),
        "row": L._row_numbers(rows["src_row"]),
    }, also)
    pd.testing.assert_frame_equal(coded, plain)


def test_compress_sources_coded_empty():
    empty = (np.zeros(0, dtype="int64"), np.zeros(0, dtype=object))
    got = L.compress_sources(pd.DataFrame(), {"line_id": empty, "agency": empty, "file": empty, "sheet": empty,
                                              "row": np.zeros(0, dtype="int64")}, None)
    pd.testing.assert_frame_equal(got, L._empty_sources())


def test_dispositions_coded_matches_texts():
    records = _records(500, 8).assign(disposition=pd.array([""] * 500, dtype="string"), valid=True,
                                      withheld=pd.array([False, True] * 250, dtype="boolean"))
    config = make_config(exports={"basis": "both"})
    coded = {k: L.text_codes_at(records[k], None) for k in ("flow", "basis")}
    for plain, fast in zip(L.dispositions(records, config), L.dispositions(records, config, coded)):
        pd.testing.assert_series_equal(plain, fast)


def _accounted(**changes) -> pd.DataFrame:
    records = make_records([{"flow": "export"}, {"flow": "import"}, {"flow": "export"}])
    records["disposition"] = pd.array(["reported", "invalid", "reference"], dtype="string")
    for name, values in changes.items():
        records[name] = values
    return records


def test_check_dispositions_passes_and_fails():
    check_dispositions(_accounted())
    check_dispositions(_accounted(row_uid=[5, 1, 3]))  # uids out of order, still unique
    with pytest.raises(AccountingError, match="no valid disposition"):
        check_dispositions(_accounted(disposition=pd.array(["reported", "", "reference"], dtype="string")))
    with pytest.raises(AccountingError, match="no valid disposition"):
        check_dispositions(_accounted(disposition=pd.array(["reported", None, "reference"], dtype="string")))
    with pytest.raises(AccountingError, match="not unique"):
        check_dispositions(_accounted(row_uid=[1, 2, 2]))
    with pytest.raises(AccountingError, match="not unique"):
        check_dispositions(_accounted(row_uid=[3, 1, 3]))
