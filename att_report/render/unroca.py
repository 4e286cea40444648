"""The UN Register of Conventional Arms (UNROCA) workbook, from the SAME compiled model.

"Report once, use twice": `write_unroca(path, model)` takes the ReportModel
that the ATT report is rendered from and re-arranges its lines into the
UNROCA tables (categories I-VII and small arms / light weapons, exports and
imports) following templates/unroca_template.toml. No line is computed
again, so the two reports cannot disagree: every ATT line appears exactly
once, with the same category, partner, origin, intermediates, number,
description and comments; UNROCA has no Value column.

`unroca_view()` does the (small) re-arranging into frozen dataclasses; the
writer only renders them. `read_unroca()` reads such a workbook back (tests
use it to prove the agreement line by line).
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from att_report.compile.model import ReportModel
from att_report.paths import templates_dir
from att_report.compile.template import Column
from att_report.render import xlsxio

TEMPLATE_FILE = "unroca_template.toml"
#: What a UNROCA column may hold (ATT line fields); there is no `value`.
UNROCA_KEYS = ("category", "partner", "number", "origin", "intermediates", "description", "comments")
GROUPS = ("I-VII", "SALW")
#: Columns of the lines read back by read_unroca (ATT codes; States as ISO alpha-3).
READ_COLUMNS = ("category", "partner", "origin", "intermediates", "number", "description", "comments")


# a column of a form: the same shape for the ATT and the UNROCA templates
UColumn = Column


class UnrocaTemplateError(ValueError):
    """The UNROCA template definition is broken; the message names the file and key."""


@dataclass(frozen=True)
class UTableDef:
    key: str
    flow: str  # export | import
    group: str  # I-VII | SALW
    sheet: str
    title: str
    partner_header: str
    nil_text: str


@dataclass(frozen=True)
class UCategory:
    att: str  # canonical ATT code
    unroca: str
    label: str
    group: str


@dataclass(frozen=True)
class UnrocaTemplate:
    version: str
    title: str
    cover_sheet: str
    columns: tuple[UColumn, ...]
    tables: tuple[UTableDef, ...]
    texts: dict
    categories: tuple[UCategory, ...]

    def headers(self, table: UTableDef) -> list[str]:
        return [table.partner_header if c.key == "partner" else c.header for c in self.columns]

    @property
    def by_att(self) -> dict[str, UCategory]:
        return {c.att: c for c in self.categories}


def _need(data: dict, key: str, where: str, path: Path):
    if key not in data:
        raise UnrocaTemplateError(f"{path}: missing key '{where}{key}'.")
    return data[key]


def parse_unroca_template(data: dict, path: Path) -> UnrocaTemplate:
    columns = []
    for i, raw in enumerate(_need(data, "columns", "", path)):
        key = str(_need(raw, "key", f"columns[{i}].", path))
        if key == "value":
            raise UnrocaTemplateError(f"{path}: columns[{i}] is 'value', but UNROCA has no Value column; remove it.")
        if key not in UNROCA_KEYS:
            raise UnrocaTemplateError(f"{path}: columns[{i}].key = {key!r} is not one of {', '.join(UNROCA_KEYS)}.")
        columns.append(UColumn(key, str(raw.get("header", "")), float(raw.get("width", 15))))
    keys = [c.key for c in columns]
    if sorted(keys) != sorted(UNROCA_KEYS):
        missing = sorted(set(UNROCA_KEYS) - set(keys))
        raise UnrocaTemplateError(f"{path}: [[columns]] must hold each of {', '.join(UNROCA_KEYS)} once"
                                  + (f"; missing: {', '.join(missing)}." if missing else "; one is repeated."))
    tables = []
    for i, raw in enumerate(_need(data, "tables", "", path)):
        where = f"tables[{i}]."
        t = UTableDef(**{f: str(_need(raw, f, where, path)) for f in UTableDef.__dataclass_fields__})
        if t.flow not in ("export", "import") or t.group not in GROUPS:
            raise UnrocaTemplateError(f"{path}: {where}flow must be export/import and group one of {', '.join(GROUPS)}.")
        if len(t.sheet) > 31:
            raise UnrocaTemplateError(f"{path}: {where}sheet {t.sheet!r} is longer than Excel's 31 characters.")
        tables.append(t)
    pairs = [(t.flow, t.group) for t in tables]
    if sorted(pairs) != sorted({(f, g) for f in ("export", "import") for g in GROUPS}):
        raise UnrocaTemplateError(f"{path}: [[tables]] must have exactly one table per flow (export, import) "
                                  f"and group ({', '.join(GROUPS)}).")
    cats = []
    for i, raw in enumerate(_need(data, "category", "", path)):
        where = f"category[{i}]."
        c = UCategory(**{f: str(_need(raw, f, where, path)) for f in UCategory.__dataclass_fields__})
        if c.group not in GROUPS:
            raise UnrocaTemplateError(f"{path}: {where}group = {c.group!r} is not one of {', '.join(GROUPS)}.")
        cats.append(c)
    seen = [c.att for c in cats]
    dupes = sorted({a for a in seen if seen.count(a) > 1})
    if dupes:
        raise UnrocaTemplateError(f"{path}: ATT categories mapped twice: {', '.join(dupes)}.")
    sheets = dict(_need(data, "sheets", "", path))
    return UnrocaTemplate(
        version=str(_need(data, "version", "", path)), title=str(_need(data, "title", "", path)),
        cover_sheet=str(_need(sheets, "cover", "sheets.", path)), columns=tuple(columns), tables=tuple(tables),
        texts=dict(_need(data, "texts", "", path)), categories=tuple(cats),
    )


@functools.cache
def _load(path_text: str, mtime: float) -> UnrocaTemplate:
    path = Path(path_text)
    return parse_unroca_template(tomllib.loads(path.read_text(encoding="utf-8")), path)


def load_unroca_template(path: Path | None = None) -> UnrocaTemplate:
    """The UNROCA template definition (cached; re-read when the file changes)."""
    path = Path(path) if path else templates_dir() / TEMPLATE_FILE
    if not path.is_file():
        raise UnrocaTemplateError(f"UNROCA template definition not found: {path}.")
    return _load(str(path), path.stat().st_mtime)


# --- the view: lines re-arranged into UNROCA tables (computation only) ----------

@dataclass(frozen=True, eq=False)
class USection:
    basis: str
    title: str
    lines: pd.DataFrame  # LINE_COLUMNS of the model (no value used) + ulabel, in UNROCA order


@dataclass(frozen=True, eq=False)
class UTable:
    spec: UTableDef
    sections: tuple[USection, ...]
    order: tuple[tuple[str, str], ...]  # (att code, label) of every category row, form order
    nil: bool
    notes: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class UnrocaView:
    template: UnrocaTemplate
    state: str
    state_name: str
    year: int
    draft: bool
    att_file: str
    att_template_version: str
    tables: tuple[UTable, ...]


def unroca_filename(model: ReportModel) -> str:
    return f"UNROCA_{model.cover.state}_{model.cover.year}.xlsx"


def unroca_view(model: ReportModel, template: UnrocaTemplate | None = None) -> UnrocaView:
    """Split each ATT section's lines by UNROCA table; keep every line, in form order."""
    from att_report.normalise.categories import load_categories
    from att_report.render.report_xlsx import report_filename

    tpl = template or load_unroca_template()
    by_att = tpl.by_att
    att_group = {c.code: c.group for c in load_categories()}
    form_rank = {c.att: i for i, c in enumerate(tpl.categories)}
    texts = tpl.texts
    tables = []
    for spec in tpl.tables:
        table = model.table(spec.flow)
        flows = "exports" if spec.flow == "export" else "imports"
        sections = []
        extra_codes: set[str] = set()
        for section in table.sections:
            lines = section.lines
            code = lines["category"].astype("string").fillna("")
            # a category the mapping does not know goes where the ATT catalogue puts it, else I-VII,
            # so no ATT line can go missing from the UNROCA report
            group = code.map(lambda c: by_att[c].group if c in by_att else att_group.get(c, "I-VII"))
            mine = lines[group.eq(spec.group).to_numpy()]
            rank = mine["category"].map(form_rank).fillna(len(form_rank)).astype("int64")
            # stable: keeps the compiled order (partner name, origin...) within a category
            mine = mine.assign(_r=rank).sort_values(["_r", "category"], kind="mergesort").drop(columns="_r")
            extra_codes |= {c for c in mine["category"].astype("string").fillna("") if c not in by_att}
            title = texts[f"basis_{section.basis}"].format(flows=flows, year=model.cover.year)
            sections.append(USection(section.basis, title, mine.reset_index(drop=True)))
        order = tuple((c.att, c.label) for c in tpl.categories if c.group == spec.group)
        order += tuple((c, texts["unmapped_label"].format(code=c or "(none)")) for c in sorted(extra_codes))
        notes = []
        if len(table.sections) > 1:
            notes.append(texts["both_note"])
        if table.measure == "value":
            notes.append(texts["no_number_note"].format(flows=flows))
        nil = all(s.lines.empty for s in sections)
        tables.append(UTable(spec=spec, sections=tuple(sections), order=order, nil=nil, notes=tuple(notes)))
    c = model.cover
    return UnrocaView(template=tpl, state=c.state, state_name=c.state_name, year=c.year, draft=c.draft,
                      att_file=report_filename(model), att_template_version=c.template_version,
                      tables=tuple(tables))


