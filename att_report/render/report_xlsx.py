"""Render the ATT annual report workbook from the frozen ReportModel.

Sheets (names from the template definition): Cover, Exports, Imports,
National definitions, Sources (optional, not for submission). Layout of a
table sheet: a title block, then per basis section a section title row, one
header row with the template's eight columns, and the lines grouped by
category in template order; a category with no lines still shows (empty).
Every text goes through xlsxio.set_text (never a formula); the file is saved
deterministically (xlsxio.save_workbook).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins

from att_report.compile.model import ReportModel, TableModel
from att_report.render import xlsxio

#: Above this many Sources rows the provenance goes to a csv beside the workbook.
SOURCES_MAX_ROWS = 100_000

FONT = "Calibri"  # the workbook default; named so bold text does not fall back to a serif font
TITLE_FONT = Font(name=FONT, bold=True, size=14)
SUBTITLE_FONT = Font(name=FONT, bold=True, size=11)
HEADER_FONT = Font(name=FONT, bold=True, size=11)
DRAFT_FONT = Font(name=FONT, bold=True, size=14, color="C00000")
NIL_FONT = Font(name=FONT, bold=True, size=12)
LINK_FONT = Font(name=FONT, color="0563C1", underline="single")
SECTION_FILL = PatternFill("solid", fgColor="C9D6E8")
BAND_FILL = PatternFill("solid", fgColor="F3F6FA")
TO_FILL = PatternFill("solid", fgColor="FFF2CC")
THIN = Side(style="thin", color="A0A0A0")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="top")
NUMBER_FORMAT = "#,##0"


def sources_csv_path(path: Path) -> Path:
    """Where the provenance goes when it is too large for the Sources sheet."""
    return path.with_name(path.stem + "_sources.csv")


def _yes_no(model: ReportModel, flag: bool) -> str:
    texts = model.template.texts
    return texts["yes"] if flag else texts["no"]


def basis_label(basis: str) -> str:
    return "authorized and actual (two separate sections)" if basis == "both" else basis


def cover_values(model: ReportModel) -> dict[str, str]:
    """The cover's field values as text, by template key."""
    c = model.cover
    texts = model.template.texts
    values = {
        "status": texts["draft"] if c.draft else "Final",
        "state": c.state_name,
        "state_code": c.state,
        "year": str(c.year),
        "submission_date": c.submission_date.isoformat() if c.submission_date else "",
        "contact_name": c.contact_name,
        "contact_position": c.contact_position,
        "contact_organisation": c.contact_organisation,
        "contact_telephone": c.contact_telephone,
        "contact_email": c.contact_email,
        "contact_address": c.contact_address,
        "withheld": _yes_no(model, c.withheld),
        "public": _yes_no(model, c.public),
        "exports_basis": basis_label(c.exports_basis),
        "imports_basis": basis_label(c.imports_basis),
        "exports_definition": c.exports_definition,
        "imports_definition": c.imports_definition,
        "currency": c.currency,
        "currency_notes": " ".join(c.currency_notes),
        "template_version": c.template_version,
    }
    for key in ("form_exports", "form_imports", "form_nil_exports", "form_nil_imports",
                "form_national_definitions"):
        values[key] = _yes_no(model, getattr(c, key))
    return values


def _page_setup(ws, *, print_title_row: int | None = None) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    ws.print_options.gridLines = False
    if print_title_row:
        ws.print_title_rows = f"{print_title_row}:{print_title_row}"


LINE_HEIGHT = 15.0  # points per text line at the default 11 pt font


