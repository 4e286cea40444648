"""Render the year-on-year comparison (`comparison_<YEAR>.xlsx`) and the mirror check (`mirror_<YEAR>.xlsx`).

Renderers only: the numbers come computed in `Comparison` / `MirrorResult`
(att_report.compare). Every text goes through xlsxio.set_text (never a
formula); saves are deterministic (xlsxio.save_workbook).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from att_report.compare.common import category_label, state_name
from att_report.render import xlsxio

TITLE_FONT = Font(bold=True, size=14)
FLAG_FILL = PatternFill("solid", fgColor="FFE699")
TOP = Alignment(vertical="top", wrap_text=True)


def _cell(ws, row: int, col: int, value) -> None:
    cell = ws.cell(row=row, column=col)
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return
    if isinstance(value, (int, float)) and not isinstance(value, bool) or hasattr(value, "__index__"):
        v = float(value)
        cell.value = int(v) if v.is_integer() else round(v, 4)
        cell.number_format = "#,##0" if v.is_integer() else "#,##0.00"
    else:
        xlsxio.set_text(cell, value)
    cell.alignment = TOP


def _sheet(wb: Workbook, name: str, headers: list[str], rows: list[list], widths: list[float],
           flag_col: int | None = None) -> None:
    ws = wb.create_sheet(name)
    xlsxio.write_header(ws, 1, headers, widths=widths)
    for i, values in enumerate(rows, start=2):
        for j, value in enumerate(values, start=1):
            _cell(ws, i, j, value)
        if flag_col is not None and values[flag_col]:
            for j in range(1, len(headers) + 1):
                ws.cell(row=i, column=j).fill = FLAG_FILL
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{ws.cell(row=1, column=len(headers)).column_letter}{max(1, len(rows) + 1)}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _about(wb: Workbook, title: str, items: list[tuple[str, str]], notes: tuple[str, ...]) -> None:
    ws = wb.create_sheet("About")
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 100
    xlsxio.set_text(ws.cell(row=1, column=1), title)
    ws.cell(row=1, column=1).font = TITLE_FONT
    row = 3
    for label, value in items:
        xlsxio.set_text(ws.cell(row=row, column=1), label)
        xlsxio.set_text(ws.cell(row=row, column=2), value)
        ws.cell(row=row, column=2).alignment = TOP
        row += 1
    for i, note in enumerate(notes):
        xlsxio.set_text(ws.cell(row=row + 1 + i, column=1), "Note" if i == 0 else "")
        xlsxio.set_text(ws.cell(row=row + 1 + i, column=2), note)
        ws.cell(row=row + 1 + i, column=2).alignment = TOP


FINDING_HEADERS = ["Finding id", "Severity", "Code", "Message", "Sheet", "Field", "Value", "Related"]


def _findings_rows(findings: pd.DataFrame) -> list[list]:
    return [[r.finding_id, r.severity, r.code, r.message, r.sheet, r.field, r.value, r.related]
            for r in findings.itertuples(index=False)]


def write_comparison(path: Path, comparison) -> None:
    """Write `comparison_<YEAR>.xlsx`: About, Comparison (per table, basis, category, partner), Partners, Findings."""
    c = comparison
    wb = Workbook()
    wb.remove(wb.active)
    items = [
        ("Reporting State", f"{state_name(c.state)} ({c.state})"),
        ("Years", f"{c.previous_year} -> {c.year}"),
        ("This year's report", c.current_source),
        ("Last year's report", c.previous_source),
        ("Currency", f"{c.previous_currency or '-'} ({c.previous_year}), {c.currency or '-'} ({c.year})"),
    ]
    for table, (prev, cur) in c.bases.items():
        items.append((f"{table.title()}: basis", f"{' and '.join(prev) or '-'} ({c.previous_year}), "
                      f"{' and '.join(cur) or '-'} ({c.year})"))
    for table, (prev, cur) in c.measures.items():
        items.append((f"{table.title()}: measure", f"{prev or '-'} ({c.previous_year}), {cur or '-'} ({c.year})"))
    items += [
        ("Large swing flagged at", f"x{c.swing_factor:g} or more (either way) - [compare] swing_factor"),
        ("New partner flagged above", f"{c.new_partner_threshold:g} (items; value for value-only tables) - "
                                      "[compare] new_partner_threshold"),
        ("Findings", str(len(c.findings))),
    ]
    _about(wb, f"Year-on-year comparison {c.previous_year} -> {c.year}", items, c.notes)
    headers = ["Table", "Basis", f"Basis {c.previous_year}", "Category", "Partner State",
               f"Number {c.previous_year}", f"Number {c.year}", "Change in number",
               f"Value {c.previous_year}", f"Value {c.year}", "Change in value", "Status", "Flag", "Note"]
    rows = [[r.table, r.basis, r.previous_basis, category_label(r.category), state_name(r.partner),
             r.previous_number, r.number, r.number_change, r.previous_value, r.value, r.value_change,
             r.status, r.flag, r.note] for r in c.rows.itertuples(index=False)]
    _sheet(wb, "Comparison", headers, rows, [9, 11, 11, 34, 24, 11, 11, 11, 14, 14, 14, 15, 18, 24], flag_col=12)
    p_headers = ["Table", "Basis", "Partner State", "Status", f"Number {c.previous_year}", f"Number {c.year}",
                 f"Value {c.previous_year}", f"Value {c.year}"]
    p_rows = [[r.table, r.basis, state_name(r.partner), r.status, r.previous_number, r.number, r.previous_value,
               r.value] for r in c.partners.itertuples(index=False)]
    _sheet(wb, "New and vanished partners", p_headers, p_rows, [9, 11, 26, 10, 12, 12, 14, 14])
    _sheet(wb, "Findings", FINDING_HEADERS, _findings_rows(c.findings), [16, 9, 18, 90, 10, 9, 16, 20])
    wb.active = 0
    xlsxio.save_workbook(wb, path)


def write_mirror(path: Path, result) -> None:
    """Write `mirror_<YEAR>.xlsx`: About (partners, tolerance), Mirror (per partner, direction, category), Findings."""
    r = result
    wb = Workbook()
    wb.remove(wb.active)
    items = [("Reporting State", f"{state_name(r.state)} ({r.state})"), ("Year", str(r.year)),
             ("Tolerance", f"differences of at most {r.min_abs:g} or at most {r.tolerance:.0%} of the larger "
                           "figure are ignored - [mirror] min_abs, [mirror] tolerance")]
    for code, name, year, source in r.partners:
        items.append((f"Partner report: {name}", f"{source} ({year if year is not None else 'year not stated'})"))
    items.append(("Findings", str(len(r.findings))))
    _about(wb, f"Mirror check {r.year}: our report against partner States' reports", items, r.notes)
    headers = ["Partner State", "Compared", "Category", "Our basis", "Their basis", "Measure", "Ours", "Theirs",
               "Difference", "Relative difference", "Status"]
    direction = {"exports": "our exports / their imports", "imports": "our imports / their exports"}
    rows = [[state_name(x.partner), direction.get(x.direction, x.direction), category_label(x.category),
             x.our_basis, x.their_basis, x.measure, x.ours, x.theirs, x.difference,
             None if pd.isna(x.relative) else f"{x.relative:.0%}", x.status]
            for x in r.rows.itertuples(index=False)]
    flagged = [row + [row[-1] == "difference"] for row in rows]
    _sheet(wb, "Mirror", headers, [row[:-1] for row in flagged], [24, 26, 34, 11, 11, 9, 11, 11, 11, 12, 16])
    ws = wb["Mirror"]
    for i, row in enumerate(flagged, start=2):
        if row[-1]:
            for j in range(1, len(headers) + 1):
                ws.cell(row=i, column=j).fill = FLAG_FILL
    _sheet(wb, "Findings", FINDING_HEADERS, _findings_rows(r.findings), [16, 9, 18, 90, 10, 9, 16, 20])
    wb.active = 0
    xlsxio.save_workbook(wb, path)
