"""The blank intake template: columns, formats, drop-downs, plain-language instructions."""

from __future__ import annotations

import datetime as dt
import shutil

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from att_report.config import AgencyConfig
from att_report.normalise.categories import load_categories
from att_report.normalise.countries import known_country_labels
from att_report.paths import templates_dir
from att_report.render.intake_template import (DATA_ROWS, INSTRUCTIONS_SHEET, LISTS_SHEET, TRANSFERS_SHEET,
                                               write_intake_template)
from att_report.schema import COLUMN_BY_NAME, HEADER_LOOKUP, INTAKE_COLUMNS, INTAKE_NAMES, header_key

ARGS = dict(agency_name="Customs Service", role="customs", year=2024, state_name="New Zealand")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("tpl") / "intake_customs.xlsx"
    write_intake_template(path, **ARGS)
    return path


@pytest.fixture(scope="module")
def wb(template):
    return openpyxl.load_workbook(template)


def _letter(name: str) -> str:
    return get_column_letter(INTAKE_NAMES.index(name) + 1)


def _column(ws, index: int):
    """The column's dimension, honouring <col min max> ranges that cover several columns."""
    for dim in ws.column_dimensions.values():
        if dim.min and dim.max and dim.min <= index <= dim.max:
            return dim
    raise AssertionError(f"no column dimension for column {index}")


def _width(ws, index: int) -> float:
    return _column(ws, index).width


def _validations(ws) -> dict[str, object]:
    """Column letter -> its data validation (each covers one column)."""
    out = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            assert rng.min_col == rng.max_col
            out[get_column_letter(rng.min_col)] = (dv, rng)
    return out


def _list_values(wb, formula: str) -> list[str]:
    ref = formula.lstrip("=")
    sheet, cells = ref.split("!")
    assert sheet == LISTS_SHEET
    return [row[0].value for row in wb[sheet][cells.replace("$", "")]]


def test_sheets_and_header(wb):
    assert wb.sheetnames == [TRANSFERS_SHEET, INSTRUCTIONS_SHEET, LISTS_SHEET]
    ws = wb[TRANSFERS_SHEET]
    assert [c.value for c in ws[1]] == list(INTAKE_NAMES)
    assert ws.freeze_panes == "A2"
    for cell in ws[1]:
        col = COLUMN_BY_NAME[cell.value]
        assert col.meaning in cell.comment.text
        assert f"Required: {col.required}." in cell.comment.text
        assert _width(ws, cell.column) >= len(col.name)
    assert ws.max_row == 1  # no data, no pre-styled blank rows that readers would scan


def test_identifier_and_date_formats(wb):
    ws = wb[TRANSFERS_SHEET]
    for j, col in enumerate(INTAKE_COLUMNS, start=1):
        expected = {"id": "@", "date": "yyyy-mm-dd"}.get(col.kind, "General")
        # a column style: Excel applies it to every cell entered in the column
        assert _column(ws, j).number_format == expected, col.name
    assert {c.name for c in INTAKE_COLUMNS if c.kind == "id"} >= {"record_id", "licence_no", "hs_code"}


def test_drop_downs_are_warnings_over_all_data_rows(wb):
    ws = wb[TRANSFERS_SHEET]
    dvs = _validations(ws)
    for letter, (dv, rng) in dvs.items():
        assert dv.errorStyle == "warning" and dv.showErrorMessage and dv.allow_blank
        assert (rng.min_row, rng.max_row) == (2, DATA_ROWS + 1)
    assert dvs[_letter("flow")][0].formula1 == '"export,import"'
    assert dvs[_letter("basis")][0].formula1 == '"authorized,actual"'
    assert dvs[_letter("withheld")][0].formula1 == '"yes,no"'
    for name in ("flow", "basis", "withheld"):
        assert len(dvs[_letter(name)][0].formula1) <= 255
    codes = _list_values(wb, dvs[_letter("category")][0].formula1)
    assert codes == [c.code for c in load_categories()]
    countries = known_country_labels()
    assert _list_values(wb, dvs[_letter("partner_state")][0].formula1) == countries
    assert dvs[_letter("origin_state")][0].formula1 == dvs[_letter("partner_state")][0].formula1
    currencies = _list_values(wb, dvs[_letter("currency")][0].formula1)
    assert {"USD", "EUR", "NZD", "CHF"} <= set(currencies) and currencies == sorted(currencies)
    assert dvs[_letter("quantity")][0].type == "whole"
    assert _letter("description") not in dvs and _letter("record_id") not in dvs


