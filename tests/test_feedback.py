"""Per-agency feedback workbook: the right cells are marked, text stays text, bytes are stable."""

from __future__ import annotations

import time

import openpyxl
import pandas as pd
import pytest

from att_report.findings import Finding, to_frame
from att_report.intake.tables import RawTable
from att_report.render import feedback
from att_report.render.feedback import (FINDINGS_COLUMNS, FINDINGS_SHEET, ROW_COLUMN, SEVERITY_FILLS,
                                        sheet_names, write_feedback)

AGENCY = "Customs"
FILE = "inputs/customs/exports 2024.xlsx"


def _table(data: pd.DataFrame | None = None, excel_rows=(5, 6, 8), sheet="Data", file=FILE) -> RawTable:
    if data is None:
        # excel_rows 5, 6, 8: a title row and the header above, a blank row 7 skipped
        data = pd.DataFrame({
            "Ref": ["E-1", "E-2", "E-3"],
            "Destination": ["France", "Narnia", None],
            "Qty": ["10", "2", "x"],
            "Notes": ["ok", '=HYPERLINK("http://evil.example","click")', "#REF!"],
        })
    return RawTable(agency=AGENCY, role="customs", file=file, sheet=sheet, header_row=4, data=data,
                    excel_rows=list(excel_rows),
                    field_columns={"record_id": "Ref", "partner_state": "Destination", "quantity": "Qty",
                                   "comments": "Notes"})


def _finding(severity="error", code="partner-unknown", message="Narnia is not a State we recognise.",
             row=6, field="partner_state", agency=AGENCY, file=FILE, sheet="Data") -> Finding:
    return Finding(severity=severity, code=code, message=message, agency=agency, file=file, sheet=sheet,
                   row=row, field=field)


def _fill(cell) -> str | None:
    return cell.fill.fgColor.rgb if cell.fill is not None and cell.fill.fill_type == "solid" else None


def _hex(severity: str) -> str:
    return "FF" + SEVERITY_FILLS[severity].lstrip("#").upper()


def _marked(ws) -> dict[str, tuple[str | None, str | None]]:
    out = {}
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            fill = _fill(cell)
            if fill or cell.comment:
                out[cell.coordinate] = (fill, cell.comment.text if cell.comment else None)
    return out


def test_finding_marks_exactly_its_cell(tmp_path):
    path = tmp_path / "fb.xlsx"
    write_feedback(path, AGENCY, [_table()], to_frame([_finding()]))
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [FINDINGS_SHEET, "exports 2024 - Data"]
    ws = wb["exports 2024 - Data"]
    assert [c.value for c in ws[1]] == [ROW_COLUMN, "Ref", "Destination", "Qty", "Notes"]
    assert [ws.cell(row=r, column=1).value for r in (2, 3, 4)] == [5, 6, 8]
    # Excel row 6 is the second data row -> sheet row 3; Destination is column C
    marked = _marked(ws)
    assert list(marked) == ["C3"]
    fill, comment = marked["C3"]
    assert fill == _hex("error")
    assert "Narnia is not a State we recognise." in comment
    assert ws["C3"].value == "Narnia"


