"""The HTML summary: content, charts, offline, escaping, determinism, extension point."""

from __future__ import annotations

import re

import pandas as pd

from att_report.compile import compile_report
from att_report.records import make_records
from att_report.render.html import ExtraSection, build_view, write_summary
from test_compile_fixtures import make_config, rec, sample_records


def render(tmp_path, records=None, extra=(), name="summary_2024.html", **cfg):
    cfg.setdefault("report", {"currency": "USD"})
    result = compile_report(sample_records() if records is None else records, make_config(**cfg))
    accounting = pd.DataFrame({"file": ["inputs/customs/decl.xlsx"], "rows_read": [11], "reported": [6],
                               "withheld": [1]})
    path = tmp_path / name
    write_summary(path, result.model, result.findings, accounting, extra_sections=extra)
    return path.read_text(encoding="utf-8"), result


def test_totals_findings_accounting_and_charts(tmp_path):
    html, result = render(tmp_path)
    assert html.count("<svg") >= 2
    assert "VIII.SA.2 Rifles and carbines" in html and "Germany" in html
    assert "currency-no-rate" in html  # EUR without a rate in this config
    assert "Row accounting" in html and "inputs/customs/decl.xlsx" in html
    assert "DRAFT" in html  # an error finding makes the build a draft
    view = build_view(result.model, result.findings, pd.DataFrame())
    exports = view.tables[0].sections[0]
    rifles = next(r for r in exports.by_category if r.label.startswith("VIII.SA.2"))
    assert rifles.number == "17" and rifles.lines == "2"
    assert dict(view.findings_by_severity)["error"] == "1"


def test_offline_no_script_font_or_url(tmp_path):
    html, _ = render(tmp_path)
    assert "<script" not in html.lower()
    assert not re.search(r"(https?:)?//[a-z0-9]", html, re.I)
    assert "@import" not in html and "url(" not in html


def test_agency_text_is_escaped(tmp_path):
    records = make_records([rec(record_id="1", partner_state="DEU", category="<b>X</b>", quantity=1)])
    html, _ = render(tmp_path, records=records)
    assert "<b>X</b>" not in html and "&lt;b&gt;X&lt;/b&gt;" in html


def test_deterministic(tmp_path):
    a, _ = render(tmp_path, name="a.html")
    b, _ = render(tmp_path, name="b.html")
    assert a == b


def test_extension_sections_appear(tmp_path):
    html, _ = render(tmp_path, extra=[ExtraSection("Year-on-year comparison", "<table><tr><td>x</td></tr></table>")])
    assert "<h2>Year-on-year comparison</h2>" in html and "<table><tr><td>x</td></tr></table>" in html
    assert html.index("Row accounting") < html.index("Year-on-year comparison")


def test_nil_tables_render(tmp_path):
    records = make_records([rec(record_id="1", date="2020-01-01", partner_state="DEU", category="I", quantity=1)])
    html, _ = render(tmp_path, records=records)
    assert "Nil report" in html and "<svg" not in html


def test_totals_of_a_group_without_figures_are_no_figure_not_zero():
    from att_report.render.html import _totals

    lines = pd.DataFrame({
        "line_id": ["a", "b", "c", "d", "e"],
        "category": pd.array(["II", None, "II", "V", "V"], dtype="string"),
        "number": pd.array([1, None, 2, None, None], dtype="Float64"),
        "value": pd.array([None, 5.5, None, None, 1], dtype="Float64"),
    })
    got = _totals(lines, "category", pd.Series(["x", "y", "x", "z", "z"]))
    assert got["label"].tolist() == ["x", "y", "z"] and got["lines"].tolist() == [2, 1, 2]
    assert got["number"].tolist() == [3.0, pd.NA, pd.NA]  # V's lines have no number: none, not 0
    assert got["value"].tolist() == [pd.NA, 5.5, 1.0]


def test_the_template_is_compiled_once_and_a_templates_folder_of_ones_own_is_used(tmp_path, monkeypatch):
    import shutil

    from att_report.paths import templates_dir
    from att_report.render import html as html_module

    compiled = []
    real = html_module.Environment.compile
    monkeypatch.setattr(html_module.Environment, "compile",
                        lambda self, *a, **k: compiled.append(1) or real(self, *a, **k))
    html_module._environment.cache_clear()
    first, _ = render(tmp_path, name="a.html")
    again, _ = render(tmp_path, name="b.html")
    assert first == again and len(compiled) == 1  # the second summary reuses the compiled template

    own = tmp_path / "own"
    shutil.copytree(templates_dir(), own)
    template = own / html_module.TEMPLATE
    template.write_text(template.read_text(encoding="utf-8").replace("</body>", "<p>OWN TEMPLATE</p></body>"),
                        encoding="utf-8")
    monkeypatch.setenv("ATT_REPORT_TEMPLATES", str(own))
    mine, _ = render(tmp_path, name="c.html")
    assert "OWN TEMPLATE" in mine and "OWN TEMPLATE" not in first