def _lines_needed(text: str, width: float) -> int:
    """Lines a wrapped text takes in a column `width` characters wide (estimate)."""
    per_line = max(1, int(width * 1.2))
    return sum(max(1, -(-len(part) // per_line)) for part in str(text).split("\n"))


def _fit_row(ws, row: int, widths: dict[int, float]) -> None:
    """Give a row the height its wrapped text needs (LibreOffice keeps the stored height)."""
    need = 1
    for col, width in widths.items():
        value = ws.cell(row=row, column=col).value
        if isinstance(value, str) and value:
            need = max(need, _lines_needed(value, width))
    if need > 1:
        ws.row_dimensions[row].height = LINE_HEIGHT * need


def _text(ws, row: int, col: int, value: object, *, font=None, fill=None, align=WRAP, border=None):
    cell = ws.cell(row=row, column=col)
    xlsxio.set_text(cell, "" if value is None or value is pd.NA else value)
    if font:
        cell.font = font
    if fill:
        cell.fill = fill
    if align:
        cell.alignment = align
    if border:
        cell.border = border
    return cell


def _banner(ws, row: int, value: str, ncols: int, total_width: float, *, font=None, fill=None) -> None:
    """A title-block line across the table's width (merged, wrapped, height fitted)."""
    _text(ws, row, 1, value, font=font, fill=fill, align=Alignment(wrap_text=True, vertical="top"))
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=ncols)
    lines = _lines_needed(value, total_width * 0.9)
    size = font.size if font is not None and font.size else 11
    ws.row_dimensions[row].height = max(LINE_HEIGHT, size * 1.4) * lines


def _write_cover(wb: Workbook, model: ReportModel) -> None:
    tpl = model.template
    ws = wb.create_sheet(tpl.sheets["cover"])
    ws.column_dimensions["A"].width = 48
    ws.column_dimensions["B"].width = 70
    _text(ws, 1, 1, tpl.title, font=TITLE_FONT, align=Alignment(vertical="top"))
    row = 2
    if model.cover.draft:
        _text(ws, row, 1, "DRAFT", font=DRAFT_FONT)
        _text(ws, row, 2, tpl.texts["draft"], font=DRAFT_FONT)
    row = 3
    values = cover_values(model)
    for field in tpl.cover:
        if field.section:
            row += 1
            _text(ws, row, 1, field.section, font=SUBTITLE_FONT, fill=SECTION_FILL)
            ws.cell(row=row, column=2).fill = SECTION_FILL
            row += 1
        _text(ws, row, 1, field.label, border=BOX)
        value = values.get(field.key, "")
        cell = _text(ws, row, 2, value, border=BOX)
        if field.key == "submission_date" and not value:
            cell.fill = TO_FILL  # left for the NPC to fill in
        if field.key == "status" and model.cover.draft:
            cell.font = Font(name=FONT, bold=True, color="C00000")
        _fit_row(ws, row, {1: 48, 2: 70})
        row += 1
    _page_setup(ws)
    ws.page_setup.orientation = "portrait"


def _section_title(model: ReportModel, table: TableModel, basis: str) -> str:
    flows = "exports" if table.flow == "export" else "imports"
    return model.template.basis_text[basis].format(flows=flows, year=model.cover.year)


def _write_table(wb: Workbook, model: ReportModel, table: TableModel) -> None:
    tpl = model.template
    text = tpl.tables[table.key]
    c = model.cover
    ws = wb.create_sheet(tpl.sheets[table.key])
    ncols = len(tpl.columns)
    widths = {i: col.width for i, col in enumerate(tpl.columns, start=1)}
    for i, col in enumerate(tpl.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = col.width
    total = sum(widths.values())

    def banner(value: str, font=None, fill=None) -> None:
        nonlocal row
        _banner(ws, row, value, ncols, total, font=font, fill=fill)
        row += 1

    row = 1
    banner(text.title, TITLE_FONT)
    banner(f"{c.state_name} ({c.state}) - calendar year {c.year} - {tpl.title}")
    if table.measure != "number":
        note = tpl.texts["value_note"].format(currency=model.currency) if model.currency else tpl.texts["no_value_note"]
        banner(" ".join([note, *c.currency_notes]))
    if c.draft:
        banner(tpl.texts["draft"], DRAFT_FONT)
    if table.nil:
        banner(text.nil_text.format(state=c.state_name, year=c.year), NIL_FONT)
    if len(table.sections) > 1:
        banner(tpl.basis_text["both_note"], SUBTITLE_FONT)
    headers = tpl.headers(table.key)
    display = tpl.category_display
    first_header = None
    for section in table.sections:
        row += 1
        title = _section_title(model, table, section.basis)
        if section.lines.empty and not table.nil:
            title += " - " + text.empty_section_text.format(year=c.year)
        banner(title, SUBTITLE_FONT, SECTION_FILL)
        for col, header in enumerate(headers, start=1):
            _text(ws, row, col, header, font=HEADER_FONT, fill=xlsxio.HEADER_FILL, border=BOX)
        _fit_row(ws, row, widths)
        first_header = first_header or row
        row += 1
        row = _write_lines(ws, row, section.lines, display, [cat.code for cat in tpl.categories], widths)
    if first_header:
        ws.freeze_panes = ws.cell(row=first_header + 1, column=1)
        _page_setup(ws, print_title_row=first_header)


def _names(codes: pd.Series) -> pd.Series:
    from att_report.normalise.countries import country_names

    return country_names(codes.astype("string").fillna("")).fillna("")


def _intermediate_names(codes: pd.Series) -> pd.Series:
    """"DEU;FRA" -> "Germany; France" (names hold commas, so '; ' separates)."""
    text = codes.astype("string").fillna("")
    uniques = text.unique()
    mapping = {}
    for u in uniques:  # per distinct value, not per line
        parts = [p for p in str(u).split(";") if p.strip()]
        mapping[u] = "; ".join(_names(pd.Series(parts, dtype="string")).tolist()) if parts else ""
    return text.map(mapping)


def _write_lines(ws, row: int, lines: pd.DataFrame, display: dict[str, str], order: list[str],
                 widths: dict[int, float]) -> int:
    """Lines grouped by category in template order; empty categories shown empty."""
    frame = lines.assign(
        pname=_names(lines["partner"]), oname=_names(lines["origin"]),
        iname=_intermediate_names(lines["intermediates"]),
    )
    by_cat = {code: part for code, part in frame.groupby("category", sort=False)} if not frame.empty else {}
    extra = [code for code in by_cat if code not in display]
    band = False
    for code in [*order, *sorted(extra)]:
        label = display.get(code) or (code if code else "(no category)")
        fill = BAND_FILL if band else None
        band = not band
        part = by_cat.get(code)
        if part is None or part.empty:
            _text(ws, row, 1, label, fill=fill, border=BOX)
            for col in range(2, 9):
                cell = ws.cell(row=row, column=col)
                cell.border = BOX
                if fill:
                    cell.fill = fill
            _fit_row(ws, row, widths)
            row += 1
            continue
        for rec in part.itertuples(index=False):
            _text(ws, row, 1, label, fill=fill, border=BOX)
            _text(ws, row, 2, rec.pname, fill=fill, border=BOX)
            _text(ws, row, 3, rec.oname, fill=fill, border=BOX)
            _text(ws, row, 4, rec.iname, fill=fill, border=BOX)
            for col, value in ((5, rec.number), (6, rec.value)):
                cell = ws.cell(row=row, column=col)
                if value is not None and value is not pd.NA and not pd.isna(value):
                    v = float(value)
                    cell.value = int(v) if v.is_integer() else v
                    cell.number_format = NUMBER_FORMAT
                cell.border = BOX
                cell.alignment = Alignment(vertical="top")
                if fill:
                    cell.fill = fill
            _text(ws, row, 7, rec.description, fill=fill, border=BOX)
            _text(ws, row, 8, rec.comments, fill=fill, border=BOX)
            _fit_row(ws, row, widths)
            row += 1
    return row


def _write_definitions(wb: Workbook, model: ReportModel) -> None:
    tpl = model.template
    ws = wb.create_sheet(tpl.sheets["definitions"])
    ws.column_dimensions["A"].width = 120
    _text(ws, 1, 1, tpl.texts["definitions_title"], font=TITLE_FONT)
    row = 3
    body = model.national_definitions.strip()
    for paragraph in (body.split("\n") if body else [tpl.texts["no_definitions"]]):
        _text(ws, row, 1, paragraph)
        row += 1
    for table in model.tables:
        if table.definition:
            row += 1
            _text(ws, row, 1, tpl.tables[table.key].definition_label, font=SUBTITLE_FONT)
            _text(ws, row + 1, 1, table.definition)
            row += 2
    _page_setup(ws)


SOURCES_HEADERS = ["Line", "Agency", "File", "Sheet", "Rows", "Number of rows"]


def _write_sources(wb: Workbook, model: ReportModel, path: Path) -> None:
    tpl = model.template
    ws = wb.create_sheet(tpl.sheets["sources"])
    ws.sheet_properties.tabColor = "808080"
    _text(ws, 1, 1, tpl.texts["sources_title"], font=DRAFT_FONT, align=Alignment(vertical="top"))
    sources = model.sources
    if len(sources) > SOURCES_MAX_ROWS:
        csv_path = sources_csv_path(path)
        out = sources.rename(columns=dict(zip(sources.columns, SOURCES_HEADERS)))
        from att_report.findings import neutralise_formulas

        for col in ("Agency", "File", "Sheet"):
            out[col] = neutralise_formulas(out[col])
        out.to_csv(csv_path, index=False, encoding="utf-8", lineterminator="\n")
        cell = _text(ws, 3, 1, f"{len(sources):,} source entries: too many for this sheet; see {csv_path.name} "
                     "(in the same folder as this workbook).")
        cell.hyperlink = csv_path.name
        cell.font = LINK_FONT
        ws.column_dimensions["A"].width = 100
        return
    widths = [14, 22, 40, 16, 40, 15]
    xlsxio.write_header(ws, 3, SOURCES_HEADERS, widths=widths)
    for col in range(1, len(SOURCES_HEADERS) + 1):
        ws.cell(row=3, column=col).font = HEADER_FONT
    for i, rec in enumerate(sources.itertuples(index=False), start=4):
        for col, value in enumerate((rec.line_id, rec.agency, rec.file, rec.sheet, rec.rows), start=1):
            xlsxio.set_text(ws.cell(row=i, column=col), value)
        ws.cell(row=i, column=6).value = int(rec.count)
    ws.freeze_panes = "A4"
    ws.auto_filter.ref = f"A3:F{max(3, len(sources) + 3)}"
    _page_setup(ws, print_title_row=3)


def write_report(path: Path, model: ReportModel) -> None:
    """Write the report workbook (and, for a huge provenance, its sources csv) to `path`."""
    path = Path(path)
    wb = Workbook()
    wb.remove(wb.active)
    _write_cover(wb, model)
    _write_table(wb, model, model.exports)
    _write_table(wb, model, model.imports)
    _write_definitions(wb, model)
    if model.sources_sheet:
        _write_sources(wb, model, path)
    wb.active = 0
    xlsxio.save_workbook(wb, path)


def report_filename(model: ReportModel) -> str:
    return f"ATT_annual_report_{model.cover.state}_{model.cover.year}.xlsx"
