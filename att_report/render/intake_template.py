"""The blank intake template an agency fills in (written by `att-report init`).

Three sheets:
- `Transfers`: row 1 = the canonical intake columns (schema.INTAKE_COLUMNS),
  each header cell commented with its meaning and rule; identifier columns
  formatted as Text so Excel keeps leading zeros; date columns yyyy-mm-dd;
  drop-down lists for the coded columns, as *warnings* (agencies may paste
  their own spellings: att-report normalises them);
- `Instructions`: plain language, from templates/intake_instructions.md.j2;
- `Lists`: the codes behind the long drop-downs (Excel's inline list is
  limited to 255 characters), category codes beside their labels.
"""

from __future__ import annotations

import math
from pathlib import Path

import jinja2
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from att_report.paths import templates_dir
from att_report.render import xlsxio
from att_report.schema import INTAKE_COLUMNS, IntakeColumn

TRANSFERS_SHEET = "Transfers"
INSTRUCTIONS_SHEET = "Instructions"
LISTS_SHEET = "Lists"
INSTRUCTIONS_TEMPLATE = "intake_instructions.md.j2"
#: Data rows prepared with formats and drop-downs (rows 2 .. DATA_ROWS + 1).
DATA_ROWS = 5000
TEXT_FORMAT = "@"
DATE_FORMAT = "yyyy-mm-dd"
#: Custom document property marking the file as an att-report intake template.
TEMPLATE_PROPERTY = "att-report-template"

_WIDTH_BY_KIND = {
    "id": 18, "code": 12, "date": 12, "country": 28, "countries": 28, "category": 14,
    "int": 11, "number": 14, "currency": 10, "flag": 10, "text": 32,
}
_INSTRUCTIONS_WIDTH = 110
_TITLE_FONT = Font(bold=True, size=14)
_HEADING_FONT = Font(bold=True, size=12)


# --- the lists behind the drop-downs ----------------------------------------

def _category_rows() -> list[tuple[str, str]]:
    from att_report.normalise.categories import load_categories

    cats = load_categories()
    if isinstance(cats, dict):
        cats = cats.values()
    return [(c.code, c.label) for c in cats]


def _currency_rows() -> list[tuple[str, str]]:
    import pycountry

    return sorted((c.alpha_3, c.name) for c in pycountry.currencies)


def _country_rows() -> list[str]:
    from att_report.normalise.countries import known_country_labels

    return list(known_country_labels())


# --- instructions text --------------------------------------------------------

def _instructions_module(context: dict):
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    template = env.get_template(INSTRUCTIONS_TEMPLATE)
    return template, template.make_module(context)


def _instruction_lines(text: str) -> list[tuple[str, str]]:
    """Rendered text -> [(kind, text)]: kind in title|heading|bullet|para|blank."""
    out: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            if out and out[-1][0] != "blank":
                out.append(("blank", ""))
        elif line.startswith("## "):
            out.append(("heading", line[3:].strip()))
        elif line.startswith("# "):
            out.append(("title", line[2:].strip()))
        elif line.startswith("- "):
            out.append(("bullet", "\u2022 " + line[2:].strip()))
        else:
            out.append(("para", line))
    while out and out[-1][0] == "blank":
        out.pop()
    return out


def _write_instructions(ws, lines: list[tuple[str, str]]) -> None:
    ws.column_dimensions["A"].width = _INSTRUCTIONS_WIDTH
    wrap = Alignment(wrap_text=True, vertical="top")
    # Excel does not grow row heights for wrapped text on open: estimate them
    per_line = int(_INSTRUCTIONS_WIDTH * 1.1)
    for r, (kind, text) in enumerate(lines, start=1):
        cell = ws.cell(row=r, column=1)
        if kind == "blank":
            continue
        xlsxio.set_text(cell, text)
        cell.alignment = wrap
        if kind == "title":
            cell.font = _TITLE_FONT
            ws.row_dimensions[r].height = 22
        elif kind == "heading":
            cell.font = _HEADING_FONT
            ws.row_dimensions[r].height = 18
        else:
            n = max(1, math.ceil(len(text) / per_line))
            if n > 1:
                ws.row_dimensions[r].height = 15 * n + 2
    ws.sheet_view.showGridLines = False


# --- the Transfers sheet ----------------------------------------------------

def _header_comment(col: IntakeColumn, hint: str) -> Comment:
    text = f"{col.name}: {col.meaning}.\nRequired: {col.required}."
    if hint:
        text += f"\n{hint}"
    comment = Comment(text, "att-report")
    comment.width = 320
    comment.height = 40 + 16 * math.ceil(len(text) / 45)
    return comment


def _validation(formula: str, title: str, message: str, error_kind: str = "list",
                operator: str | None = None) -> DataValidation:
    dv = DataValidation(
        type=error_kind,
        formula1=formula,
        operator=operator,
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="warning",
        errorTitle=title,
        error=message,
    )
    return dv


