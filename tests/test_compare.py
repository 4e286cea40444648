"""Year-on-year comparison: known differences flagged, none within the swing factor, basis change, CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from att_report.compare import CompareError, compare_years, find_previous_report
from att_report.compare.sections import comparison_section
from att_report.compile import compile_report
from att_report.records import make_records
from att_report.render.comparison_xlsx import write_comparison
from att_report.render.readback import read_report
from att_report.render.report_xlsx import write_report
from att_report.rules import RULES
from test_compile_fixtures import make_config, rec

WORKSPACE_TOML = """\
[report]
state = "NZL"
year = 2024
currency = "USD"

[[agencies]]
name = "Customs"
role = "customs"
files = ["inputs/customs/*.csv"]
date_order = "YMD"

[[agencies]]
name = "Licensing"
role = "licensing"
files = ["inputs/licensing/*.csv"]
date_order = "YMD"
"""
SHIPMENTS = """\
record_id,flow,basis,licence_no,date,partner_state,category,quantity,value,currency,description
C1,export,actual,L-1,2024-03-01,Germany,VIII.SA.2,100,91000,USD,Rifle
C2,export,actual,L-2,2024-04-01,Australia,II,3,2200000,USD,APC
C3,import,actual,L-3,2024-05-01,United States,VIII.SA.1,40,22000,USD,Pistol
"""
LICENCES = """\
record_id,flow,basis,licence_no,date,valid_until,partner_state,category,quantity,value,currency,description
L1,export,authorized,L-1,2024-01-10,2025-01-10,Germany,VIII.SA.2,100,91000,USD,Rifle
L2,export,authorized,L-2,2024-01-10,2025-01-10,Australia,II,3,2200000,USD,APC
L3,import,authorized,L-3,2024-01-10,2025-01-10,United States,VIII.SA.1,40,22000,USD,Pistol
"""


def make_workspace(root: Path) -> Path:
    """A tiny clean workspace (NZL 2024): exports DEU rifles 100, AUS ACVs 3; imports USA pistols 40."""
    (root / "inputs" / "customs").mkdir(parents=True)
    (root / "inputs" / "licensing").mkdir(parents=True)
    (root / "att-report.toml").write_text(WORKSPACE_TOML, encoding="utf-8")
    (root / "inputs" / "customs" / "decl.csv").write_text(SHIPMENTS, encoding="utf-8")
    (root / "inputs" / "licensing" / "lic.csv").write_text(LICENCES, encoding="utf-8")
    return root


def report_file(tmp: Path, name: str, rows: list[dict], **cfg) -> Path:
    """Compile fictional records and write them with att-report's renderer."""
    model = compile_report(make_records(rows), make_config(**cfg)).model
    path = tmp / name
    write_report(path, model)
    return path


def _model(rows: list[dict], **cfg):
    return compile_report(make_records(rows), make_config(**cfg)).model


PREV = [
    rec(record_id="P1", date="2023-05-01", partner_state="DEU", category="VIII.SA.2", quantity=30, value=3000.0),
    rec(record_id="P2", date="2023-05-01", partner_state="AUS", category="II", quantity=3, value=2_000_000.0),
    rec(record_id="P3", date="2023-05-01", partner_state="ITA", category="I", quantity=2, value=9_000_000.0),
    rec(record_id="P4", date="2023-05-01", partner_state="USA", category="VIII.SA.1", quantity=40, value=4000.0),
    rec(record_id="P5", date="2023-05-01", flow="import", partner_state="USA", category="VIII.SA.1", quantity=50,
        value=5000.0),
]
CUR = [
    rec(record_id="C1", partner_state="DEU", category="VIII.SA.2", quantity=100, value=9000.0),  # x3.3
    rec(record_id="C2", partner_state="AUS", category="II", quantity=3, value=2_000_000.0),  # unchanged
    rec(record_id="C3", partner_state="FRA", category="VIII.SA.4", quantity=150, value=1.0),  # new, large
    rec(record_id="C4", partner_state="CAN", category="VIII.SA.4", quantity=20, value=1.0),  # new, small
    rec(record_id="C5", partner_state="USA", category="VIII.SA.1", quantity=100, value=9000.0),  # x2.5
    rec(record_id="C6", flow="import", partner_state="USA", category="VIII.SA.1", quantity=45, value=4500.0),
]


