"""Read a report workbook of att-report's layout back into lines.

Later features (year-on-year comparison, mirror checks) build on this. The
reader follows the template definition: sheet names, the header row of each
table, the cover labels. A section starts at a row whose first cell matches
the table's header row; its basis comes from the section title just above
(the words "authorized" / "actual"), else from the cover. A row whose only
filled cell is the Category is an empty category of the form, not a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from att_report.compile.template import ReportTemplate, load_template

#: Columns of the lines read back (the compiled LINE_COLUMNS without line_id).
READ_COLUMNS = ("category", "partner", "origin", "intermediates", "number", "value", "description", "comments")


class ReadBackError(ValueError):
    """The workbook is not a report of this layout; the message says what is missing."""


@dataclass(frozen=True, eq=False)
class ReadTable:
    key: str  # exports | imports
    basis: str  # authorized | actual | both (from the cover, else the sections)
    sections: dict[str, pd.DataFrame]  # basis -> lines (READ_COLUMNS)
    nil: bool = False

    def lines(self, basis: str | None = None) -> pd.DataFrame:
        if basis is not None:
            return self.sections.get(basis, _empty())
        parts = [df.assign(basis=b) for b, df in self.sections.items()]
        return pd.concat(parts, ignore_index=True) if parts else _empty().assign(basis=pd.Series(dtype="string"))


@dataclass(frozen=True, eq=False)
class ReadBack:
    path: Path
    state: str  # ISO alpha-3
    year: int | None
    currency: str
    exports: ReadTable
    imports: ReadTable
    cover: dict[str, str] = field(default_factory=dict)  # template cover key -> text
    unresolved: tuple[str, ...] = ()  # State names that did not resolve to a code

    def table(self, key: str) -> ReadTable:
        return self.exports if key in ("exports", "export") else self.imports


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="string") for c in READ_COLUMNS})
    return frame.astype({"number": "Int64", "value": "Float64"})


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _read_cover(ws, tpl: ReportTemplate) -> dict[str, str]:
    by_label = {_norm(f.label): f.key for f in tpl.cover}
    out: dict[str, str] = {}
    for row in ws.iter_rows(min_col=1, max_col=2, values_only=True):
        label = _norm(_cell_text(row[0]))
        if label in by_label and by_label[label] not in out:
            out[by_label[label]] = _cell_text(row[1] if len(row) > 1 else None)
    return out


def _basis_from(text: str) -> str | None:
    t = text.casefold()
    if re.search(r"basis:\s*authori[sz]ed", t) or (re.search(r"\bauthori[sz]ed\b", t) and "actual" not in t):
        return "authorized"
    if re.search(r"basis:\s*actual", t) or re.search(r"\bactual\b", t):
        return "actual"
    return None


def _number(value, *, integer: bool):
    if value is None or (isinstance(value, str) and not value.strip()):
        return pd.NA
    try:
        number = float(str(value).replace(",", "").strip()) if isinstance(value, str) else float(value)
    except ValueError:
        return pd.NA
    return int(round(number)) if integer else number


def _codes(names: list[str], unresolved: set[str]) -> list[str]:
    from att_report.normalise.countries import resolve_country

    cache: dict[str, str] = {}
    out = []
    for name in names:
        if name not in cache:
            parts = [p.strip() for p in name.split(";") if p.strip()]
            codes = []
            for part in parts:
                code = resolve_country(part)
                if code is None:
                    unresolved.add(part)
                    code = part
                codes.append(code)
            cache[name] = ";".join(codes)
        out.append(cache[name])
    return out


def _read_table(ws, tpl: ReportTemplate, key: str, cover_basis: str, unresolved: set[str]) -> ReadTable:
    headers = [_norm(h) for h in tpl.headers(key)]
    code_of = {_norm(c.display): c.code for c in tpl.categories}
    rows = [list(r) for r in ws.iter_rows(min_col=1, max_col=len(headers), values_only=True)]
    sections: dict[str, list[list]] = {}
    nil = False
    nil_marker = _norm(tpl.tables[key].nil_text.split(":")[0])
    current: str | None = None
    previous_text = ""
    default_bases = ["authorized", "actual"] if cover_basis == "both" else [cover_basis or "actual"]
    for raw in rows:
        cells = [_cell_text(v) for v in raw] + [""] * (len(headers) - len(raw))
        if [_norm(c) for c in cells] == headers:
            basis = _basis_from(previous_text) or (default_bases.pop(0) if default_bases else "actual")
            if basis in default_bases:
                default_bases.remove(basis)
            current = basis
            sections.setdefault(current, [])
            continue
        if not any(cells):
            continue
        only_first = bool(cells[0]) and not any(cells[1:])
        if only_first and _norm(cells[0]) not in code_of:
            # a title-block or section-title row (it ends the section above)
            if nil_marker and _norm(cells[0]).startswith(nil_marker):
                nil = True
            previous_text = cells[0]
            current = None
            continue
        if current is None or only_first:
            continue  # outside a section, or an empty category row of the form
        category = code_of.get(_norm(cells[0]))
        if category is None:
            category = "" if cells[0] == "(no category)" else cells[0].split(" ")[0]
        sections[current].append([category, *cells[1:4], raw[4] if len(raw) > 4 else None,
                                  raw[5] if len(raw) > 5 else None, cells[6], cells[7]])
    out: dict[str, pd.DataFrame] = {}
    for basis, items in sections.items():
        if not items:
            out[basis] = _empty()
            continue
        frame = pd.DataFrame(items, columns=list(READ_COLUMNS))
        for col in ("partner", "origin", "intermediates"):
            frame[col] = _codes(frame[col].tolist(), unresolved)
        frame["number"] = pd.array([_number(v, integer=True) for v in frame["number"]], dtype="Int64")
        frame["value"] = pd.array([_number(v, integer=False) for v in frame["value"]], dtype="Float64")
        for col in ("category", "partner", "origin", "intermediates", "description", "comments"):
            frame[col] = frame[col].astype("string")
        out[basis] = frame[list(READ_COLUMNS)]
    basis = cover_basis or ("both" if len(out) > 1 else next(iter(out), "actual"))
    return ReadTable(key=key, basis=basis, sections=out, nil=nil)


def read_report(path: Path, template: ReportTemplate | None = None) -> ReadBack:
    """Read an ATT annual report workbook of att-report's layout back into lines."""
    from openpyxl import load_workbook

    from att_report.normalise.countries import resolve_country

    tpl = template or load_template()
    path = Path(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # not a workbook at all: say so plainly
        raise ReadBackError(f"{path} could not be opened as an xlsx workbook: {exc}") from None
    try:
        names = wb.sheetnames
        for key in ("exports", "imports"):
            if tpl.sheets[key] not in names:
                raise ReadBackError(f"{path} has no sheet '{tpl.sheets[key]}': it is not an ATT report of this layout.")
        cover = _read_cover(wb[tpl.sheets["cover"]], tpl) if tpl.sheets["cover"] in names else {}
        unresolved: set[str] = set()
        tables = {}
        for key in ("exports", "imports"):
            ws = wb[tpl.sheets[key]]
            ws.reset_dimensions()
            basis_text = cover.get(f"{key}_basis", "").casefold()
            basis = ("both" if "authori" in basis_text and "actual" in basis_text
                     else "authorized" if "authori" in basis_text else "actual" if "actual" in basis_text else "")
            table = _read_table(ws, tpl, key, basis, unresolved)
            nil_flag = cover.get(f"form_nil_{key}", "")
            if nil_flag:
                table = ReadTable(table.key, table.basis, table.sections,
                                  nil=_norm(nil_flag) == _norm(tpl.texts["yes"]))
            tables[key] = table
    finally:
        wb.close()
    state = cover.get("state_code", "") or (resolve_country(cover.get("state", "")) or "")
    year_text = cover.get("year", "")
    year = int(year_text) if year_text.isdigit() else None
    return ReadBack(
        path=path, state=state, year=year, currency=cover.get("currency", ""),
        exports=tables["exports"], imports=tables["imports"], cover=cover,
        unresolved=tuple(sorted(unresolved)),
    )
