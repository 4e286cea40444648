"""The report template definition (templates/att_report_template.toml) as a frozen object.

The row layout (categories, their order and labels), the columns and the
cover fields are data an NPC can edit; nothing here hard-codes them.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

from att_report.paths import templates_dir

TEMPLATE_FILE = "att_report_template.toml"
#: The column keys the compiler fills, in the order ATT_REPORTING.md section 3 gives.
COLUMN_KEYS = ("category", "partner", "origin", "intermediates", "number", "value", "description", "comments")
FLOW_TABLES = {"export": "exports", "import": "imports"}


class TemplateError(ValueError):
    """The template definition is broken; the message names the file and key."""


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    width: float


@dataclass(frozen=True)
class TableText:
    title: str
    category_header: str
    partner_header: str
    nil_text: str
    empty_section_text: str
    definition_label: str


@dataclass(frozen=True)
class CoverField:
    key: str
    label: str
    section: str = ""


@dataclass(frozen=True)
class CategoryRow:
    code: str
    label: str

    @property
    def display(self) -> str:
        return f"{self.code} {self.label}"


@dataclass(frozen=True)
class ReportTemplate:
    version: str
    title: str
    sheets: dict
    columns: tuple[Column, ...]
    tables: dict  # "exports"/"imports" -> TableText
    basis_text: dict  # "authorized"/"actual"/"both_note" -> text
    texts: dict
    cover: tuple[CoverField, ...]
    categories: tuple[CategoryRow, ...]

    def headers(self, table: str) -> list[str]:
        """The header row of a table, in template order."""
        text = self.tables[table]
        out = []
        for col in self.columns:
            if col.key == "category":
                out.append(text.category_header)
            elif col.key == "partner":
                out.append(text.partner_header)
            else:
                out.append(col.header)
        return out

    @property
    def category_order(self) -> dict[str, int]:
        return {c.code: i for i, c in enumerate(self.categories)}

    @property
    def category_display(self) -> dict[str, str]:
        return {c.code: c.display for c in self.categories}


def _need(data: dict, key: str, where: str, path: Path):
    if key not in data:
        raise TemplateError(f"{path}: missing key '{where}{key}'.")
    return data[key]


def _category_rows(label_field: str) -> tuple[CategoryRow, ...]:
    """Category rows, in order, from the shared category definition (att_categories.toml).

    `label_field` names the label shown after the code ("short_label" gives
    "VIII.SA.2 Rifles and carbines"; "label" the long form); blank falls back to `label`.
    """
    from att_report.normalise.categories import load_categories

    rows = []
    for cat in load_categories():
        label = str(getattr(cat, label_field, "") or getattr(cat, "label", "") or "")
        rows.append(CategoryRow(str(cat.code), label))
    return tuple(rows)


def parse_template(data: dict, path: Path, categories: tuple[CategoryRow, ...]) -> ReportTemplate:
    columns = []
    for i, raw in enumerate(_need(data, "columns", "", path)):
        key = _need(raw, "key", f"columns[{i}].", path)
        columns.append(Column(key, str(raw.get("header", "")), float(raw.get("width", 15))))
    keys = tuple(c.key for c in columns)
    if keys != COLUMN_KEYS:
        raise TemplateError(f"{path}: the [[columns]] keys must be {', '.join(COLUMN_KEYS)} in this order, not {', '.join(keys)}.")
    tables = {}
    for table in ("exports", "imports"):
        raw = _need(_need(data, "tables", "", path), table, "tables.", path)
        where = f"tables.{table}."
        tables[table] = TableText(**{
            f: str(_need(raw, f, where, path)) for f in TableText.__dataclass_fields__
        })
    cover = tuple(
        CoverField(str(_need(c, "key", f"cover[{i}].", path)), str(_need(c, "label", f"cover[{i}].", path)),
                   str(c.get("section", "")))
        for i, c in enumerate(_need(data, "cover", "", path))
    )
    sheets = dict(_need(data, "sheets", "", path))
    for key in ("cover", "exports", "imports", "definitions", "sources"):
        _need(sheets, key, "sheets.", path)
    return ReportTemplate(
        version=str(_need(data, "version", "", path)),
        title=str(_need(data, "title", "", path)),
        sheets=sheets,
        columns=tuple(columns),
        tables=tables,
        basis_text=dict(_need(data, "basis", "", path)),
        texts=dict(_need(data, "texts", "", path)),
        cover=cover,
        categories=categories,
    )


@functools.cache
def _load(path_text: str, mtime: float) -> ReportTemplate:
    path = Path(path_text)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return parse_template(data, path, _category_rows(str(data.get("category_label", "short_label"))))


def load_template(path: Path | None = None) -> ReportTemplate:
    """The report template definition (cached; re-read when the file changes)."""
    path = Path(path) if path else templates_dir() / TEMPLATE_FILE
    if not path.is_file():
        raise TemplateError(f"Report template definition not found: {path}.")
    return _load(str(path), path.stat().st_mtime)
