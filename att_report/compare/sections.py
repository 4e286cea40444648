"""HTML sections for the summary (render/html.py ExtraSection): year-on-year and mirror check.

Formatting only; everything shown is computed in Comparison / MirrorResult.
All text is escaped here (ExtraSection.html is trusted by the summary).
"""

from __future__ import annotations

import pandas as pd
from markupsafe import escape

from att_report.compare.common import category_label, fmt_number, state_name
from att_report.render.html import ExtraSection

#: The summary lists at most this many lines per section; the workbook has them all.
MAX_ROWS = 60


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(f'<td class="num">{escape(v)}</td>' if i in numeric else f"<td>{escape(v)}</td>"
                        for i, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table>\n<tr>{head}</tr>\n" + "\n".join(body) + "\n</table>\n"


def _notes(notes) -> str:
    return "".join(f'<p class="meta">{escape(n)}</p>\n' for n in notes)


def _findings(findings: pd.DataFrame) -> str:
    if findings.empty:
        return "<p>No findings.</p>\n"
    items = "".join(f'<li><span class="sev-{escape(r.severity)}">{escape(r.code)}</span>: {escape(r.message)}</li>\n'
                    for r in findings.itertuples(index=False))
    return f"<ul>\n{items}</ul>\n"


def comparison_section(comparison, filename: str | None = None) -> ExtraSection:
    """The year-on-year section: settings, notes, findings, changed / new / vanished lines."""
    c = comparison
    name = filename or f"comparison_{c.year}.xlsx"
    parts = [f'<p class="meta">{escape(c.previous_source)} ({c.previous_year}) compared with '
             f"{escape(c.current_source)} ({c.year}); large swing at x{c.swing_factor:g} or more, new partner "
             f"above {c.new_partner_threshold:g}. Every line is in {escape(name)}.</p>\n", _notes(c.notes)]
    parts.append(f"<h3>Findings ({len(c.findings)})</h3>\n" + _findings(c.findings))
    shown = c.rows[c.rows["status"] != "unchanged"]
    shown = pd.concat([shown[shown["flag"] != ""], shown[shown["flag"] == ""]])
    rows = [[r.table, r.basis, category_label(r.category), state_name(r.partner), fmt_number(r.previous_number),
             fmt_number(r.number), fmt_number(r.previous_value), fmt_number(r.value), r.status, r.flag]
            for r in shown.head(MAX_ROWS).itertuples(index=False)]
    parts.append(f"<h3>Changed, new and vanished lines ({len(shown)})</h3>\n")
    if rows:
        parts.append(_table(["Table", "Basis", "Category", "Partner State", f"Number {c.previous_year}",
                             f"Number {c.year}", f"Value {c.previous_year}", f"Value {c.year}", "Status", "Flag"],
                            rows, numeric={4, 5, 6, 7}))
        if len(shown) > MAX_ROWS:
            parts.append(f'<p class="meta">{len(shown) - MAX_ROWS} more in {escape(name)}.</p>\n')
    else:
        parts.append("<p>No line changed.</p>\n")
    if not c.partners.empty:
        prow = [[r.table, r.basis, state_name(r.partner), r.status,
                 fmt_number(r.number if r.status == "new" else r.previous_number)]
                for r in c.partners.itertuples(index=False)]
        parts.append("<h3>New and vanished partner States</h3>\n"
                     + _table(["Table", "Basis", "Partner State", "Status", "Number of items"], prow, numeric={4}))
    return ExtraSection(f"Year-on-year comparison {c.previous_year}-{c.year}", "".join(parts))


def mirror_section(result, filename: str | None = None) -> ExtraSection:
    """The mirror-check section: partners, tolerance, findings, the differences."""
    r = result
    name = filename or f"mirror_{r.year}.xlsx"
    partners = ", ".join(f"{p[1]} ({p[3]})" for p in r.partners) or "none"
    parts = [f'<p class="meta">Partner reports: {escape(partners)}. Differences of at most {r.min_abs:g} '
             f"or {r.tolerance:.0%} of the larger figure are ignored. Every comparison is in {escape(name)}.</p>\n",
             _notes(r.notes), f"<h3>Findings ({len(r.findings)})</h3>\n", _findings(r.findings)]
    direction = {"exports": "our exports / their imports", "imports": "our imports / their exports"}
    rows = [[state_name(x.partner), direction.get(x.direction, x.direction), category_label(x.category),
             x.our_basis + " / " + x.their_basis, fmt_number(x.ours), fmt_number(x.theirs), x.status]
            for x in r.rows.head(MAX_ROWS).itertuples(index=False)]
    if rows:
        parts.append("<h3>Comparisons</h3>\n" + _table(
            ["Partner State", "Compared", "Category", "Bases (ours / theirs)", "Ours", "Theirs", "Status"], rows,
            numeric={4, 5}))
    return ExtraSection(f"Mirror check {r.year}", "".join(parts))