@pytest.fixture()
def previous(tmp_path):
    return read_report(report_file(tmp_path, "ATT_annual_report_NZL_2023.xlsx", PREV, report={"year": 2023}))


def test_known_differences_are_flagged(previous):
    comparison = compare_years(_model(CUR), previous, make_config())
    rows = comparison.rows.set_index(["table", "category", "partner"])
    assert rows.loc[("exports", "VIII.SA.2", "DEU"), "flag"] == "large-swing"
    assert rows.loc[("exports", "VIII.SA.2", "DEU"), "previous_number"] == 30
    assert rows.loc[("exports", "VIII.SA.2", "DEU"), "number_change"] == 70
    assert rows.loc[("exports", "II", "AUS"), "status"] == "unchanged"
    assert rows.loc[("exports", "VIII.SA.4", "FRA"), ["status", "flag"]].tolist() == ["new partner",
                                                                                      "new-partner-large"]
    assert rows.loc[("exports", "VIII.SA.4", "CAN"), ["status", "flag"]].tolist() == ["new partner", ""]
    assert rows.loc[("exports", "I", "ITA"), "status"] == "vanished partner"
    assert rows.loc[("exports", "VIII.SA.1", "USA"), "flag"] == ""  # x2.5 is under the factor 3
    partners = comparison.partners.set_index(["table", "partner"])["status"].to_dict()
    assert partners == {("exports", "CAN"): "new", ("exports", "FRA"): "new", ("exports", "ITA"): "vanished"}
    found = comparison.findings
    assert sorted(zip(found["code"], found["related"])) == [("large-swing", "VIII.SA.2 DEU"),
                                                            ("new-partner-large", "")]
    assert "France" in found.loc[found["code"] == "new-partner-large", "message"].iloc[0]
    assert set(found.columns) == set(__import__("att_report.findings", fromlist=["LOG_FIELDS"]).LOG_FIELDS)
    assert not comparison.notes  # same basis, measure and currency


def test_swing_factor_boundary_and_config(previous):
    rows = [rec(record_id="C1", partner_state="DEU", category="VIII.SA.2", quantity=90, value=3000.0)]  # x3 exactly
    comparison = compare_years(_model(rows), previous, make_config())
    assert "large-swing" in set(comparison.findings["code"])
    # a larger factor configured: no flag
    cfg = make_config()
    import dataclasses

    cfg = dataclasses.replace(cfg, compare=dataclasses.replace(cfg.compare, swing_factor=4.0))
    assert "large-swing" not in set(compare_years(_model(rows), previous, cfg).findings["code"])
    # a decrease by x3 is flagged too
    down = [rec(record_id="C1", partner_state="DEU", category="VIII.SA.2", quantity=10, value=1000.0)]
    msg = compare_years(_model(down), previous, make_config()).findings["message"].iloc[0]
    assert "down x3.0" in msg


def test_same_report_twice_gives_no_finding(tmp_path):
    path = report_file(tmp_path, "ATT_annual_report_NZL_2023.xlsx", PREV, report={"year": 2023})
    cur = [dict(r, date=r["date"].replace("2023", "2024"), record_id="X" + r["record_id"]) for r in PREV]
    comparison = compare_years(_model(cur), read_report(path), make_config())
    assert comparison.findings.empty
    assert set(comparison.rows["status"]) == {"unchanged"}


def test_basis_change_is_a_finding_and_measure_change_a_note(tmp_path):
    auth = [dict(r, basis="authorized") for r in PREV]
    path = report_file(tmp_path, "prev.xlsx", auth, report={"year": 2023},
                       exports={"basis": "authorized", "measure": "number"})
    comparison = compare_years(_model(CUR), read_report(path), make_config())
    basis = comparison.findings[comparison.findings["code"] == "basis-changed"]
    assert basis["sheet"].tolist() == ["Exports"]  # imports stayed actual
    assert "from authorized (2023) to actual (2024)" in basis["message"].iloc[0]
    assert any("measure changed from number" in n for n in comparison.notes)
    exports = comparison.rows[comparison.rows["table"] == "exports"]
    assert set(exports["previous_basis"]) == {"authorized"} and set(exports["note"]) == {
        "bases differ: authorized -> actual"}
    # both sections this year: the actual one is compared with last year's actual, the other noted
    both = compare_years(_model(CUR, exports={"basis": "both"}), read_report(path), make_config())
    assert "basis-changed" in set(both.findings["code"])