def _write_lists(ws) -> dict[str, str]:
    """Fill the Lists sheet; return {list name: absolute range reference}."""
    blocks = {
        "category": (("ATT code", "Meaning"), _category_rows()),
        "country": (("State name",), [(name,) for name in _country_rows()]),
        "currency": (("ISO 4217 code", "Currency name"), _currency_rows()),
    }
    refs: dict[str, str] = {}
    col = 1
    # headers chosen so that no intake reader mistakes this sheet for data (no intake column names)
    widths = {"ATT code": 14, "Meaning": 60, "State name": 40, "ISO 4217 code": 14, "Currency name": 40}
    for key, (headers, rows) in blocks.items():
        for j, head in enumerate(headers):
            cell = ws.cell(row=1, column=col + j)
            xlsxio.set_text(cell, head)
            cell.font = xlsxio.HEADER_FONT
            cell.fill = xlsxio.HEADER_FILL
            ws.column_dimensions[get_column_letter(col + j)].width = widths[head]
        for i, values in enumerate(rows, start=2):
            for j, value in enumerate(values):
                xlsxio.set_text(ws.cell(row=i, column=col + j), value)
        letter = get_column_letter(col)
        last = max(2, len(rows) + 1)
        refs[key] = f"{LISTS_SHEET}!${letter}$2:${letter}${last}"
        col += len(headers) + 1  # a blank column between blocks
    ws.freeze_panes = "A2"
    return refs


def write_intake_template(path: Path, *, agency_name: str, role: str, year: int, state_name: str) -> None:
    """Write the blank intake workbook for one agency to `path` (deterministic bytes)."""
    context = {
        "agency_name": agency_name, "role": role, "year": year, "state_name": state_name,
        "columns": INTAKE_COLUMNS,
    }
    template, module = _instructions_module(context)
    hints: dict[str, str] = dict(getattr(module, "kind_hints", {}) or {})
    lines = _instruction_lines(template.render(context))

    wb = Workbook()
    ws = wb.active
    ws.title = TRANSFERS_SHEET
    ins = wb.create_sheet(INSTRUCTIONS_SHEET)
    lists = wb.create_sheet(LISTS_SHEET)
    refs = _write_lists(lists)
    _write_instructions(ins, lines)

    last_row = DATA_ROWS + 1
    validations = {
        "code": None,  # per column below (flow / basis)
        "country": (f"={refs['country']}", "State not in the list",
                    "This State name is not in the list. Keep it if you are sure: att-report "
                    "recognises most spellings and ISO codes, and will tell you if it cannot."),
        "category": (f"={refs['category']}", "Category code not in the list",
                     "Use an ATT category code from the Lists sheet (e.g. VIII.SA.2). "
                     "att-report will try to read other spellings and tell you if it cannot."),
        "currency": (f"={refs['currency']}", "Currency code not in the list",
                     "Use a three-letter ISO 4217 code such as USD or EUR."),
        "flag": ('"yes,no"', "yes or no", "Write yes or no."),
    }
    inline_codes = {
        "flow": ('"export,import"', "export or import", "Write export or import."),
        "basis": ('"authorized,actual"', "authorized or actual",
                  "Write authorized (a licence / authorization) or actual (a delivery)."),
    }
    for j, col in enumerate(INTAKE_COLUMNS, start=1):
        letter = get_column_letter(j)
        cell = ws.cell(row=1, column=j)
        xlsxio.set_text(cell, col.name)
        cell.font = xlsxio.HEADER_FONT
        cell.fill = xlsxio.HEADER_FILL
        cell.alignment = xlsxio.WRAP_TOP
        cell.comment = _header_comment(col, hints.get(col.kind, ""))
        ws.column_dimensions[letter].width = max(len(col.name) + 4, _WIDTH_BY_KIND.get(col.kind, 16))

        fmt = TEXT_FORMAT if col.kind == "id" else DATE_FORMAT if col.kind == "date" else None
        if fmt:
            # column style for rows beyond the prepared range, cell styles for the rows themselves
            ws.column_dimensions[letter].number_format = fmt
            for r in range(2, last_row + 1):
                ws.cell(row=r, column=j).number_format = fmt

        spec = inline_codes.get(col.name) if col.kind == "code" else validations.get(col.kind)
        if col.kind == "int":
            dv = _validation("0", "Whole number", "quantity is a whole number of items, 0 or more.",
                             "whole", "greaterThanOrEqual")
        elif col.kind == "number":
            dv = _validation("0", "Number", "value is a number without currency signs, 0 or more.",
                             "decimal", "greaterThanOrEqual")
        elif spec:
            dv = _validation(*spec)
        else:
            dv = None
        if dv is not None:
            dv.add(f"{letter}2:{letter}{last_row}")
            ws.add_data_validation(dv)

    ws.freeze_panes = "A2"
    ws.row_dimensions[1].height = 30

    wb.properties.title = f"ATT report {year}: data request to {agency_name}"
    wb.properties.subject = f"Arms Trade Treaty annual report {year}, {state_name}"
    wb.custom_doc_props.append(StringProperty(name=TEMPLATE_PROPERTY, value=f"intake;{role};{year}"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    xlsxio.save_workbook(wb, path)
