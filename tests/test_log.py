"""Discrepancy log writers: exact csv columns, text stays text, deterministic bytes, summary."""

from __future__ import annotations

import csv
import time

import openpyxl
import pandas as pd

from att_report.findings import LOG_FIELDS, Finding, to_frame
from att_report.render.log import log_names, write_log_csv, write_log_xlsx
from att_report.render.manifest import accounting_table
from att_report.records import make_records

EVIL = '=HYPERLINK("http://evil.example","click")'


def findings() -> pd.DataFrame:
    return to_frame([
        Finding(severity="error", code="partner-mismatch", message="The shipment goes to FJI", agency="Customs",
                file="inputs/customs/c.csv", row=3, field="partner_state", value="FJI",
                related="Licensing:inputs/lic/l.xlsx:2", decision="accept", decision_note="ok (JS)"),
        Finding(severity="warning", code="near-duplicate", message="Possibly the same", agency="Defence",
                file="inputs/mod/m.xlsx", sheet="Transfers", row=5, field="description", value=EVIL),
        Finding(severity="info", code="licence-unused", message="-1 shipments?", agency="Licensing",
                file="inputs/lic/l.xlsx", row=4, value="@SUM(A1)"),
        Finding(severity="warning", code="decision-stale", message="stale", file="decisions.csv", row=2,
                value="F-000000000000"),
    ])


def accounting() -> pd.DataFrame:
    recs = pd.concat([
        make_records([{"record_id": "a"}, {"record_id": "b"}], agency="Customs", file="inputs/customs/c.csv"),
        make_records([{"record_id": "c"}], agency="Defence", file="inputs/mod/m.xlsx"),
    ], ignore_index=True)
    recs["disposition"] = ["reported", "merged", "invalid"]
    return accounting_table(recs)


def test_log_names():
    assert log_names(2024) == ("discrepancy_log_2024.xlsx", "discrepancy_log_2024.csv")


