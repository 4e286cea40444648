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
from openpyxl.utils import get_column_letter

from att_report.paths import templates_dir
from att_report.render import xlsxio
from att_report.schema import INTAKE_COLUMNS, IntakeColumn

TRANSFERS_SHEET = "Transfers"
INSTRUCTIONS_SHEET = "Instructions"
LISTS_SHEET = "Lists"
INSTRUCTIONS_TEMPLATE = "intake_instructions.md.j2"
#: Data rows covered by the drop-downs and checks (rows 2 .. DATA_ROWS + 1).
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


def _write_instructions(wb, ws, lines: list[tuple[str, str]]) -> None:
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    title = wb.add_format({"text_wrap": True, "valign": "top", "bold": True, "font_size": 14})
    heading = wb.add_format({"text_wrap": True, "valign": "top", "bold": True, "font_size": 12})
    ws.set_column(0, 0, _INSTRUCTIONS_WIDTH)
    ws.hide_gridlines(2)
    # Excel does not grow row heights for wrapped text on open: estimate them
    per_line = int(_INSTRUCTIONS_WIDTH * 1.1)
    for r, (kind, text) in enumerate(lines):
        if kind == "blank":
            continue
        if kind == "title":
            ws.set_row(r, 22)
            fmt = title
        elif kind == "heading":
            ws.set_row(r, 18)
            fmt = heading
        else:
            n = max(1, math.ceil(len(text) / per_line))
            if n > 1:
                ws.set_row(r, 15 * n + 2)
            fmt = wrap
        ws.write_string(r, 0, xlsxio.clean_text(text), fmt)


# --- the Transfers sheet ----------------------------------------------------

def _comment_text(col: IntakeColumn, hint: str) -> str:
    text = f"{col.name}: {col.meaning}.\nRequired: {col.required}."
    if hint:
        text += f"\n{hint}"
    return text


def _list_blocks() -> dict[str, tuple[tuple[str, ...], list[tuple[str, ...]]]]:
    # headers chosen so that no intake reader mistakes this sheet for data (no intake column names)
    return {
        "category": (("ATT code", "Meaning"), _category_rows()),
        "country": (("State name",), [(name,) for name in _country_rows()]),
        "currency": (("ISO 4217 code", "Currency name"), _currency_rows()),
    }


_LIST_WIDTHS = {"ATT code": 14, "Meaning": 60, "State name": 40, "ISO 4217 code": 14, "Currency name": 40}


def _list_layout(blocks) -> dict[str, tuple[int, str]]:
    """List name -> (first column index, absolute range of its codes on the Lists sheet)."""
    layout = {}
    col = 0
    for key, (headers, rows) in blocks.items():
        letter = get_column_letter(col + 1)
        last = max(2, len(rows) + 1)
        layout[key] = (col, f"{LISTS_SHEET}!${letter}$2:${letter}${last}")
        col += len(headers) + 1  # a blank column between blocks
    return layout


def _write_lists(ws, blocks, layout, header_fmt) -> None:
    height = max(len(rows) for _, rows in blocks.values())
    for key, (headers, _rows) in blocks.items():
        col = layout[key][0]
        for j, head in enumerate(headers):
            ws.set_column(col + j, col + j, _LIST_WIDTHS[head])
            ws.write_string(0, col + j, head, header_fmt)
    # constant-memory writing goes row by row
    for i in range(height):
        for key, (_headers, rows) in blocks.items():
            if i < len(rows):
                for j, value in enumerate(rows[i]):
                    ws.write_string(i + 1, layout[key][0] + j, xlsxio.clean_text(value))
    ws.freeze_panes(1, 0)