def test_cannot_compare_other_state_or_same_year(tmp_path, previous):
    other = report_file(tmp_path, "deu.xlsx", PREV, report={"state": "DEU", "year": 2023})
    with pytest.raises(CompareError, match="not of New Zealand"):
        compare_years(_model(CUR), read_report(other), make_config())
    same = report_file(tmp_path, "same.xlsx", CUR)
    with pytest.raises(CompareError, match="earlier year"):
        compare_years(_model(CUR), read_report(same), make_config())


def test_find_previous_report_in_folder(tmp_path):
    folder = tmp_path / "out2023"
    folder.mkdir()
    report_file(folder, "ATT_annual_report_NZL_2023.xlsx", PREV, report={"year": 2023})
    (folder / "manifest.json").write_text(json.dumps({"outputs": [
        {"path": "ATT_annual_report_NZL_2023.xlsx", "sha256": ""}, {"path": "summary_2023.html"}]}))
    assert find_previous_report(folder, "NZL", 2024).name == "ATT_annual_report_NZL_2023.xlsx"
    with pytest.raises(CompareError, match="not found"):
        find_previous_report(tmp_path / "nope", "NZL", 2024)
    with pytest.raises(CompareError, match="No report workbook"):
        find_previous_report(tmp_path, "NZL", 2024)


def test_comparison_workbook_and_section(tmp_path, previous):
    comparison = compare_years(_model(CUR), previous, make_config())
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_comparison(a, comparison)
    write_comparison(b, comparison)
    assert a.read_bytes() == b.read_bytes()
    wb = load_workbook(a, read_only=True)
    assert wb.sheetnames == ["About", "Comparison", "New and vanished partners", "Findings"]
    header = next(wb["Comparison"].iter_rows(values_only=True))
    assert "Number 2023" in header and "Value 2024" in header and "Flag" in header
    assert len(list(wb["Comparison"].iter_rows())) == len(comparison.rows) + 1
    wb.close()
    section = comparison_section(comparison)
    assert "Year-on-year comparison 2023-2024" == section.title
    assert "large-swing" in section.html and "Italy" in section.html


def test_rules_are_registered_with_citations():
    for code in ("basis-changed", "large-swing", "new-partner-large"):
        r = RULES[code]
        assert r.stage == "compare" and "Enforces:" in r.doc


# --- CLI ---------------------------------------------------------------------------

def _cli(args: list[str]):
    from typer.testing import CliRunner

    import att_report.cli_compare  # noqa: F401  (registers compare and mirror)
    from att_report.cli import app

    return CliRunner().invoke(app, args)


def test_cli_compare_on_a_workspace(tmp_path):
    from make_reference_reports import write_all

    ws = make_workspace(tmp_path / "ws")
    ref = write_all(tmp_path / "reference")
    previous = next(p for p in ref if p.name == "ATT_annual_report_NZL_2023.xlsx")
    result = _cli(["compare", str(ws), "--previous", str(previous)])
    assert result.exit_code == 1, result.output  # planted: DEU rifles 80 -> 100 ok; AUS ACVs 12 -> 3 (x4)
    assert "large-swing" in result.output and "Traceback" not in result.output
    out = ws / "out"
    assert (out / "comparison_2024.xlsx").is_file() and (out / "ATT_annual_report_NZL_2024.xlsx").is_file()
    summary = (out / "summary_2024.html").read_text(encoding="utf-8")
    assert "Year-on-year comparison 2023-2024" in summary
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    shas = {o["path"]: o["sha256"] for o in manifest["outputs"]}
    for name in ("comparison_2024.xlsx", "summary_2024.html"):
        assert shas[name] == hashlib.sha256((out / name).read_bytes()).hexdigest()


def test_cli_compare_cannot_run_messages(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    result = _cli(["compare", str(ws), "--previous", str(tmp_path / "missing.xlsx")])
    assert result.exit_code == 2 and "not found" in result.output and "Traceback" not in result.output
    junk = tmp_path / "junk.xlsx"
    junk.write_text("not a workbook")
    result = _cli(["compare", str(ws), "--previous", str(junk)])
    assert result.exit_code == 2 and "could not be opened" in result.output
    assert not (ws / "out" / "comparison_2024.xlsx").exists()