def test_row_level_header_and_unplaceable_findings(tmp_path):
    findings = to_frame([
        _finding("warning", "row-blank-ish", "Row looks like a total.", row=8, field=""),
        _finding("info", "unknown-column", "Column Notes is not used.", row=4, field="Notes"),
        _finding("error", "file-level", "Whole-file problem.", row=None, field=""),
        _finding("error", "no-column", "Field not in this table.", row=5, field="currency"),
        _finding("error", "other-agency", "Not ours.", row=5, field="quantity", agency="Police"),
        _finding("error", "other-sheet", "Another sheet.", row=5, field="quantity", sheet="Other"),
    ])
    path = tmp_path / "fb.xlsx"
    write_feedback(path, AGENCY, [_table()], findings)
    wb = openpyxl.load_workbook(path)
    ws = wb["exports 2024 - Data"]
    assert _marked(ws) == {"A4": (_hex("warning"), "WARNING: Row looks like a total. [row-blank-ish]")}
    header = ws["E1"]
    assert _fill(header) == _hex("info") and "Column Notes is not used." in header.comment.text
    listed = [row for row in wb[FINDINGS_SHEET].iter_rows(min_row=2, values_only=True)]
    codes = {row[FINDINGS_COLUMNS.index("code")] for row in listed}
    # every finding of the agency is listed, placed or not; other agencies' are not
    assert codes == {"row-blank-ish", "unknown-column", "file-level", "no-column", "other-sheet"}
    assert [c.value for c in wb[FINDINGS_SHEET][1]] == list(FINDINGS_COLUMNS)
    assert "decision" not in FINDINGS_COLUMNS and "related" in FINDINGS_COLUMNS
    assert wb[FINDINGS_SHEET].freeze_panes == "A2" and wb[FINDINGS_SHEET].auto_filter.ref


def test_worst_severity_wins_and_all_messages_shown(tmp_path):
    findings = to_frame([
        _finding("info", "hint", "Did you mean France?", row=6),
        _finding("error", "partner-unknown", "Narnia is not a State we recognise.", row=6),
        _finding("warning", "qty", "Quantity looks low.", row=6, field="quantity"),
    ])
    path = tmp_path / "fb.xlsx"
    write_feedback(path, AGENCY, [_table()], findings)
    ws = openpyxl.load_workbook(path)["exports 2024 - Data"]
    fill, comment = _marked(ws)["C3"]
    assert fill == _hex("error")
    assert comment.index("ERROR") < comment.index("INFO") and "Did you mean France?" in comment
    assert _marked(ws)["D3"][0] == _hex("warning")


def test_agency_text_stays_text(tmp_path):
    path = tmp_path / "fb.xlsx"
    write_feedback(path, AGENCY, [_table()], to_frame([
        _finding(row=6, field="comments", message="=HYPERLINK(\"x\") is odd", code="c")]))
    wb = openpyxl.load_workbook(path)
    ws = wb["exports 2024 - Data"]
    assert ws["E3"].value == '=HYPERLINK("http://evil.example","click")'
    assert ws["E3"].data_type == "s"
    assert ws["E4"].value == "#REF!" and ws["E4"].data_type == "s"
    message_col = FINDINGS_COLUMNS.index("message") + 1
    cell = wb[FINDINGS_SHEET].cell(row=2, column=message_col)
    assert cell.value.startswith("=HYPERLINK") and cell.data_type == "s"


def _hundred_rows() -> tuple[RawTable, pd.DataFrame]:
    n = 100
    data = pd.DataFrame({
        "Ref": [f"R{i:03d}" for i in range(n)],
        "Destination": ["Narnia" if i % 9 == 0 else "France" for i in range(n)],
        "Qty": [str(i) for i in range(n)],
        "Notes": [None if i % 4 else " padded " for i in range(n)],
    })
    table = _table(data, excel_rows=range(2, n + 2))
    findings = to_frame([_finding(row=r) for r in range(2, n + 2, 9)]
                        + [_finding("warning", "w", "Row note.", row=r, field="") for r in range(3, n, 10)])
    return table, findings


def test_same_input_same_bytes(tmp_path):
    table, findings = _hundred_rows()
    write_feedback(tmp_path / "a.xlsx", AGENCY, [table], findings)
    write_feedback(tmp_path / "b.xlsx", AGENCY, [table], findings.iloc[::-1])
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def _dump(path):
    wb = openpyxl.load_workbook(path)
    return {
        ws.title: [
            (c.coordinate, c.value, c.data_type, _fill(c), c.comment.text if c.comment else None, c.quotePrefix)
            for row in ws.iter_rows() for c in row
        ]
        for ws in wb
    }


