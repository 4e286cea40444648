"""The frozen report model: everything the renderers need, computed once.

Renderers (xlsx, html, later UNROCA) only read this; they compute nothing.
Lines travel as DataFrames with exactly `LINE_COLUMNS` (a per-transfer report
can hold a million lines: no per-line Python objects).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from att_report.compile.template import ReportTemplate

#: Columns of a section's lines, in order. partner/origin are ISO alpha-3 ("" when
#: blank), intermediates "AAA;BBB", number Int64, value Float64 (report currency).
LINE_COLUMNS = ("line_id", "category", "partner", "origin", "intermediates", "number", "value",
                "description", "comments")
#: Columns of the compressed provenance table (Sources sheet): one row per line x file.
SOURCE_COLUMNS = ("line_id", "agency", "file", "sheet", "rows", "count")

BASIS_ORDER = ("authorized", "actual")
TABLES = (("exports", "export"), ("imports", "import"))


def empty_lines() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="string") for c in LINE_COLUMNS})
    frame["number"] = frame["number"].astype("Int64")
    frame["value"] = frame["value"].astype("Float64")
    return frame


@dataclass(frozen=True, eq=False)
class Section:
    """One basis of one table (a table reported on both bases has two, never summed)."""
    basis: str  # authorized | actual
    lines: pd.DataFrame  # LINE_COLUMNS, in display order (template category order)

    @property
    def line_count(self) -> int:
        return len(self.lines)


@dataclass(frozen=True, eq=False)
class TableModel:
    key: str  # exports | imports
    flow: str  # export | import
    basis: str  # authorized | actual | both (config)
    measure: str  # number | value | both
    aggregate: str  # per_partner | per_transfer
    definition: str
    sections: tuple[Section, ...]
    withheld_rows: int = 0

    @property
    def line_count(self) -> int:
        return sum(s.line_count for s in self.sections)

    @property
    def nil(self) -> bool:
        """A nil report: no lines at all and nothing withheld (else 'nil' would be untrue)."""
        return self.line_count == 0 and self.withheld_rows == 0

    def section(self, basis: str) -> Section | None:
        return next((s for s in self.sections if s.basis == basis), None)


@dataclass(frozen=True)
class Cover:
    state: str  # ISO alpha-3
    state_name: str
    year: int
    submission_date: dt.date | None
    contact_name: str = ""
    contact_position: str = ""
    contact_organisation: str = ""
    contact_telephone: str = ""
    contact_email: str = ""
    contact_address: str = ""
    form_exports: bool = False
    form_imports: bool = False
    form_nil_exports: bool = False
    form_nil_imports: bool = False
    form_national_definitions: bool = False
    withheld: bool = False
    public: bool = False
    exports_basis: str = "actual"
    imports_basis: str = "actual"
    exports_definition: str = ""
    imports_definition: str = ""
    currency: str = ""
    currency_notes: tuple[str, ...] = ()
    draft: bool = False
    template_version: str = ""


@dataclass(frozen=True, eq=False)
class ReportModel:
    cover: Cover
    exports: TableModel
    imports: TableModel
    currency: str  # report currency ("" when no value is reported at all)
    rates_used: tuple[tuple[str, float], ...]  # (currency, rate) converted into `currency`
    national_definitions: str
    sources: pd.DataFrame  # SOURCE_COLUMNS, compressed row ranges
    sources_sheet: bool
    template: ReportTemplate = field(repr=False)

    @property
    def draft(self) -> bool:
        return self.cover.draft

    @property
    def tables(self) -> tuple[TableModel, TableModel]:
        return (self.exports, self.imports)

    def table(self, key: str) -> TableModel:
        return self.exports if key in ("exports", "export") else self.imports

    def all_lines(self) -> pd.DataFrame:
        """Every line with its table and basis (for summaries and later features)."""
        parts = [
            s.lines.assign(table=t.key, basis=s.basis)
            for t in self.tables for s in t.sections if not s.lines.empty
        ]
        if not parts:
            return empty_lines().assign(table=pd.Series(dtype="string"), basis=pd.Series(dtype="string"))
        return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True, eq=False)
class CompileResult:
    model: ReportModel
    records: pd.DataFrame  # the records, dispositions set for the rows compile decides
    findings: pd.DataFrame  # findings.LOG_FIELDS