def test_csv_columns_exact_and_formulas_neutralised(tmp_path):
    path = tmp_path / "log.csv"
    write_log_csv(findings(), path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["finding_id", "severity", "code", "message", "agency", "file", "sheet", "row", "field",
                       "value", "related", "decision", "decision_note"]
    assert tuple(rows[0]) == LOG_FIELDS
    values = {r[2]: r for r in rows[1:]}
    assert values["near-duplicate"][9] == "'" + EVIL
    assert values["licence-unused"][9] == "'@SUM(A1)"
    assert values["licence-unused"][3] == "'-1 shipments?"
    assert values["partner-mismatch"][7] == "3"
    assert [r[1] for r in rows[1:]] == ["error", "warning", "warning", "info"]  # severity first


def test_xlsx_sheets_text_stays_text(tmp_path):
    path = tmp_path / "log.xlsx"
    write_log_xlsx(path, findings(), accounting(), 2024)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Summary", "Findings"]
    ws = wb["Findings"]
    header = [c.value for c in ws[1]]
    assert tuple(header) == LOG_FIELDS
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:M")
    cells = {ws.cell(r, 3).value: r for r in range(2, ws.max_row + 1)}
    evil = ws.cell(cells["near-duplicate"], 10)
    assert evil.value == EVIL and evil.data_type == "s"
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f"
    assert ws.cell(cells["partner-mismatch"], 8).value == 3
    assert ws.column_dimensions["D"].width >= 60  # message is readable
    assert ws.cell(cells["partner-mismatch"], 12).value == "accept"


def test_xlsx_summary_counts_and_accounting(tmp_path):
    path = tmp_path / "log.xlsx"
    write_log_xlsx(path, findings(), accounting(), 2024)
    ws = openpyxl.load_workbook(path)["Summary"]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    flat = [r for r in rows if any(v is not None for v in r)]
    assert flat[0][0] == "Discrepancy log 2024"
    by_first = {r[0]: r for r in flat}
    assert by_first["error"][1:4] == [1, 1, 0]
    assert by_first["warning"][1:4] == [2, 0, 2]
    assert by_first["(workspace)"][0] == "(workspace)"  # the stale decision has no agency
    header = next(r for r in flat if r[:3] == ["agency", "path", "rows_read"])
    assert header[3:9] == ["reported", "merged", "excluded", "withheld", "invalid", "reference"]
    totals = [r for r in flat if r[0] == "Total"]
    assert totals[-1][2:9] == [3, 1, 1, 0, 0, 1, 0]
    assert totals[0][1] == 4  # all findings


def test_xlsx_deterministic_bytes(tmp_path):
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_log_xlsx(a, findings(), accounting(), 2024)
    write_log_xlsx(b, findings().iloc[::-1], accounting(), 2024)
    assert a.read_bytes() == b.read_bytes()
    c1, c2 = tmp_path / "a.csv", tmp_path / "b.csv"
    write_log_csv(findings(), c1)
    write_log_csv(findings().iloc[::-1], c2)
    assert c1.read_bytes() == c2.read_bytes()


def test_empty_log(tmp_path):
    write_log_xlsx(tmp_path / "e.xlsx", to_frame([]), accounting(), 2024)
    write_log_csv(to_frame([]), tmp_path / "e.csv")
    assert (tmp_path / "e.csv").read_text().strip() == ",".join(LOG_FIELDS)
    assert openpyxl.load_workbook(tmp_path / "e.xlsx")["Findings"].max_row == 1


def test_huge_related_cell_is_cut_not_lost(tmp_path):
    long = ";".join(f"Customs:inputs/customs/c.csv:{i}" for i in range(3000))
    f = to_frame([Finding(severity="error", code="licence-quantity-exceeded", message="m", agency="L",
                          file="l.xlsx", row=2, related=long)])
    write_log_xlsx(tmp_path / "l.xlsx", f, accounting(), 2024)
    cell = openpyxl.load_workbook(tmp_path / "l.xlsx")["Findings"].cell(2, 11).value
    assert len(cell) <= 32_767 and "see the csv log" in cell
    write_log_csv(f, tmp_path / "l.csv")
    assert long in (tmp_path / "l.csv").read_text()


def test_large_log_writes_quickly(tmp_path):
    n = 10_000
    base = findings().iloc[[0]]
    big = pd.concat([base] * n, ignore_index=True)
    big["finding_id"] = [f"F-{i:012x}" for i in range(n)]
    big["row"] = pd.array(range(2, n + 2), dtype="Int64")
    t0 = time.perf_counter()
    write_log_xlsx(tmp_path / "big.xlsx", big, accounting(), 2024)
    write_log_csv(big, tmp_path / "big.csv")
    assert time.perf_counter() - t0 < 60


def test_a_log_too_long_for_a_sheet_lists_the_first_findings_and_links_the_csv(tmp_path, monkeypatch):
    from att_report.render import log

    monkeypatch.setattr(log, "FINDINGS_SHEET_MAX_ROWS", 3)
    many = pd.concat([findings(), findings().iloc[[0]].assign(finding_id="F-000000000009", row=9)],
                     ignore_index=True)
    write_log_xlsx(tmp_path / "m.xlsx", many, accounting(), 2024)
    write_log_csv(many, tmp_path / "m.csv")
    wb = openpyxl.load_workbook(tmp_path / "m.xlsx")
    sheet = wb["Findings"]
    listed = [row for row in sheet.iter_rows(min_row=2, max_row=4, values_only=True)]
    assert [r[1] for r in listed] == ["error", "error", "warning"]  # errors first
    assert sheet.cell(5, 1).value is None
    note = sheet.cell(6, 1)
    assert "5 findings: the first 3" in note.value and "discrepancy_log_2024.csv" in note.value
    assert note.hyperlink.target == "discrepancy_log_2024.csv"
    summary = [c for row in wb["Summary"].iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert any("5 findings: the first 3" in c for c in summary)
    totals = [row for row in wb["Summary"].iter_rows(values_only=True) if row[0] == "Total"]
    assert totals[0][1] == 5  # the summary counts every finding, listed or not
    with open(tmp_path / "m.csv", newline="", encoding="utf-8") as fh:
        assert len(list(csv.reader(fh))) == 1 + 5


def test_a_log_that_fits_has_no_note(tmp_path):
    write_log_xlsx(tmp_path / "f.xlsx", findings(), accounting(), 2024)
    wb = openpyxl.load_workbook(tmp_path / "f.xlsx")
    assert wb["Findings"].max_row == 1 + 4
    assert not any("findings: the first" in c for row in wb["Summary"].iter_rows(values_only=True)
                   for c in row if isinstance(c, str))
