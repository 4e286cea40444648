"""The HTML summary (`summary_<YEAR>.html`): totals, findings, row accounting, charts.

The numbers are built into a frozen view model (`SummaryView`) first; the
Jinja2 template (templates/summary.html.j2, autoescaped) only formats them.
Charts are inline SVG; there is no script, font or URL to fetch, so the page
renders offline. Output is deterministic (no timestamps, stable order).

Extension point: later features (year-on-year, mirror) add sections by
passing `extra_sections=[ExtraSection(title, html), ...]` to `write_summary`
(or `build_view`); they appear after the built-in sections, in order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from att_report.compile.model import ReportModel
from att_report.paths import templates_dir

TEMPLATE = "summary.html.j2"
MAX_BARS = 15
SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class ExtraSection:
    """A section added by a later feature: a title and trusted, already-escaped HTML."""
    title: str
    html: str


@dataclass(frozen=True)
class Bar:
    label: str
    display: str
    y: int
    width: float


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    label_width: int
    bar_height: int
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class TotalRow:
    label: str
    lines: str
    number: str
    value: str


@dataclass(frozen=True)
class SectionView:
    title: str
    by_category: tuple[TotalRow, ...]
    by_partner: tuple[TotalRow, ...]
    total: TotalRow
    charts: tuple[Chart, ...]


@dataclass(frozen=True)
class TableView:
    title: str
    basis: str
    measure: str
    aggregate: str
    nil: bool
    withheld_rows: int
    sections: tuple[SectionView, ...]


@dataclass(frozen=True)
class SummaryView:
    title: str
    state: str
    year: int
    draft: bool
    currency: str
    currency_notes: tuple[str, ...]
    template_version: str
    tables: tuple[TableView, ...]
    findings_by_severity: tuple[tuple[str, str], ...]
    findings_by_code: tuple[tuple[str, str, str, str], ...]  # severity, code, title, count
    accounting_columns: tuple[str, ...]
    accounting_rows: tuple[tuple[str, ...], ...]
    extra_sections: tuple[ExtraSection, ...]


def _fmt(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, (int, float)) or hasattr(value, "__index__"):
        v = float(value)
        return f"{int(v):,}" if v.is_integer() else f"{v:,.2f}"
    return str(value)


def _chart(title: str, labels: list[str], values: list[float], unit: str) -> Chart:
    bar_height, gap, label_width, plot_width = 18, 6, 260, 420
    peak = max((v for v in values if v > 0), default=0)
    bars = tuple(
        Bar(label=label, display=f"{_fmt(v)} {unit}".strip(), y=i * (bar_height + gap),
            width=round(plot_width * v / peak, 1) if peak else 0.0)
        for i, (label, v) in enumerate(zip(labels, values))
    )
    height = max(1, len(bars)) * (bar_height + gap)
    return Chart(title=title, width=label_width + plot_width + 140, height=height, label_width=label_width,
                 bar_height=bar_height, bars=bars)


def _totals(lines: pd.DataFrame, key: str, labels: pd.Series) -> pd.DataFrame:
    groups = lines.assign(_label=labels).groupby(key, sort=False, dropna=False)
    counted = groups.agg(label=("_label", "first"), lines=("line_id", "size"))
    # min_count=1: a group without any figure totals to no figure, not 0 (a vectorised sum, no lambda)
    return counted.join(groups[["number", "value"]].sum(min_count=1))


def _section_view(model: ReportModel, table, section) -> SectionView:
    from att_report.normalise.countries import country_names

    tpl = model.template
    lines = section.lines
    display = tpl.category_display
    order = tpl.category_order
    cat_labels = lines["category"].map(lambda c: display.get(c, c or "(no category)"))
    by_cat = _totals(lines, "category", cat_labels)
    by_cat = by_cat.assign(_o=[order.get(c, len(order)) for c in by_cat.index]).sort_values(["_o", "label"])
    partner_labels = country_names(lines["partner"]).fillna("").replace("", "(no partner State)")
    by_partner = _totals(lines, "partner", partner_labels).sort_values("label", kind="mergesort")
    measure_value = table.measure != "number" and lines["value"].notna().any()
    metric, unit = ("value", model.currency) if measure_value else ("number", "items")

    def rows(frame: pd.DataFrame) -> tuple[TotalRow, ...]:
        return tuple(TotalRow(r.label, _fmt(r.lines), _fmt(r.number), _fmt(r.value))
                     for r in frame.itertuples(index=False))

    def chart(title: str, frame: pd.DataFrame) -> Chart:
        data = frame.assign(_m=frame[metric].astype("Float64").fillna(0).astype(float))
        data = data.sort_values(["_m", "label"], ascending=[False, True], kind="mergesort")
        labels, values = data["label"].tolist(), data["_m"].tolist()
        if len(labels) > MAX_BARS:
            rest = sum(values[MAX_BARS - 1:])
            labels = labels[: MAX_BARS - 1] + [f"{len(labels) - MAX_BARS + 1} others"]
            values = values[: MAX_BARS - 1] + [rest]
        return _chart(title, labels, values, unit)

    what = "value" if metric == "value" else "number of items"
    flows = "Exports" if table.flow == "export" else "Imports"
    charts = ()
    if not lines.empty:
        charts = (chart(f"{flows} ({section.basis}): {what} by category", by_cat),
                  chart(f"{flows} ({section.basis}): {what} by partner State", by_partner))
    total = TotalRow("Total", _fmt(len(lines)), _fmt(lines["number"].sum(min_count=1)),
                     _fmt(lines["value"].sum(min_count=1)))
    title = tpl.basis_text[section.basis].format(flows=flows.lower(), year=model.cover.year)
    return SectionView(title=title, by_category=rows(by_cat), by_partner=rows(by_partner), total=total,
                       charts=charts)


def build_view(model: ReportModel, findings: pd.DataFrame, accounting: pd.DataFrame,
               extra_sections: Sequence[ExtraSection] = ()) -> SummaryView:
    """Compute everything the summary shows (the template only formats)."""
    from att_report.rules import code_title

    tpl = model.template
    tables = tuple(
        TableView(
            title=tpl.tables[t.key].title, basis=t.basis, measure=t.measure, aggregate=t.aggregate,
            nil=t.nil, withheld_rows=t.withheld_rows,
            sections=tuple(_section_view(model, t, s) for s in t.sections),
        )
        for t in model.tables
    )
    f = findings if findings is not None else pd.DataFrame(columns=["severity", "code"])
    sev_counts = f["severity"].astype("string").value_counts() if not f.empty else pd.Series(dtype="int64")
    by_severity = tuple((s, _fmt(int(sev_counts.get(s, 0)))) for s in SEVERITIES)
    by_code = ()
    if not f.empty:
        counts = f.groupby(["severity", "code"], dropna=False).size().reset_index(name="n")
        counts["_s"] = counts["severity"].map({s: i for i, s in enumerate(SEVERITIES)}).fillna(9)
        counts = counts.sort_values(["_s", "code"], kind="mergesort")
        by_code = tuple(
            (str(r.severity), str(r.code), code_title(str(r.code)), _fmt(int(r.n)))
            for r in counts.itertuples(index=False)
        )
    acc = accounting if accounting is not None else pd.DataFrame()
    acc_rows = tuple(tuple(_fmt(v) for v in row) for row in acc.itertuples(index=False, name=None))
    c = model.cover
    return SummaryView(
        title=f"ATT annual report {c.year}: {c.state_name} - summary", state=f"{c.state_name} ({c.state})",
        year=c.year, draft=c.draft, currency=model.currency, currency_notes=c.currency_notes,
        template_version=c.template_version, tables=tables, findings_by_severity=by_severity,
        findings_by_code=by_code, accounting_columns=tuple(str(col) for col in acc.columns),
        accounting_rows=acc_rows,
        extra_sections=tuple(ExtraSection(s.title, Markup(s.html)) for s in extra_sections),
    )


@functools.lru_cache(maxsize=4)
def _environment(folder: str) -> Environment:
    # one per templates folder: Jinja keeps the compiled template (~0.08 s to compile) in it, and
    # reloads it should the file change
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
    )


def warm_summary_template() -> None:
    """Compile the summary's template now (see `pipeline.warm_later_stages`)."""
    _environment(str(templates_dir())).get_template(TEMPLATE)


def render_summary(view: SummaryView) -> str:
    return _environment(str(templates_dir())).get_template(TEMPLATE).render(v=view)


def write_summary(path: Path, model: ReportModel, findings: pd.DataFrame, accounting: pd.DataFrame,
                  *, extra_sections: Sequence[ExtraSection] = ()) -> None:
    """Write the HTML summary to `path` (UTF-8, deterministic)."""
    html = render_summary(build_view(model, findings, accounting, extra_sections))
    Path(path).write_text(html, encoding="utf-8", newline="\n")


def summary_filename(model: ReportModel) -> str:
    return f"summary_{model.cover.year}.html"