# --- rendering ------------------------------------------------------------------

TITLE_FONT = Font(bold=True, size=14)
SUBTITLE_FONT = Font(bold=True, size=11)
DRAFT_FONT = Font(bold=True, size=14, color="C00000")
SECTION_FILL = PatternFill("solid", fgColor="C9D6E8")
THIN = Side(style="thin", color="A0A0A0")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")


def _text(ws, row: int, col: int, value, *, font=None, fill=None, align=WRAP, border=None):
    return xlsxio.styled_text(ws, row, col, value, font=font, fill=fill, align=align, border=border)


def _page_setup(ws, header_row: int | None) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if header_row:
        ws.print_title_rows = f"{header_row}:{header_row}"
        ws.freeze_panes = ws.cell(row=header_row + 1, column=1)


def _write_cover(wb: Workbook, view: UnrocaView) -> None:
    tpl = view.template
    ws = wb.create_sheet(tpl.cover_sheet)
    ws.column_dimensions["A"].width = 40
    ws.column_dimensions["B"].width = 80
    _text(ws, 1, 1, tpl.title, font=TITLE_FONT, align=TOP)
    row = 3
    if view.draft:
        _text(ws, 2, 1, tpl.texts["draft"], font=DRAFT_FONT, align=TOP)
    items = [
        ("Reporting State", view.state_name), ("Reporting State (ISO code)", view.state),
        ("Calendar year covered", str(view.year)),
        ("Source", tpl.texts["same_data_note"].format(att_file=view.att_file)),
        ("ATT template version", view.att_template_version), ("UNROCA template version", tpl.version),
    ]
    for t in view.tables:
        items.append((t.spec.title, ("Nil report" if t.nil else f"{sum(len(s.lines) for s in t.sections)} line(s)")
                      + f" - sheet '{t.spec.sheet}'"))
    for label, value in items:
        _text(ws, row, 1, label, border=BOX)
        _text(ws, row, 2, value, border=BOX)
        row += 1
    _page_setup(ws, None)
    ws.page_setup.orientation = "portrait"


