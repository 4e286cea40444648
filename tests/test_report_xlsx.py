"""The report workbook: sheets, layout per the template, safety, determinism."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from att_report.compile import compile_report
from att_report.compile.template import load_template
from att_report.records import make_records
from att_report.render import report_xlsx
from att_report.render.report_xlsx import write_report
from test_compile_fixtures import make_config, rec, sample_records

HEADERS_EXPORTS = ["Category", "Final importing State", "State of origin (if not exporter)",
                   "Intermediate location(s)", "Number of items", "Value", "Description of item",
                   "Comments on the transfer"]


def build(tmp_path, records=None, name="r.xlsx", draft=False, **cfg):
    cfg.setdefault("report", {"currency": "USD"})
    cfg.setdefault("rates", {"EUR": 1.08})
    model = compile_report(sample_records() if records is None else records, make_config(**cfg), draft=draft).model
    path = tmp_path / name
    write_report(path, model)
    return path, model


def rows_of(ws):
    return [tuple(c for c in row) for row in ws.iter_rows(values_only=True)]


def header_rows(ws, first="Category"):
    return [i for i, row in enumerate(rows_of(ws), start=1) if row[0] == first]


def test_sheets_named_exactly(tmp_path):
    path, _ = build(tmp_path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Cover", "Exports", "Imports", "National definitions", "Sources"]


def test_sources_sheet_can_be_switched_off(tmp_path):
    path, _ = build(tmp_path, report={"currency": "USD", "sources_sheet": False})
    assert "Sources" not in openpyxl.load_workbook(path).sheetnames


def test_table_layout_headers_categories_partners(tmp_path):
    path, model = build(tmp_path)
    wb = openpyxl.load_workbook(path)
    ws = wb["Exports"]
    rows = rows_of(ws)
    (h,) = header_rows(ws)
    assert list(rows[h - 1]) == HEADERS_EXPORTS
    assert list(rows_of(wb["Imports"])[header_rows(wb["Imports"])[0] - 1])[1] == "Exporting State"
    body = [r for r in rows[h:] if r[0]]
    tpl = load_template()
    # every category of the template shows, in template order (empty ones too)
    shown = list(dict.fromkeys(r[0] for r in body))
    assert shown == [c.display for c in tpl.categories]
    assert "VIII.SA.2 Rifles and carbines" in shown
    rifles = [r for r in body if r[0] == "VIII.SA.2 Rifles and carbines"]
    assert {r[1] for r in rifles} == {"Germany"}
    assert any(r[2] == "United States" for r in rifles)  # State of origin by name
    tanks = [r for r in body if r[0].startswith("I Battle tanks")]
    assert tanks[0][3] == "Belgium; Netherlands"
    assert tanks[0][4] == 3 and tanks[0][5] == 3_000_000
    assert ws.freeze_panes == f"A{h + 1}"
    # fit to one page wide (fitToWidth left out means its OOXML default, 1), any number of pages tall
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth in (None, 1)
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage


def test_formula_like_text_stays_text(tmp_path):
    path, _ = build(tmp_path)
    with zipfile.ZipFile(path) as z:
        sheet_xml = b"".join(z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert b"<f>" not in sheet_xml
    ws = openpyxl.load_workbook(path)["Exports"]
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=HYPER")]
    assert cells and all(c.data_type == "s" for c in cells)
    assert cells[0].value == '=HYPERLINK("http://x")'


def test_deterministic_bytes(tmp_path):
    a, model = build(tmp_path, name="a.xlsx")
    b = tmp_path / "b.xlsx"
    write_report(b, model)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


def test_nil_report_stated_and_ticked(tmp_path):
    records = make_records([rec(record_id="1", flow="import", partner_state="USA", category="I", quantity=1)])
    path, model = build(tmp_path, records=records)
    wb = openpyxl.load_workbook(path)
    text = [r[0] for r in rows_of(wb["Exports"]) if r[0]]
    assert any(t.startswith("NIL REPORT") and "no exports" in t for t in text)
    assert not any(t.startswith("NIL REPORT") for t in (r[0] for r in rows_of(wb["Imports"]) if r[0]))
    cover = {r[0]: r[1] for r in rows_of(wb["Cover"]) if r[0]}
    assert cover["Nil report: exports"] == "Yes" and cover["Nil report: imports"] == "No"
    assert cover["Exports report"] == "No" and cover["Imports report"] == "Yes"


def test_cover_fields_withheld_public_basis_draft(tmp_path):
    path, _ = build(tmp_path, draft=True, exports={"basis": "both", "definition": "Physical transfer"},
                    report={"currency": "USD", "public": True},
                    contact={"name": "Ms Officer", "email": "npc@example.org"})
    wb = openpyxl.load_workbook(path)
    rows = rows_of(wb["Cover"])
    cover = {r[0]: r[1] for r in rows if r[0]}
    assert cover["Reporting State"] == "New Zealand"
    assert cover["Calendar year covered"] == "2024"
    assert cover["Name"] == "Ms Officer" and cover["E-mail"] == "npc@example.org"
    assert cover["Commercially sensitive or national security information withheld (Article 13(3))"] == "Yes"
    assert cover["This report may be made public"] == "Yes"
    assert cover["Exports: basis (authorized / actual)"].startswith("authorized and actual")
    assert cover["National definition of an export"] == "Physical transfer"
    assert "DRAFT" in cover["Status"] and rows[1][0] == "DRAFT"
    assert cover["Date of submission"] is None  # left for the NPC to fill
    # two separated sections in the exports sheet
    assert len(header_rows(wb["Exports"])) == 2


def test_not_draft_says_final(tmp_path):
    path, _ = build(tmp_path)
    cover = {r[0]: r[1] for r in rows_of(openpyxl.load_workbook(path)["Cover"]) if r[0]}
    assert cover["Status"] == "Final"
    assert cover["Currency of values"] == "USD"
    assert "EUR" in cover["Currency conversion"]


def test_sources_sheet_lists_provenance(tmp_path):
    path, model = build(tmp_path)
    ws = openpyxl.load_workbook(path)["Sources"]
    rows = rows_of(ws)
    assert "NOT FOR SUBMISSION" in rows[0][0]
    body = rows[3:]
    assert any(r[1] == "Defence" and r[2] == "inputs/defence/d.xlsx" for r in body)  # merged twin
    assert all(r[0].startswith(("EXP-", "IMP-")) for r in body)


def test_huge_sources_go_to_a_csv_beside_the_workbook(tmp_path, monkeypatch):
    monkeypatch.setattr(report_xlsx, "SOURCES_MAX_ROWS", 2)
    path, model = build(tmp_path)
    csv = tmp_path / "r_sources.csv"
    assert csv.is_file()
    lines = csv.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Line,Agency,File,Sheet,Rows,Number of rows" and len(lines) == len(model.sources) + 1
    cell = openpyxl.load_workbook(path)["Sources"]["A3"]
    assert "r_sources.csv" in cell.value and cell.hyperlink.target == "r_sources.csv"


def test_template_is_data(tmp_path, monkeypatch):
    """Editing the template definition changes the workbook without code changes."""
    import shutil

    from att_report.paths import templates_dir

    custom = tmp_path / "templates"
    shutil.copytree(templates_dir(), custom)
    text = (custom / "att_report_template.toml").read_text(encoding="utf-8")
    text = text.replace('header = "Description of item"', 'header = "Description of item (model, type)"')
    text = text.replace('version = "att-annual-report/2025.1"', 'version = "test-revision"')
    (custom / "att_report_template.toml").write_text(text, encoding="utf-8")
    tpl = load_template(custom / "att_report_template.toml")
    model = compile_report(sample_records(), make_config(report={"currency": "USD"}, rates={"EUR": 1.0}),
                           template=tpl).model
    write_report(tmp_path / "t.xlsx", model)
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    ws = wb["Exports"]
    assert rows_of(ws)[header_rows(ws)[0] - 1][6] == "Description of item (model, type)"
    cover = {r[0]: r[1] for r in rows_of(wb["Cover"]) if r[0]}
    assert cover["Template version"] == "test-revision"


@pytest.mark.parametrize("bad", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "#REF!"])
def test_each_formula_prefix_is_text(tmp_path, bad):
    records = make_records([rec(record_id="1", partner_state="DEU", category="I", quantity=1, value=1.0,
                                description=bad, comments=bad)])
    path, _ = build(tmp_path, records=records)
    ws = openpyxl.load_workbook(path)["Exports"]
    cells = [c for row in ws.iter_rows() for c in row if c.value == bad]
    assert len(cells) == 2 and all(c.data_type == "s" for c in cells)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice not installed")
def test_opens_cleanly_in_libreoffice_and_prints(tmp_path):
    """Convert to PDF headless: the workbook opens and prints as a form (cover + tables)."""
    path, _ = build(tmp_path, exports={"basis": "both"})
    env = {**os.environ, "HOME": str(tmp_path)}  # a private LibreOffice profile
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
                   check=True, capture_output=True, timeout=240, env=env)
    pdf = tmp_path / "r.pdf"
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "Exports of conventional arms covered under Article 2(1)" in text
        assert "Final importing State" in text and "Exporting State" in text
        assert "VIII.SA.2 Rifles and carbines" in text and "Germany" in text


def test_per_transfer_lines_written_in_chunks_match_the_model(tmp_path, monkeypatch):
    """A per-transfer table (one line per record) written in small chunks: every line's cells,
    its category band, its number format and a taller row for wrapped text."""
    monkeypatch.setattr(report_xlsx, "CHUNK_LINES", 7)
    partners = ["DEU", "FRA", "AUS", "USA"]
    cats = ["I", "II", "VIII.SA.2", "III"]
    long_text = "Line one\nline two\nline three"
    records = make_records([
        rec(record_id=str(i), partner_state=partners[i % 4], category=cats[i % 3 if i % 5 else 3],
            quantity=None if i % 6 == 0 else i, value=float(i) * 1000.5 if i % 4 else None,
            description=("=HYPERLINK(1)" if i == 3 else long_text if i == 5 else f"item {i}"),
            comments="" if i % 2 else f"note {i}")
        for i in range(1, 41)
    ])
    path, model = build(tmp_path, records=records, exports={"aggregate": "per_transfer"})
    lines = model.exports.sections[0].lines
    assert len(lines) == 40
    ws = openpyxl.load_workbook(path)["Exports"]
    (h,) = header_rows(ws)
    tpl = load_template()
    display = tpl.category_display
    body = [row for row in ws.iter_rows(min_row=h + 1) if row[0].value]
    by_cat: dict[str, list] = {}
    for row in body:
        by_cat.setdefault(row[0].value, []).append(row)
    from att_report.normalise.countries import country_name

    written = [r for c in tpl.categories for r in by_cat.get(display[c.code], []) if r[1].value is not None]
    assert len(written) == 40
    for row, line in zip(written, lines.itertuples(index=False)):
        assert row[0].value == display[line.category]
        assert row[1].value == country_name(line.partner)
        assert row[4].value == (None if pd.isna(line.number) else int(line.number))
        assert row[5].value == (None if pd.isna(line.value) else line.value)
        assert row[6].value == line.description and row[6].data_type == "s"
        assert row[7].value == (line.comments or None)
        if row[5].value is not None:
            assert row[5].number_format == "#,##0"
        assert all(cell.border.left.style == "thin" for cell in row[:8])
        if line.description == long_text:
            assert ws.row_dimensions[row[0].row].height == pytest.approx(45, abs=1)
    # bands alternate per category (shown in template order, empty ones included)
    fills = [by_cat[display[c.code]][0][0].fill.fill_type for c in tpl.categories]
    assert fills[:4] == [None, "solid", None, "solid"]


def test_over_long_text_is_refused_not_cut(tmp_path):
    from att_report.render.xlsxio import CellTooLong

    records = make_records([rec(record_id="1", partner_state="DEU", category="I", quantity=1, value=1.0,
                                description="x" * 40_000)])
    with pytest.raises(CellTooLong):
        build(tmp_path, records=records)
