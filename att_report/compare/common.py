"""One view of a report, whether compiled in memory (ReportModel) or read back from a workbook.

Year-on-year comparison and the mirror check both work on `ReportData`:
the lines of each table and basis section with ISO codes, numbers and values,
plus what the cover says (State, year, currency, bases, nil, withheld).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from att_report.compile.model import BASIS_ORDER, ReportModel
from att_report.render.readback import ReadBack

TABLE_KEYS = ("exports", "imports")
TABLE_FLOW = {"exports": "export", "imports": "import"}
#: Columns of ReportData.lines.
DATA_COLUMNS = ("table", "basis", "category", "partner", "origin", "intermediates", "number", "value")


@dataclass(frozen=True, eq=False)
class ReportData:
    state: str  # ISO alpha-3 ("" when unknown)
    year: int | None
    currency: str
    source: str  # file name (or "this build")
    bases: dict  # table key -> tuple of basis sections present, in BASIS_ORDER
    nil: dict  # table key -> bool
    lines: pd.DataFrame  # DATA_COLUMNS
    withheld: bool = False
    draft: bool = False
    unresolved: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    def table_lines(self, table: str, basis: str) -> pd.DataFrame:
        lines = self.lines
        return lines[(lines["table"] == table) & (lines["basis"] == basis)]

    def measure(self, table: str) -> str:
        """What the table reports, judged from its lines: number, value, both or "" (no lines)."""
        lines = self.lines[self.lines["table"] == table]
        has_n, has_v = bool(lines["number"].notna().any()), bool(lines["value"].notna().any())
        return "both" if has_n and has_v else "number" if has_n else "value" if has_v else ""


def _conform(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for col in DATA_COLUMNS:
        if col == "number":
            out[col] = frame[col].astype("Int64") if col in frame else pd.array([pd.NA] * len(frame), dtype="Int64")
        elif col == "value":
            out[col] = frame[col].astype("Float64") if col in frame else pd.array([pd.NA] * len(frame), dtype="Float64")
        else:
            out[col] = (frame[col].astype("string").fillna("").str.strip() if col in frame
                        else pd.Series([""] * len(frame), index=frame.index, dtype="string"))
    return out.reset_index(drop=True)


def _ordered(bases) -> tuple[str, ...]:
    present = set(bases)
    return tuple(b for b in BASIS_ORDER if b in present)


def report_data(report: ReportModel | ReadBack, source: str | None = None) -> ReportData:
    """Normalise a compiled model or a read-back workbook into ReportData."""
    if isinstance(report, ReportModel):
        from att_report.render.report_xlsx import report_filename

        lines = _conform(report.all_lines())
        return ReportData(
            state=report.cover.state, year=report.cover.year, currency=report.currency or "",
            source=source or report_filename(report),
            bases={t.key: _ordered(s.basis for s in t.sections) for t in report.tables},
            nil={t.key: t.nil for t in report.tables}, lines=lines,
            withheld=report.cover.withheld, draft=report.cover.draft,
        )
    if isinstance(report, ReadBack):
        parts = []
        bases = {}
        for key in TABLE_KEYS:
            table = report.table(key)
            bases[key] = _ordered(table.sections)
            if not bases[key]:
                bases[key] = ("authorized", "actual") if table.basis == "both" else (table.basis or "actual",)
            frame = table.lines()
            if not frame.empty:
                parts.append(frame.assign(table=key))
        lines = _conform(pd.concat(parts, ignore_index=True)) if parts else _conform(
            pd.DataFrame(columns=list(DATA_COLUMNS)))
        withheld_text = report.cover.get("withheld", "").strip().casefold()
        return ReportData(
            state=report.state, year=report.year, currency=(report.currency or "").strip().upper(),
            source=source or Path(report.path).name, bases=bases,
            nil={k: bool(report.table(k).nil) for k in TABLE_KEYS}, lines=lines,
            withheld=withheld_text in ("yes", "y", "true", "x"),
            draft=report.cover.get("status", "").strip().casefold().startswith("draft"),
            unresolved=tuple(report.unresolved),
        )
    raise TypeError(f"expected a ReportModel or a ReadBack, not {type(report).__name__}")


def totals(lines: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sum number and value per keys (NA stays NA when a group has no figure)."""
    if lines.empty:
        frame = pd.DataFrame({k: pd.Series(dtype="string") for k in keys})
        return frame.assign(number=pd.Series(dtype="Int64"), value=pd.Series(dtype="Float64"))
    grouped = lines.groupby(keys, sort=True, dropna=False).agg(
        number=("number", "sum"), n_number=("number", "count"), value=("value", "sum"), n_value=("value", "count"))
    grouped["number"] = grouped["number"].astype("Int64").mask(grouped["n_number"].eq(0), pd.NA)
    grouped["value"] = grouped["value"].astype("Float64").mask(grouped["n_value"].eq(0), pd.NA)
    return grouped.drop(columns=["n_number", "n_value"]).reset_index()


def category_label(code: str) -> str:
    """"VIII.SA.2 Rifles and carbines" (the ATT template's display), or the code itself."""
    from att_report.compile.template import load_template

    return load_template().category_display.get(code, code or "(no category)")


def state_name(code: str) -> str:
    from att_report.normalise.countries import country_name

    if not code:
        return "(no partner State)"
    try:
        return country_name(code) or code
    except Exception:  # noqa: BLE001 - an unresolved name read back from a workbook stays as written
        return code


def fmt_number(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return "-"
    v = float(value)
    return f"{int(v):,}" if v.is_integer() else f"{v:,.2f}"
