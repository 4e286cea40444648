"""raw_frame stacks files into one chunk per column; normalising it gives what the chunked stack gives."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from att_report.config import AgencyConfig
from att_report.intake.tables import RawTable
from att_report.normalise.canonical import normalise, raw_frame
from att_report.schema import INTAKE_NAMES

ROWS = [
    {"record_id": "R1", "flow": "export", "basis": "actual", "date": "2024-03-01", "partner_state": "Germany",
     "category": "II", "quantity": "3", "value": "1000", "currency": "USD", "licence_no": "EL-1"},
    {"record_id": "R2", "flow": "EXP", "basis": "licence", "date": "31/02/2024", "partner_state": "Narnia",
     "category": "tanks?", "quantity": "1,5", "value": "x", "currency": "", "licence_no": " el 1 "},
    {"record_id": "R3", "flow": "import", "basis": "actual", "date": "45000", "partner_state": "FRA",
     "category": "VIII.SA.2", "quantity": "\uff11\uff10", "value": "12.5", "currency": "EUR", "withheld": "yes"},
]


def _table(agency: str, rows: list[dict], file: str) -> RawTable:
    data = pd.DataFrame({n: pd.array([r.get(n) for r in rows], dtype="string") for n in INTAKE_NAMES})
    return RawTable(agency=agency, role="customs", file=file, sheet="", header_row=1, data=data,
                    excel_rows=list(range(2, 2 + len(rows))), field_columns={n: n for n in INTAKE_NAMES},
                    column_letters={n: n for n in INTAKE_NAMES})


def test_stacked_files_are_one_chunk_and_normalise_alike():
    tables = [_table("A", ROWS[:2], "a.csv"), _table("B", ROWS[2:], "b.csv"), _table("A", ROWS, "c.csv")]
    agencies = {n: AgencyConfig(name=n, role="customs", files=("*",)) for n in ("A", "B")}
    profiles = {"A": None, "B": None}
    raw = raw_frame(tables, profiles)
    chunked = pd.concat([raw_frame([t], profiles) for t in tables], ignore_index=True)
    pd.testing.assert_frame_equal(raw, chunked)
    for name in raw.columns:
        data = getattr(raw[name].array, "_pa_array", None)
        if isinstance(data, pa.ChunkedArray):
            assert data.num_chunks == 1, name
    assert any(isinstance(getattr(chunked[n].array, "_pa_array", None), pa.ChunkedArray)
               and chunked[n].array._pa_array.num_chunks > 1 for n in chunked.columns)  # the case that matters
    pd.testing.assert_frame_equal(normalise(raw, agencies, profiles), normalise(chunked, agencies, profiles))


def test_the_columns_joined_in_threads_are_those_one_thread_joins(monkeypatch):
    import att_report.threads as threads_module

    tables = [_table("A", ROWS[:2], "a.csv"), _table("B", ROWS[2:], "b.csv"), _table("A", ROWS, "c.csv")] * 3
    profiles = {"A": None, "B": None}
    monkeypatch.setattr(threads_module, "THREADS", 1)
    one = raw_frame(tables, profiles)
    monkeypatch.setattr(threads_module, "THREADS", 4)
    for _ in range(3):
        many = raw_frame(tables, profiles)
        pd.testing.assert_frame_equal(many, one, check_exact=True)
        assert [str(d) for d in many.dtypes] == [str(d) for d in one.dtypes]


def test_tables_of_one_layout_are_stacked_first_with_each_ones_provenance(monkeypatch):
    """365 daily files of one agency are handled as one table (per-table work once), with the same rows,
    provenance and profile value maps as table by table."""
    from att_report.intake.profiles import Profile
    from att_report.normalise import canonical

    daily = [_table("A", ROWS, f"day_{d:03d}.csv") for d in range(1, 8)]
    daily[3].sheet, daily[5].date1904 = "Sheet1", True  # a workbook among the csv files, one of 1904
    daily[2].typed_numbers = {"quantity": pd.Series([True, False, True]).to_numpy()}
    other_layout = _table("A", ROWS[:1], "odd.csv")
    other_layout.field_columns = {n: n for n in INTAKE_NAMES if n != "comments"}
    tables = [*daily[:4], _table("B", ROWS, "b.csv"), *daily[4:], other_layout, daily[0]]
    profile = Profile(path="p.toml", values={"flow": {"exp": "export"}}, constants={"basis": "actual"})
    profiles = {"A": profile, "B": None}
    groups = []
    real = canonical._raw_part
    monkeypatch.setattr(canonical, "_raw_part", lambda group, p: groups.append(len(group)) or real(group, p))
    raw = raw_frame(tables, profiles)
    assert groups == [4, 1, 3, 1, 1]  # runs of consecutive same-layout tables
    one_by_one = pd.concat([real([t], profiles.get(t.agency)) for t in tables], ignore_index=True)
    pd.testing.assert_frame_equal(raw, canonical._one_chunk(one_by_one))
    assert raw["src_file"].tolist()[:6] == ["day_001.csv"] * 3 + ["day_002.csv"] * 3
    assert raw.loc[raw["src_file"] == "day_004.csv", "src_sheet"].unique().tolist() == ["Sheet1"]
    assert raw.loc[raw["src_date1904"], "src_file"].unique().tolist() == ["day_006.csv"]
    assert raw.loc[raw["typed_quantity"], "src_file"].unique().tolist() == ["day_003.csv"]
    assert (raw.loc[raw["src_agency"] == "A", "flow"] != "EXP").all()  # the value map, on every stacked file