def _names(codes: pd.Series) -> pd.Series:
    from att_report.normalise.countries import country_names

    return country_names(codes.astype("string").fillna("")).fillna("")


def _list_names(codes: pd.Series) -> pd.Series:
    """"DEU;FRA" -> "Germany; France", per distinct value."""
    text = codes.astype("string").fillna("")
    mapping = {}
    for u in text.unique():
        parts = [p for p in str(u).split(";") if p.strip()]
        mapping[u] = "; ".join(_names(pd.Series(parts, dtype="string")).tolist()) if parts else ""
    return text.map(mapping)


def _write_table(wb: Workbook, view: UnrocaView, table: UTable) -> None:
    tpl = view.template
    ws = wb.create_sheet(table.spec.sheet)
    for i, col in enumerate(tpl.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = col.width
    _text(ws, 1, 1, table.spec.title, font=TITLE_FONT, align=TOP)
    _text(ws, 2, 1, f"{view.state_name} ({view.state}) - calendar year {view.year} - {tpl.title}", align=TOP)
    row = 3
    if view.draft:
        _text(ws, row, 1, tpl.texts["draft"], font=DRAFT_FONT, align=TOP)
        row += 1
    if table.nil:
        _text(ws, row, 1, table.spec.nil_text.format(state=view.state_name, year=view.year),
              font=Font(bold=True, size=12), align=TOP)
        row += 1
    for note in table.notes:
        _text(ws, row, 1, note, font=SUBTITLE_FONT, align=TOP)
        row += 1
    headers = tpl.headers(table.spec)
    keys = [c.key for c in tpl.columns]
    first_header = None
    for section in table.sections:
        row += 1
        _text(ws, row, 1, section.title, font=SUBTITLE_FONT, fill=SECTION_FILL, align=TOP)
        for col in range(2, len(keys) + 1):
            ws.cell(row=row, column=col).fill = SECTION_FILL
        row += 1
        for col, header in enumerate(headers, start=1):
            _text(ws, row, col, header, font=xlsxio.HEADER_FONT, fill=xlsxio.HEADER_FILL, border=BOX)
        first_header = first_header or row
        row += 1
        lines = section.lines
        shown = pd.DataFrame({
            "partner": _names(lines["partner"]), "origin": _names(lines["origin"]),
            "intermediates": _list_names(lines["intermediates"]),
            "description": lines["description"].astype("string").fillna(""),
            "comments": lines["comments"].astype("string").fillna(""),
            "number": lines["number"].astype("Int64"),
            "category": lines["category"].astype("string").fillna(""),
        })
        by_cat = {code: part for code, part in shown.groupby("category", sort=False)} if not shown.empty else {}
        for code, label in table.order:
            part = by_cat.get(code)
            if part is None:
                # a category of the form with no lines still shows, empty
                for col, key in enumerate(keys, start=1):
                    if key == "category":
                        _text(ws, row, col, label, border=BOX)
                    else:
                        ws.cell(row=row, column=col).border = BOX
                row += 1
                continue
            for rec in part.to_dict("records"):
                for col, key in enumerate(keys, start=1):
                    if key == "category":
                        _text(ws, row, col, label, border=BOX)
                    elif key == "number":
                        cell = ws.cell(row=row, column=col)
                        if not pd.isna(rec["number"]):
                            cell.value = int(rec["number"])
                            cell.number_format = "#,##0"
                        cell.border = BOX
                        cell.alignment = TOP
                    else:
                        _text(ws, row, col, rec[key], border=BOX)
                row += 1
    _page_setup(ws, first_header)


def render_unroca(path: Path, view: UnrocaView) -> None:
    wb = Workbook()
    wb.remove(wb.active)
    _write_cover(wb, view)
    for table in view.tables:
        _write_table(wb, view, table)
    wb.active = 0
    xlsxio.save_workbook(wb, path)


def write_unroca(path: Path, model: ReportModel) -> None:
    """Write `UNROCA_<STATE>_<YEAR>.xlsx` from the same compiled model as the ATT report."""
    render_unroca(Path(path), unroca_view(model))


# --- read back ------------------------------------------------------------------

def read_unroca(path: Path, template: UnrocaTemplate | None = None) -> dict[tuple[str, str], pd.DataFrame]:
    """Read a UNROCA workbook of this layout: (flow, basis) -> lines (READ_COLUMNS, ATT codes).

    Both groups (I-VII and SALW) of a flow are concatenated. States are
    resolved back to ISO codes; a name that does not resolve stays as text.
    """
    from openpyxl import load_workbook

    from att_report.normalise.countries import resolve_country

    tpl = template or load_unroca_template()
    code_of = {" ".join(c.label.casefold().split()): c.att for c in tpl.categories}
    section_text = {b: tpl.texts[f"basis_{b}"].split("(")[0].strip().casefold() for b in ("authorized", "actual")}
    keys = [c.key for c in tpl.columns]
    wb = load_workbook(Path(path), read_only=True, data_only=True)
    out: dict[tuple[str, str], list[dict]] = {}
    try:
        for spec in tpl.tables:
            headers = [" ".join(h.casefold().split()) for h in tpl.headers(spec)]
            ws = wb[spec.sheet]
            basis = None
            in_lines = False
            for raw in ws.iter_rows(min_col=1, max_col=len(keys), values_only=True):
                cells = ["" if v is None else str(v).strip() for v in raw] + [""] * (len(keys) - len(raw))
                first = cells[0].casefold()
                found = next((b for b, t in section_text.items() if first.startswith(t)), None)
                if found:
                    basis, in_lines = found, False
                    out.setdefault((spec.flow, basis), [])
                    continue
                if [" ".join(c.casefold().split()) for c in cells] == headers:
                    in_lines = basis is not None
                    continue
                if not in_lines or not any(cells[1:]):
                    continue  # title rows, or an empty category row of the form
                values = dict(zip(keys, cells))
                label = " ".join(values["category"].casefold().split())
                values["category"] = code_of.get(label, values["category"].split(" ")[0])
                values["number"] = raw[keys.index("number")]
                out[(spec.flow, basis)].append(values)
    finally:
        wb.close()

    def codes(text: str) -> str:
        parts = [p.strip() for p in text.split(";") if p.strip()]
        return ";".join(resolve_country(p) or p for p in parts)

    result = {}
    for key, items in out.items():
        frame = pd.DataFrame(items, columns=list(keys)) if items else pd.DataFrame(columns=list(keys))
        for col in ("partner", "origin", "intermediates"):
            frame[col] = [codes(v) for v in frame[col]]
        frame["number"] = pd.array([None if v in (None, "") else int(v) for v in frame["number"]], dtype="Int64")
        for col in ("category", "partner", "origin", "intermediates", "description", "comments"):
            frame[col] = frame[col].astype("string")
        result[key] = frame[list(READ_COLUMNS)]
    return result
