"""findings.frame_for_rows' lean build gives exactly the frame the plain pandas build gave (issue 7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from att_report import findings as fnd


def _reference(rows, *, code, severity, message, field="", value="", related="", identity=None):
    """frame_for_rows as it was before the lean build (the behaviour to keep)."""
    if rows.empty:
        return fnd.empty_frame()
    n = len(rows)
    idx = rows.index

    def col(v):
        if isinstance(v, pd.Series):
            return v.reindex(idx).astype("string").fillna("").astype(object)
        return pd.Series([v] * n, index=idx, dtype=object)

    if identity is None:
        rec = rows["record_id"].astype("string").fillna("") if "record_id" in rows else pd.Series("", index=idx)
        where = (rows["src_file"].astype(str) + "|" + rows["src_sheet"].astype(str) + "|"
                 + rows["src_row"].astype(str))
        key = rec.where(rec.str.len() > 0, "@" + where)
        identity = (rows["src_agency"].astype(str), key, field)
    out = pd.DataFrame(
        {
            "finding_id": fnd.finding_ids(code, *identity),
            "severity": str(severity), "code": code, "message": col(message),
            "agency": rows["src_agency"].astype(object), "file": rows["src_file"].astype(object),
            "sheet": rows["src_sheet"].astype(object), "row": rows["src_row"].astype("Int64"),
            "field": field, "value": col(value), "related": col(related), "decision": "", "decision_note": "",
        },
        index=idx,
    )
    return out.reset_index(drop=True)


def _rows(dtype, with_na: bool, with_id: bool, index) -> pd.DataFrame:
    data = {
        "src_agency": pd.Series(["A", "B", None if with_na else "C", "A"], dtype=dtype),
        "src_file": pd.Series(["f.xlsx", None if with_na else "g.csv", "f.xlsx", "h.csv"], dtype=dtype),
        "src_sheet": pd.Series(["S", "", "S", None if with_na else "T"], dtype=dtype),
        "src_row": pd.Series([2, 3, 4, 5], dtype="int64"),
    }
    if with_id:
        data["record_id"] = pd.Series(["r1", "", None, "r4"] if with_na else ["r1", "r2", "r3", "r4"], dtype=dtype)
    frame = pd.DataFrame(data)
    if index is not None:
        frame.index = index
    return frame


def _arguments(rows: pd.DataFrame):
    idx = rows.index
    yield dict(message="m")
    yield dict(message=pd.Series(["a", None, "c", "d"], index=idx, dtype="string"),
               value=pd.Series([1.5, None, 3.0, 2.0], index=idx),
               related=pd.Series(["x", "y", None, "z"], index=idx, dtype="category"))
    yield dict(message=pd.Series(["a", "b"], index=idx[[2, 0]], dtype="string"),  # fewer rows: reindexed
               value=pd.Series([1, 2, 3, 4], index=idx), related=7)
    yield dict(message="m", identity=(rows["src_agency"], "x", pd.Series([1, 2, 3, 4], index=idx)))
    yield dict(message="m", identity=("a", "b"))  # one id only: kept as it was (on the row labelled 0)


@pytest.mark.parametrize("dtype", ["string", "str", object])
@pytest.mark.parametrize("with_na", [False, True])
@pytest.mark.parametrize("with_id", [False, True])
@pytest.mark.parametrize("index", [None, pd.Index([10, 3, 0, 1])])
def test_frame_for_rows_same_as_reference(dtype, with_na, with_id, index):
    rows = _rows(dtype, with_na, with_id, index)
    for kwargs in _arguments(rows):
        for field in ("", "flow"):
            got = fnd.frame_for_rows(rows, code="c-x", severity="error", field=field, **kwargs)
            want = _reference(rows, code="c-x", severity="error", field=field, **kwargs)
            pd.testing.assert_frame_equal(got, want, check_exact=True)
            assert [str(t) for t in got.dtypes] == [str(t) for t in want.dtypes]
            for name in ("agency", "file", "sheet", "message", "value"):
                assert [type(v) for v in got[name]] == [type(v) for v in want[name]]


def test_frame_for_rows_many_rows_and_empty():
    rng = np.random.default_rng(3)
    n = 2000
    rows = pd.DataFrame({
        "src_agency": pd.Series(rng.choice(["MoD", "Customs"], n), dtype="string"),
        "src_file": pd.Series(rng.choice(["a.xlsx", "b.csv"], n), dtype="string"),
        "src_sheet": pd.Series(rng.choice(["", "Data"], n), dtype="string"),
        "src_row": np.arange(n, dtype="int64") + 2,
        "record_id": pd.Series([None if i % 7 == 0 else f"R{i}" for i in range(n)], dtype="string"),
    }).iloc[::3]
    message = "'" + rows["record_id"].fillna("") + "' is odd"
    got = fnd.frame_for_rows(rows, code="c-y", severity="warning", message=message, field="record_id",
                             value=rows["record_id"])
    want = _reference(rows, code="c-y", severity="warning", message=message, field="record_id",
                      value=rows["record_id"])
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got["finding_id"].is_unique
    empty = fnd.frame_for_rows(rows.iloc[:0], code="c-y", severity="warning", message="m")
    pd.testing.assert_frame_equal(empty, fnd.empty_frame())
