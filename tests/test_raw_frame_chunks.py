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