def test_lists_sheet_shows_labels_and_is_not_data(wb):
    ws = wb[LISTS_SHEET]
    rows = {r[0]: r[1] for r in ws.iter_rows(min_row=2, max_col=2, values_only=True) if r[0]}
    for cat in load_categories():
        assert rows[cat.code] == cat.label
    headers = [c.value for c in ws[1] if c.value]
    # an intake reader must not take the Lists sheet for a table of transfers
    assert not [h for h in headers if header_key(h) in HEADER_LOOKUP]


def test_instructions_plain_language(wb):
    text = "\n".join(str(r[0]) for r in wb[INSTRUCTIONS_SHEET].iter_rows(values_only=True) if r[0])
    assert "Customs Service" in text and "2024" in text and "New Zealand" in text
    assert "13(3)" in text and "withheld" in text
    assert "merge" in text and "2024-03-31" in text and "leading zeros" in text
    for col in INTAKE_COLUMNS:
        assert col.name in text and col.meaning in text
    assert "{{" not in text and "{%" not in text


def test_instructions_text_comes_from_templates_folder(tmp_path, monkeypatch):
    folder = tmp_path / "templates"
    shutil.copytree(templates_dir(), folder)
    source = folder / "intake_instructions.md.j2"
    source.write_text(source.read_text(encoding="utf-8").replace(
        "## Who fills it in", "## Who fills it in\nCall Ms Example on extension 42 with questions."),
        encoding="utf-8")
    monkeypatch.setenv("ATT_REPORT_TEMPLATES", str(folder))
    path = tmp_path / "t.xlsx"
    write_intake_template(path, **ARGS)
    lines = [r[0] for r in openpyxl.load_workbook(path)[INSTRUCTIONS_SHEET].iter_rows(values_only=True)]
    assert "Call Ms Example on extension 42 with questions." in lines


def test_same_bytes_every_time(template, tmp_path):
    again = tmp_path / "again.xlsx"
    write_intake_template(again, **ARGS)
    assert again.read_bytes() == template.read_bytes()
    other = tmp_path / "other.xlsx"
    write_intake_template(other, **{**ARGS, "role": "licensing"})
    assert other.read_bytes() != template.read_bytes()


def test_filled_template_reads_back(template, tmp_path):
    from att_report.intake.readers import read_file

    wb = openpyxl.load_workbook(template)
    ws = wb[TRANSFERS_SHEET]
    values = {"record_id": "C-001", "flow": "export", "basis": "actual", "licence_no": "00140915",
              "date": dt.datetime(2024, 3, 1), "partner_state": "France", "category": "VIII.SA.2",
              "hs_code": "930190", "quantity": 12, "value": 1000.5, "currency": "EUR", "withheld": "no"}
    for name, value in values.items():
        ws[f"{_letter(name)}2"] = value
    filled = tmp_path / "filled.xlsx"
    wb.save(filled)
    agency = AgencyConfig(name="Customs", role="customs", files=("*.xlsx",))
    result = read_file(filled, agency, "filled.xlsx")
    assert [t.sheet for t in result.tables] == [TRANSFERS_SHEET]
    table = result.tables[0]
    assert len(table.data) == 1 and list(table.excel_rows) == [2]
    assert set(table.field_columns) == set(INTAKE_NAMES)
    assert table.data.iloc[0][table.field_columns["licence_no"]] == "00140915"
