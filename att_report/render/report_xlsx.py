"""Render the ATT annual report workbook from the frozen ReportModel.

Sheets (names from the template definition): Cover, Exports, Imports,
National definitions, Sources (optional, not for submission). Layout of a
table sheet: a title block, then per basis section a section title row, one
header row with the template's eight columns, and the lines grouped by
category in template order; a category with no lines still shows (empty).

Written with XlsxWriter in constant-memory mode, every cell format created
once per workbook (a per-transfer report can hold a million lines: styling
each cell with openpyxl took minutes). Every agency text is written as a
string (never a formula), formula-like text also gets a quote prefix, and the
file is saved deterministically (xlsxio.save_xlsxwriter).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from att_report.compile.model import ReportModel, TableModel
from att_report.render import xlsxio

#: Above this many Sources rows the provenance goes to a csv beside the workbook.
SOURCES_MAX_ROWS = 100_000
#: Lines converted to Python objects at a time (bounds memory for a million-line table).
CHUNK_LINES = 50_000

FONT = "Calibri"  # the workbook default, named so bold text never falls back to a serif font
# XlsxWriter format properties (combined into formats once per workbook by _Formats)
TITLE_FONT = {"bold": True, "font_size": 14}
SUBTITLE_FONT = {"bold": True, "font_size": 11}
HEADER_FONT = {"bold": True, "font_size": 11}
DRAFT_FONT = {"bold": True, "font_size": 14, "font_color": "#C00000"}
STATUS_FONT = {"bold": True, "font_color": "#C00000"}
NIL_FONT = {"bold": True, "font_size": 12}
LINK_FONT = {"font_color": "#0563C1", "underline": 1}
SECTION_FILL = {"pattern": 1, "bg_color": "#C9D6E8"}
BAND_FILL = {"pattern": 1, "bg_color": "#F3F6FA"}
TO_FILL = {"pattern": 1, "bg_color": "#FFF2CC"}
HEADER_FILL = {"pattern": 1, "bg_color": "#DDE4EE"}
BOX = {"border": 1, "border_color": "#A0A0A0"}
WRAP = {"text_wrap": True, "valign": "top"}
TOP = {"valign": "top"}
NUMBER_FORMAT = {"num_format": "#,##0"}
QUOTE = {"quote_prefix": True}
SOURCES_HEADERS = ["Line", "Agency", "File", "Sheet", "Rows", "Number of rows"]
SOURCES_WIDTHS = [14, 22, 40, 16, 40, 15]
LINE_HEIGHT = 15.0  # points per text line at the default 11 pt font
_FORMULA_START = ("=", "+", "-", "@", "#")


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


# --- text and row heights -----------------------------------------------------

def _safe(value: object) -> str:
    """One cell's text: control characters removed, over-long text refused (xlsxio.CellTooLong)."""
    text = xlsxio.clean_text("" if value is None or value is pd.NA else value)
    if len(text) > xlsxio.EXCEL_CELL_LIMIT:
        raise xlsxio.CellTooLong(f"text of {len(text)} characters exceeds Excel's "
                                 f"{xlsxio.EXCEL_CELL_LIMIT}-character cell limit")
    return text


def _safe_column(values: pd.Series) -> pd.Series:
    """_safe for a whole column, once per distinct value."""
    text = values.astype("string").fillna("")
    codes, uniques = pd.factorize(text, use_na_sentinel=False)
    cleaned = np.array([_safe(u) for u in uniques], dtype=object)
    return pd.Series(cleaned[codes] if len(codes) else np.array([], dtype=object), index=text.index,
                     dtype=object)


def _safe_cells(values: pd.Series) -> tuple[list[str], list[bool]]:
    """_safe for a whole column, and whether each text looks like a formula (quote prefix),
    both once per distinct value."""
    text = values.astype("string").fillna("")
    codes, uniques = pd.factorize(text, use_na_sentinel=False)
    cleaned = [_safe(u) for u in uniques]
    quoted = np.array([_is_formula_like(c) for c in cleaned], dtype=bool)
    return np.array(cleaned, dtype=object)[codes].tolist(), quoted[codes].tolist()