def _validations(refs: dict[str, str]) -> dict[str, dict]:
    """Drop-down / number checks per column kind or name; always warnings (agencies may differ)."""
    def lst(source, title: str, message: str) -> dict:
        return {"validate": "list", "source": source, "error_type": "warning", "ignore_blank": True,
                "error_title": title, "error_message": message}

    return {
        "flow": lst(["export", "import"], "export or import", "Write export or import."),
        "basis": lst(["authorized", "actual"], "authorized or actual",
                     "Write authorized (a licence / authorization) or actual (a delivery)."),
        "country": lst(f"={refs['country']}", "State not in the list",
                       "This State name is not in the list. Keep it if you are sure: att-report recognises "
                       "most spellings and ISO codes, and will tell you if it cannot."),
        "category": lst(f"={refs['category']}", "Category code not in the list",
                        "Use an ATT category code from the Lists sheet (e.g. VIII.SA.2). att-report will try "
                        "to read other spellings and tell you if it cannot."),
        "currency": lst(f"={refs['currency']}", "Currency code not in the list",
                        "Use a three-letter ISO 4217 code such as USD or EUR."),
        "flag": lst(["yes", "no"], "yes or no", "Write yes or no."),
        "int": {"validate": "integer", "criteria": ">=", "value": 0, "error_type": "warning",
                "ignore_blank": True, "error_title": "Whole number",
                "error_message": "quantity is a whole number of items, 0 or more."},
        "number": {"validate": "decimal", "criteria": ">=", "value": 0, "error_type": "warning",
                   "ignore_blank": True, "error_title": "Number",
                   "error_message": "value is a number without currency signs, 0 or more."},
    }


def write_intake_template(path: Path, *, agency_name: str, role: str, year: int, state_name: str) -> None:
    """Write the blank intake workbook for one agency to `path` (deterministic bytes)."""
    context = {
        "agency_name": agency_name, "role": role, "year": year, "state_name": state_name,
        "columns": INTAKE_COLUMNS,
    }
    template, module = _instructions_module(context)
    hints: dict[str, str] = dict(getattr(module, "kind_hints", {}) or {})
    lines = _instruction_lines(template.render(context))
    blocks = _list_blocks()
    layout = _list_layout(blocks)
    checks = _validations({key: ref for key, (_col, ref) in layout.items()})
    last_row = DATA_ROWS  # 0-based index of the last prepared data row

    def build(wb) -> None:
        wb.set_properties({
            "title": f"ATT report {year}: data request to {agency_name}",
            "subject": f"Arms Trade Treaty annual report {year}, {state_name}",
            "author": "att-report",
            "created": xlsxio.FIXED_TIME,
        })
        wb.set_custom_property(TEMPLATE_PROPERTY, f"intake;{role};{year}")
        header_fmt = wb.add_format({"bold": True, "bg_color": "#DDE4EE", "text_wrap": True, "valign": "top",
                                    "border": 1})
        formats = {"id": wb.add_format({"num_format": TEXT_FORMAT}),
                   "date": wb.add_format({"num_format": DATE_FORMAT})}
        ws = wb.add_worksheet(TRANSFERS_SHEET)
        ins = wb.add_worksheet(INSTRUCTIONS_SHEET)
        lists = wb.add_worksheet(LISTS_SHEET)

        ws.set_row(0, 30)
        for j, col in enumerate(INTAKE_COLUMNS):
            width = max(len(col.name) + 4, _WIDTH_BY_KIND.get(col.kind, 16))
            fmt = formats.get(col.kind)
            # a column style: Excel gives it to every cell typed into the column, on any row
            ws.set_column(j, j, width, fmt)
            ws.write_string(0, j, col.name, header_fmt)
            text = _comment_text(col, hints.get(col.kind, ""))
            ws.write_comment(0, j, text, {"author": "att-report", "x_scale": 2.2,
                                          "y_scale": 1 + math.ceil(len(text) / 90)})
            check = checks.get(col.name) if col.kind == "code" else checks.get(col.kind)
            if check is not None:
                ws.data_validation(1, j, last_row, j, dict(check))
        ws.freeze_panes(1, 0)

        _write_instructions(wb, ins, lines)
        _write_lists(lists, blocks, layout, header_fmt)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    xlsxio.save_xlsxwriter(build, path)
