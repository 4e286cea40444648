"""Read a written report back: compile -> write -> read back -> the same lines."""

from __future__ import annotations

import pandas as pd
import pytest

from att_report.compile import compile_report
from att_report.records import make_records
from att_report.render.readback import ReadBackError, read_report
from att_report.render.report_xlsx import write_report
from test_compile_fixtures import make_config, rec, sample_records

VARIANTS = {
    "default": {},
    "both": {"exports": {"basis": "both"}, "imports": {"basis": "both"}},
    "authorized": {"exports": {"basis": "authorized"}},
    "number": {"exports": {"measure": "number"}},
    "value": {"imports": {"measure": "value"}},
    "per_transfer": {"exports": {"aggregate": "per_transfer"}},
    "no_sources": {"report": {"currency": "USD", "sources_sheet": False}},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_round_trip(tmp_path, variant):
    cfg = {"report": {"currency": "USD"}, "rates": {"EUR": 1.08}, **VARIANTS[variant]}
    model = compile_report(sample_records(), make_config(**cfg)).model
    path = tmp_path / "report.xlsx"
    write_report(path, model)
    back = read_report(path)
    assert (back.state, back.year, back.currency) == ("NZL", 2024, "USD")
    assert back.unresolved == ()
    for table in model.tables:
        got = back.table(table.key)
        assert got.basis == table.basis
        assert list(got.sections) == [s.basis for s in table.sections]
        for section in table.sections:
            expected = section.lines.drop(columns="line_id").reset_index(drop=True)
            pd.testing.assert_frame_equal(got.sections[section.basis], expected)


def test_round_trip_nil_and_awkward_names(tmp_path):
    records = make_records([
        rec(record_id="1", partner_state="COD", origin_state="KOR", intermediate_states="PSE;CIV",
            category="VIII.LW.6", quantity=7, value=12.0, description="Mortar; 60 mm", comments="=A1"),
        rec(record_id="2", partner_state=None, category="II", quantity=1),
    ])
    model = compile_report(records, make_config(report={"currency": "USD"})).model
    path = tmp_path / "report.xlsx"
    write_report(path, model)
    back = read_report(path)
    assert back.imports.nil is True and back.exports.nil is False
    got = back.exports.lines("actual")
    pd.testing.assert_frame_equal(got, model.exports.sections[0].lines.drop(columns="line_id"))
    assert got.iloc[1]["intermediates"] == "PSE;CIV"


def test_not_a_report(tmp_path):
    bad = tmp_path / "x.xlsx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ReadBackError):
        read_report(bad)
    import openpyxl

    wb = openpyxl.Workbook()
    wb.save(tmp_path / "y.xlsx")
    with pytest.raises(ReadBackError, match="no sheet 'Exports'"):
        read_report(tmp_path / "y.xlsx")