def test_streamed_sheets_match_cell_by_cell_writing(tmp_path, monkeypatch):
    table, findings = _hundred_rows()
    other = _table()
    write_feedback(tmp_path / "direct.xlsx", AGENCY, [table, other], findings)
    monkeypatch.setattr(feedback, "STREAM_ROWS", 0)
    monkeypatch.setattr(feedback, "STREAM_CHUNK", 7)  # several chunks
    write_feedback(tmp_path / "streamed.xlsx", AGENCY, [table, other], findings)
    assert _dump(tmp_path / "direct.xlsx") == _dump(tmp_path / "streamed.xlsx")


def test_large_table_writes_in_seconds(tmp_path):
    from python_calamine import CalamineWorkbook

    n = 40_000
    data = pd.DataFrame({f"col{j}": [f"v{j}-{i}" if i % 5 else None for i in range(n)] for j in range(10)})
    table = RawTable(agency=AGENCY, role="customs", file="inputs/customs/big.csv", sheet="", header_row=1,
                     data=data, excel_rows=list(range(2, n + 2)), field_columns={"partner_state": "col3"})
    findings = to_frame([Finding("error", "e", "bad", agency=AGENCY, file=table.file, row=r,
                                 field="partner_state") for r in range(2, n, 97)])
    start = time.perf_counter()
    write_feedback(tmp_path / "big.xlsx", AGENCY, [table], findings)
    assert time.perf_counter() - start < 30
    rows = CalamineWorkbook.from_path(str(tmp_path / "big.xlsx")).get_sheet_by_name("big").to_python()
    assert len(rows) == n + 1
    assert rows[0][:2] == [ROW_COLUMN, "col0"]
    assert rows[7][0] == 8 and rows[7][1] == "v0-6" and rows[n][10] == f"v9-{n - 1}"


def test_sheet_names_valid_and_unique():
    tables = [
        _table(sheet="Exports [2024]: a/b*c?"),
        _table(sheet="Exports [2024]: a/b*c?"),
        _table(sheet="", file="inputs/customs/Findings.csv"),
        _table(sheet="x" * 40, file="inputs/customs/long name.xlsx"),
    ]
    names = sheet_names(tables)
    assert len({n.lower() for n in names} | {FINDINGS_SHEET.lower()}) == len(names) + 1
    for name in names:
        assert len(name) <= 31 and not set(name) & set("[]:*?/\\")
    assert names[0].startswith("exports 2024 - Exports _2024_")
    assert names[1].endswith("(2)")
    assert names[2] == "Findings (2)"


@pytest.mark.parametrize("empty", [True, False])
def test_no_findings_or_no_rows(tmp_path, empty):
    data = pd.DataFrame({"Ref": pd.Series([], dtype=object)}) if empty else None
    table = _table(data, excel_rows=[] if empty else (5, 6, 8))
    write_feedback(tmp_path / "fb.xlsx", AGENCY, [table], to_frame([]))
    wb = openpyxl.load_workbook(tmp_path / "fb.xlsx")
    assert wb[FINDINGS_SHEET].max_row == 1
    assert _marked(wb.worksheets[1]) == {}


def test_a_table_longer_than_a_sheet_goes_on_in_further_sheets(tmp_path, monkeypatch):
    monkeypatch.setattr(feedback, "SHEET_DATA_ROWS", 2)
    table = _table()  # rows 5, 6 and 8
    write_feedback(tmp_path / "f.xlsx", AGENCY, [table], to_frame([_finding(row=8, field="quantity")]))
    wb = openpyxl.load_workbook(tmp_path / "f.xlsx")
    first, second = (wb[name] for name in wb.sheetnames[1:])
    assert wb.sheetnames[1:] == [first.title, f"{first.title} (2)"]
    rows = [[c.value for c in row] for sheet in (first, second) for row in sheet.iter_rows()]
    assert [r[0] for r in rows] == [ROW_COLUMN, 5, 6, ROW_COLUMN, 8]  # every row once, each part headed
    assert [r[1] for r in rows if r[0] != ROW_COLUMN] == ["E-1", "E-2", "E-3"]
    assert not _marked(first) and list(_marked(second)) == ["D2"]  # the finding on row 8, in the part holding it
