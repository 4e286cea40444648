"""UNROCA output: the same compiled lines as the ATT report, line by line, for every config variant."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from att_report.compile import compile_report
from att_report.normalise.categories import load_categories
from att_report.records import make_records
from att_report.render.readback import read_report
from att_report.render.report_xlsx import write_report
from att_report.render.unroca import (
    UnrocaTemplateError, load_unroca_template, parse_unroca_template, read_unroca, unroca_filename,
    unroca_view, write_unroca,
)
from test_compile_fixtures import make_config, rec, sample_records

VARIANTS = {
    "default": {},
    "basis_authorized": {"exports": {"basis": "authorized"}, "imports": {"basis": "authorized"}},
    "basis_both": {"exports": {"basis": "both"}, "imports": {"basis": "both"}},
    "measure_number": {"exports": {"measure": "number"}, "imports": {"measure": "number"}},
    "measure_value": {"exports": {"measure": "value"}, "imports": {"measure": "value"}},
    "per_transfer": {"exports": {"aggregate": "per_transfer"}, "imports": {"aggregate": "per_transfer"}},
    "per_transfer_both": {"exports": {"aggregate": "per_transfer", "basis": "both"}},
    "currency_converted": {"report": {"currency": "USD"}, "rates": {"EUR": 1.08}},
    "currency_missing_rate": {"report": {"currency": "USD"}},
    "mixed": {"exports": {"basis": "authorized", "measure": "number"}, "imports": {"aggregate": "per_transfer"}},
}
KEY = ["category", "partner", "origin", "intermediates", "number", "description", "comments"]


def _rows(frame: pd.DataFrame) -> list[tuple]:
    """Lines as comparable tuples (NA -> None), order kept."""
    out = []
    for r in frame[KEY].to_dict("records"):
        out.append(tuple(None if (v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v))) else
                         (int(v) if k == "number" else str(v)) for k, v in r.items()))
    return out


def _by_flow(model) -> dict[tuple[str, str], list[tuple]]:
    return {(t.flow, s.basis): _rows(s.lines) for t in model.tables for s in t.sections}


def _build(tmp_path: Path, records: pd.DataFrame, **cfg):
    model = compile_report(records, make_config(**cfg)).model
    att, un = tmp_path / "att.xlsx", tmp_path / unroca_filename(model)
    write_report(att, model)
    write_unroca(un, model)
    return model, att, un


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_unroca_and_att_agree_on_every_line(tmp_path, variant):
    model, att, un = _build(tmp_path, sample_records(), **VARIANTS[variant])
    unroca = read_unroca(un)
    expected = _by_flow(model)
    assert set(unroca) == set(expected)  # same tables and basis sections
    back = read_report(att)
    for (flow, basis), lines in expected.items():
        got = _rows(unroca[(flow, basis)])
        # the same multiset of lines as the model ...
        assert sorted(got, key=repr) == sorted(lines, key=repr), (variant, flow, basis)
        # ... and as the ATT workbook read back (category, partner, number, and the rest)
        att_lines = _rows(back.table(flow).lines(basis))
        assert sorted(got, key=repr) == sorted(att_lines, key=repr), (variant, flow, basis)
    assert sum(len(v) for v in unroca.values()) == len(model.all_lines())


def test_unroca_has_no_value_column_and_splits_salw(tmp_path):
    model, _, un = _build(tmp_path, sample_records())
    tpl = load_unroca_template()
    wb = load_workbook(un, read_only=True)
    salw = {c.code for c in load_categories() if c.group == "SALW"}
    for spec in tpl.tables:
        ws = wb[spec.sheet]
        values = [str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None]
        assert "Value" not in values
        header = tpl.headers(spec)
        assert header == [c.header if c.key != "partner" else spec.partner_header for c in tpl.columns]
        assert header[:3] == ["Category", spec.partner_header, "Number of items"]
    wb.close()
    view = unroca_view(model)
    for table in view.tables:
        for section in table.sections:
            codes = set(section.lines["category"])
            assert codes <= salw if table.spec.group == "SALW" else not (codes & salw)
    # the rifle exports are in the SALW table, the tank in I-VII
    exp_salw = next(t for t in view.tables if t.spec.key == "exports_salw")
    assert "VIII.SA.2" in set(exp_salw.sections[0].lines["category"])
    exp_heavy = next(t for t in view.tables if t.spec.key == "exports_i_vii")
    assert {"I", "IV.b"} <= set(exp_heavy.sections[0].lines["category"])


def test_every_att_category_is_mapped_to_the_same_group():
    tpl = load_unroca_template()
    mapped = tpl.by_att
    for cat in load_categories():
        assert cat.code in mapped, f"{cat.code} has no UNROCA mapping"
        assert mapped[cat.code].group == cat.group


def test_template_refuses_a_value_column(tmp_path):
    import tomllib

    from att_report.paths import templates_dir

    data = tomllib.loads((templates_dir() / "unroca_template.toml").read_text(encoding="utf-8"))
    data["columns"].append({"key": "value", "header": "Value"})
    with pytest.raises(UnrocaTemplateError, match="no Value column"):
        parse_unroca_template(data, tmp_path / "x.toml")
    data["columns"] = data["columns"][:-2]  # drops comments (and value)
    with pytest.raises(UnrocaTemplateError, match="missing: comments"):
        parse_unroca_template(data, tmp_path / "x.toml")


def test_deterministic_and_formula_text_stays_text(tmp_path):
    model = compile_report(sample_records(), make_config()).model
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_unroca(a, model)
    write_unroca(b, model)
    assert a.read_bytes() == b.read_bytes()
    wb = load_workbook(a)
    ws = wb["Exports I-VII"]
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=HYP")]
    assert cells and all(c.data_type == "s" for c in cells)


def test_nil_tables_and_empty_categories_show(tmp_path):
    records = make_records([rec(record_id="A", partner_state="DEU", category="VIII.SA.2", quantity=3)])
    model, _, un = _build(tmp_path, records)
    wb = load_workbook(un, read_only=True)
    imports = [str(v) for row in wb["Imports I-VII"].iter_rows(values_only=True) for v in row if v]
    assert any(v.startswith("NIL:") for v in imports)
    exports = [row[0] for row in wb["Exports I-VII"].iter_rows(values_only=True) if row and row[0]]
    assert "I Battle tanks" in exports and "VII b) Man-portable air-defence systems (MANPADS)" in exports
    salw = [str(v) for row in wb["Exports SALW"].iter_rows(values_only=True) for v in row if v]
    assert not any(v.startswith("NIL:") for v in salw)
    wb.close()


def test_value_only_table_says_numbers_are_missing(tmp_path):
    model = compile_report(sample_records(), make_config(exports={"measure": "value"})).model
    view = unroca_view(model)
    exp = [t for t in view.tables if t.spec.flow == "export"]
    imp = [t for t in view.tables if t.spec.flow == "import"]
    assert all(any("number of items" in n for n in t.notes) for t in exp)
    assert not any(t.notes for t in imp)