def _lines_needed(text: str, width: float) -> int:
    """Lines a wrapped text takes in a column `width` characters wide (estimate)."""
    per_line = max(1, int(width * 1.2))
    return sum(max(1, -(-len(part) // per_line)) for part in str(text).split("\n"))


def _lines_needed_column(text: pd.Series, width: float) -> np.ndarray:
    """_lines_needed for a column of texts (vectorised; texts with line breaks one by one)."""
    per_line = max(1, int(width * 1.2))
    s = text.astype("string").fillna("")
    need = np.maximum(1, -(-s.str.len().to_numpy(dtype="int64") // per_line))
    multi = s.str.contains("\n", regex=False).to_numpy(dtype=bool)
    for i in np.flatnonzero(multi):  # few texts have line breaks
        need[i] = _lines_needed(s.iat[i], width)
    return need


def _row_height(texts: list[str], widths: list[float]) -> float | None:
    """The height a row's wrapped texts need (LibreOffice keeps the stored height); None: default."""
    need = max([1, *(_lines_needed(t, w) for t, w in zip(texts, widths) if t)])
    return LINE_HEIGHT * need if need > 1 else None


def _is_formula_like(text: str) -> bool:
    return text.startswith(_FORMULA_START)


# --- the writer -------------------------------------------------------------------

class _Formats:
    """XlsxWriter formats, each combination created once per workbook."""

    def __init__(self, wb) -> None:
        self.wb = wb
        self.cache: dict[tuple, object] = {}

    def __call__(self, *parts: dict | None, quote: bool = False):
        props: dict = {"font_name": FONT}
        for part in parts:
            if part:
                props.update(part)
        if quote:
            props.update(QUOTE)
        key = tuple(sorted(props.items()))
        fmt = self.cache.get(key)
        if fmt is None:
            fmt = self.cache[key] = self.wb.add_format(props)
        return fmt


class _Sheet:
    """A worksheet addressed with Excel's 1-based rows and columns (as the layout is described)."""

    def __init__(self, wb, fmt: _Formats, name: str) -> None:
        self.ws = wb.add_worksheet(name)
        self.fmt = fmt

    def text(self, row: int, col: int, value: object, *style: dict | None, align: dict | None = WRAP) -> str:
        text = _safe(value)
        fmt = self.fmt(*style, align, quote=_is_formula_like(text))
        if text:
            self.ws.write_string(row - 1, col - 1, text, fmt)
        else:
            self.ws.write_blank(row - 1, col - 1, None, fmt)
        return text

    def blank(self, row: int, col: int, *style: dict | None) -> None:
        self.ws.write_blank(row - 1, col - 1, None, self.fmt(*style))

    def height(self, row: int, height: float | None) -> None:
        if height:
            self.ws.set_row(row - 1, height)

    def width(self, col: int, width: float) -> None:
        self.ws.set_column(col - 1, col - 1, width)

    def page_setup(self, *, print_title_row: int | None = None, portrait: bool = False) -> None:
        ws = self.ws
        ws.set_portrait() if portrait else ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
        ws.hide_gridlines(1)  # not printed, shown on screen
        if print_title_row:
            ws.repeat_rows(print_title_row - 1)


def _write_cover(wb, fmt: _Formats, model: ReportModel) -> None:
    tpl = model.template
    sh = _Sheet(wb, fmt, tpl.sheets["cover"])
    sh.width(1, 48)
    sh.width(2, 70)
    sh.text(1, 1, tpl.title, TITLE_FONT, align=TOP)
    if model.cover.draft:
        sh.text(2, 1, "DRAFT", DRAFT_FONT)
        sh.text(2, 2, tpl.texts["draft"], DRAFT_FONT)
    row = 3
    values = cover_values(model)
    for field in tpl.cover:
        if field.section:
            row += 1
            sh.text(row, 1, field.section, SUBTITLE_FONT, SECTION_FILL)
            sh.blank(row, 2, SECTION_FILL)
            row += 1
        value = values.get(field.key, "")
        label = _safe(field.label)
        sh.height(row, _row_height([label, _safe(value)], [48, 70]))
        sh.text(row, 1, label, BOX)
        fill = TO_FILL if field.key == "submission_date" and not value else None  # left for the NPC
        font = STATUS_FONT if field.key == "status" and model.cover.draft else None
        sh.text(row, 2, value, BOX, fill, font)
        row += 1
    sh.page_setup(portrait=True)


def _section_title(model: ReportModel, table: TableModel, basis: str) -> str:
    flows = "exports" if table.flow == "export" else "imports"
    return model.template.basis_text[basis].format(flows=flows, year=model.cover.year)


def _write_table(wb, fmt: _Formats, model: ReportModel, table: TableModel) -> None:
    tpl = model.template
    text = tpl.tables[table.key]
    c = model.cover
    sh = _Sheet(wb, fmt, tpl.sheets[table.key])
    ncols = len(tpl.columns)
    widths = [col.width for col in tpl.columns]
    for i, width in enumerate(widths, start=1):
        sh.width(i, width)
    total = sum(widths)
    row = 1

    def banner(value: str, font: dict | None = None, fill: dict | None = None) -> None:
        """A title-block line across the table's width (merged, wrapped, height fitted)."""
        nonlocal row
        value = _safe(value)
        size = (font or {}).get("font_size", 11)
        sh.height(row, max(LINE_HEIGHT, size * 1.4) * _lines_needed(value, total * 0.9))
        sh.ws.merge_range(row - 1, 0, row - 1, ncols - 1, "",
                          fmt(font, fill, WRAP, quote=_is_formula_like(value)))
        if value:
            sh.ws.write_string(row - 1, 0, value, fmt(font, fill, WRAP, quote=_is_formula_like(value)))
        row += 1

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
    headers = [_safe(h) for h in tpl.headers(table.key)]
    first_header = None
    for section in table.sections:
        row += 1
        title = _section_title(model, table, section.basis)
        if section.lines.empty and not table.nil:
            title += " - " + text.empty_section_text.format(year=c.year)
        banner(title, SUBTITLE_FONT, SECTION_FILL)
        sh.height(row, _row_height(headers, widths))
        for col, header in enumerate(headers, start=1):
            sh.text(row, col, header, HEADER_FONT, HEADER_FILL, BOX)
        first_header = first_header or row
        row += 1
        row = _write_lines(sh, row, section.lines, tpl.category_display, [cat.code for cat in tpl.categories],
                           widths)
    if first_header:
        sh.ws.freeze_panes(first_header, 0)
        sh.page_setup(print_title_row=first_header)


def _names(codes: pd.Series) -> pd.Series:
    from att_report.normalise.countries import country_names

    return country_names(codes.astype("string").fillna("")).fillna("")


def _intermediate_names(codes: pd.Series) -> pd.Series:
    """"DEU;FRA" -> "Germany; France" (names hold commas, so '; ' separates)."""
    text = codes.astype("string").fillna("")
    mapping = {}
    for u in text.unique():  # per distinct value, not per line
        parts = [p for p in str(u).split(";") if p.strip()]
        mapping[u] = "; ".join(_names(pd.Series(parts, dtype="string")).tolist()) if parts else ""
    return text.map(mapping)


def _numbers(values: pd.Series) -> np.ndarray:
    """Numbers as Python int/float (whole numbers as int), None when blank."""
    v = values.astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    out = v.astype(object)
    out[np.isnan(v)] = None
    whole = ~np.isnan(v) & (np.mod(v, 1) == 0) & (np.abs(v) < 2**53)
    out[whole] = v[whole].astype("int64").astype(object)
    return out


class _LineCells:
    """A section's cell values in display order, prepared CHUNK_LINES lines at a time.

    The texts, quote flags, wrapped-line counts and numbers are computed once
    per block of lines (not once per category: a section has dozens of
    categories, and each vectorised step costs the same for 3 lines as for 300).
    """

    def __init__(self, lines: pd.DataFrame, ordered: np.ndarray, widths: list[float]) -> None:
        self.lines, self.ordered, self.widths = lines, ordered, widths
        self.block = -1
        self.cells: tuple = ()

    def __call__(self, index: int) -> tuple[int, tuple]:
        """(position within the block, block values) of the line shown `index`-th."""
        block, at = divmod(index, CHUNK_LINES)
        if block != self.block:
            part = self.lines.iloc[self.ordered[block * CHUNK_LINES:(block + 1) * CHUNK_LINES]]
            widths = self.widths
            texts = [
                _safe_column(_names(part["partner"])), _safe_column(_names(part["origin"])),
                _safe_column(_intermediate_names(part["intermediates"])),
                _safe_column(part["description"]), _safe_column(part["comments"]),
            ]
            need = np.ones(len(part), dtype="int64")
            for t, width in zip(texts, (widths[1], widths[2], widths[3], widths[6], widths[7])):
                need = np.maximum(need, _lines_needed_column(t, width))
            quotes = [t.str.startswith(_FORMULA_START).to_numpy(dtype=bool).tolist() for t in texts]
            cols = [t.tolist() for t in texts]
            number, value = _numbers(part["number"]).tolist(), _numbers(part["value"]).tolist()
            self.block, self.cells = block, (cols, quotes, need.tolist(), number, value)
        return at, self.cells


def _write_lines(sh: _Sheet, row: int, lines: pd.DataFrame, display: dict[str, str], order: list[str],
                 widths: list[float]) -> int:
    """Lines grouped by category in template order; empty categories shown empty.

    The section's rows are gathered column by column and written in one block
    (xlsxio.write_rows: the same XML as cell-by-cell writes, without their
    ~10 us a cell).
    """
    fmt = sh.fmt
    category = lines["category"].astype("string").fillna("")
    positions: dict[str, np.ndarray] = {}
    if not lines.empty:
        codes, uniques = pd.factorize(category, use_na_sentinel=False)
        order_in = np.argsort(codes, kind="stable")  # lines keep their order within a category
        bounds = np.r_[0, np.cumsum(np.bincount(codes, minlength=len(uniques)))]
        positions = {u: order_in[bounds[k]:bounds[k + 1]] for k, u in enumerate(uniques)}
    extra = [code for code in positions if code not in display]
    categories = [*order, *sorted(extra)]
    shown = [positions[c] for c in categories if c in positions]
    cells = _LineCells(lines, np.concatenate(shown) if shown else np.zeros(0, dtype="int64"), widths)
    shown_so_far = 0
    band = False
    slots = ((1, 0), (2, 1), (3, 2), (6, 3), (7, 4))  # (column, index into the texts)
    blank = xlsxio.BLANK
    values: list[list] = [[] for _ in range(8)]  # per column: one value per sheet row
    formats: list[list] = [[] for _ in range(8)]
    heights: list[float | None] = []
    for code in categories:
        label = _safe(display.get(code) or (code if code else "(no category)"))
        fill = BAND_FILL if band else None
        band = not band
        pos = positions.get(code)
        label_fmt = fmt(fill, BOX, WRAP, quote=_is_formula_like(label))
        label_need = _lines_needed(label, widths[0]) if label else 1
        if pos is None or len(pos) == 0:
            heights.append(LINE_HEIGHT * label_need if label_need > 1 else None)
            values[0].append(label or blank)
            formats[0].append(label_fmt)
            empty = fmt(fill, BOX)
            for col in range(1, 8):
                values[col].append(blank)
                formats[col].append(empty)
            continue
        text_fmt = (fmt(fill, BOX, WRAP), fmt(fill, BOX, WRAP, quote=True))
        num_fmt, no_num = fmt(fill, BOX, TOP, NUMBER_FORMAT), fmt(fill, BOX, TOP)
        for i in range(len(pos)):
            at, (cols, quotes, need, number, value) = cells(shown_so_far + i)
            lines_needed = max(label_need, need[at])
            heights.append(lines_needed * LINE_HEIGHT if lines_needed > 1 else None)
            values[0].append(label or blank)
            formats[0].append(label_fmt)
            for col, k in slots:
                t = cols[k][at]
                values[col].append(t or blank)
                formats[col].append(text_fmt[quotes[k][at]] if t else text_fmt[0])
            for col, v in ((4, number[at]), (5, value[at])):
                values[col].append(blank if v is None else v)
                formats[col].append(no_num if v is None else num_fmt)
        shown_so_far += len(pos)
    xlsxio.write_rows(sh.ws, row - 1, [(col, values[col], formats[col]) for col in range(8)], heights)
    return row + len(heights)


def _write_definitions(wb, fmt: _Formats, model: ReportModel) -> None:
    tpl = model.template
    sh = _Sheet(wb, fmt, tpl.sheets["definitions"])
    sh.width(1, 120)
    sh.text(1, 1, tpl.texts["definitions_title"], TITLE_FONT)
    row = 3
    body = model.national_definitions.strip()
    for paragraph in (body.split("\n") if body else [tpl.texts["no_definitions"]]):
        sh.text(row, 1, paragraph)
        row += 1
    for table in model.tables:
        if table.definition:
            row += 1
            sh.text(row, 1, tpl.tables[table.key].definition_label, SUBTITLE_FONT)
            sh.text(row + 1, 1, table.definition)
            row += 2
    sh.page_setup()


def _write_sources(wb, fmt: _Formats, model: ReportModel, path: Path) -> None:
    tpl = model.template
    sh = _Sheet(wb, fmt, tpl.sheets["sources"])
    ws = sh.ws
    ws.set_tab_color("#808080")
    sh.text(1, 1, tpl.texts["sources_title"], DRAFT_FONT, align=TOP)
    sources = model.sources
    if len(sources) > SOURCES_MAX_ROWS:
        csv_path = sources_csv_path(path)
        out = sources.rename(columns=dict(zip(sources.columns, SOURCES_HEADERS)))
        from att_report.findings import neutralise_formulas

        for col in ("Agency", "File", "Sheet"):
            out[col] = neutralise_formulas(out[col])
        out.to_csv(csv_path, index=False, encoding="utf-8", lineterminator="\n")
        sh.width(1, 100)
        ws.write_url(2, 0, "external:" + csv_path.name, fmt(LINK_FONT, WRAP),
                     string=_safe(f"{len(sources):,} source entries: too many for this sheet; see "
                                  f"{csv_path.name} (in the same folder as this workbook)."))
        return
    for col, width in enumerate(SOURCES_WIDTHS, start=1):
        sh.width(col, width)
    for col, header in enumerate(SOURCES_HEADERS, start=1):
        sh.text(3, col, header, HEADER_FONT, HEADER_FILL)
    cols, quotes = zip(*(_safe_cells(sources[c]) for c in ("line_id", "agency", "file", "sheet", "rows")))
    counts = sources["count"].astype("int64").tolist()
    plain, quoted = fmt(), fmt(quote=True)
    xlsxio.write_rows(ws, 3, [
        *((c, cols[c], [quoted if q else plain for q in quotes[c]]) for c in range(5)),
        (5, counts, plain),
    ])
    ws.freeze_panes(3, 0)
    ws.autofilter(2, 0, max(2, len(sources) + 2), len(SOURCES_HEADERS) - 1)
    sh.page_setup(print_title_row=3)


def write_report(path: Path, model: ReportModel) -> None:
    """Write the report workbook (and, for a huge provenance, its sources csv) to `path`."""
    path = Path(path)

    def build(wb) -> None:
        fmt = _Formats(wb)
        _write_cover(wb, fmt, model)
        _write_table(wb, fmt, model, model.exports)
        _write_table(wb, fmt, model, model.imports)
        _write_definitions(wb, fmt, model)
        if model.sources_sheet:
            _write_sources(wb, fmt, model, path)

    xlsxio.save_xlsxwriter(build, path)


def report_filename(model: ReportModel) -> str:
    return f"ATT_annual_report_{model.cover.state}_{model.cover.year}.xlsx"
